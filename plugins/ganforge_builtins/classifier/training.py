"""Training the small classifier on a dataset's training split, and measuring its accuracy."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ganforge.errors import GanforgeError
from ganforge.interfaces.dataset import Dataset, to_model_range
from ganforge.interfaces.reading import hold_in_memory
from ganforge_builtins.classifier.net import SmallClassifierNet


@dataclass
class TrainedClassifier:
    """A trained network with its test accuracy and training time."""

    network: SmallClassifierNet
    test_accuracy: float
    seconds: float

    def checkpoint(self, dataset_key: str) -> dict:
        """What is saved: plain tensors and numbers only, loadable with ``weights_only=True``."""
        state = {k: v.detach().cpu() for k, v in self.network.state_dict().items()}
        return {
            "state_dict": state,
            "config": dict(self.network.config),
            "dataset": dataset_key,
            "test_accuracy": self.test_accuracy,
        }


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}", markup=False),
        TimeRemainingColumn(), disable=not enabled, transient=False, console=Console(stderr=True),
    )  # fmt: skip


def accuracy(network: SmallClassifierNet, samples: torch.Tensor, labels: torch.Tensor, device: torch.device, batch_size: int = 1000) -> float:
    """Share of ``samples`` whose arg-max logit is their label."""
    network.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(samples), batch_size):
            x = to_model_range(samples[start : start + batch_size].to(device))
            y = labels[start : start + batch_size].to(device)
            correct += int((network(x).argmax(1) == y).sum())
    return correct / len(samples)


def train_classifier(
    dataset: Dataset,
    epochs: int = 2,
    batch_size: int = 128,
    lr: float = 2e-3,
    device: torch.device | str = "cpu",
    seed: int = 0,
    progress: bool = True,
) -> TrainedClassifier:
    """Train :class:`SmallClassifierNet` on ``dataset``'s train split (Adam, one-cycle learning
    rate, random horizontal shifts of up to 2 pixels) and measure it on the test split."""
    if dataset.num_classes < 2:
        raise GanforgeError(f"{type(dataset).__name__} has no class labels; the classifier extractor needs a labelled dataset")
    device = torch.device(device)
    train, test = hold_in_memory(dataset.load("train")), hold_in_memory(dataset.load("test"))
    if train.labels is None or test.labels is None:
        raise GanforgeError(f"{type(dataset).__name__} has no labels; the classifier extractor needs a labelled dataset")
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    network = SmallClassifierNet(train.samples.shape[1], dataset.num_classes).to(device)
    steps_per_epoch = (len(train) + batch_size - 1) // batch_size
    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    started = time.perf_counter()
    with _progress(progress) as bar:
        task = bar.add_task(f"training classifier on {type(dataset).__name__}", total=epochs * steps_per_epoch, status="")
        for epoch in range(epochs):
            network.train()
            order = torch.randperm(len(train), generator=rng)
            for step, start in enumerate(range(0, len(train), batch_size)):
                index = order[start : start + batch_size]
                x = to_model_range(train.samples[index].to(device))
                shift = int(torch.randint(-2, 3, (1,), generator=rng))
                x = torch.roll(x, shifts=shift, dims=3)
                loss = F.cross_entropy(network(x), train.labels[index].to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                if step % 20 == 0:
                    bar.update(task, status=f"epoch {epoch + 1}/{epochs} loss {loss.item():.3f}")
                bar.advance(task)
        test_accuracy = accuracy(network, test.samples, test.labels, device)
        bar.update(task, status=f"test accuracy {test_accuracy:.4f}")
    return TrainedClassifier(network.eval(), test_accuracy, time.perf_counter() - started)

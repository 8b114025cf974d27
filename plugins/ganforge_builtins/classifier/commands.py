"""``ganforge train-classifier``: train the domain classifier the classifier extractor uses."""

from __future__ import annotations

from pathlib import Path

import click
import torch

from ganforge.artifacts.outputs import overwrite_option, refuse_to_replace
from ganforge.cache import dataset_key
from ganforge.files import atomic_write


@click.command("train-classifier")
@click.argument("dataset")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Weights file to write.")
@click.option("--epochs", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@overwrite_option
def train_classifier_command(dataset: str, out: Path, epochs: int, batch_size: int, seed: int, device: str, overwrite: bool) -> None:
    """Train the small domain classifier on DATASET and save it for `{name: classifier, weights: FILE}`.

    \b
    Example:
      ganforge train-classifier fashion-mnist --out fmnist-clf.pt
    """
    from ganforge.artifacts.features import build_dataset
    from ganforge.experiment import pick_device
    from ganforge_builtins.classifier.training import train_classifier

    refuse_to_replace([out], overwrite)
    data = build_dataset(dataset)
    trained = train_classifier(data, epochs=epochs, batch_size=batch_size, device=pick_device(device), seed=seed)
    atomic_write(out, lambda f: torch.save(trained.checkpoint(dataset_key(data, "train")), f))
    click.echo(f"wrote {out}: test accuracy {trained.test_accuracy:.4f} after {epochs} epochs in {trained.seconds:.0f} s")

"""A test plugin for the "use a trained GAN" tests: a tiny class-conditional generator, a
discriminator that takes labels, a labelled dataset with real-looking class names, and a
metric, so these tests depend on no model zoo."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ganforge import Discriminator, EvalContext, Generator, Metric, hookimpl
from ganforge.plugins import Plugins, set_plugins
from ganforge_builtins.data.synthetic import SyntheticImages

from .conftest import invoke

CLASS_NAMES = ("T-shirt/top", "Sneaker", "Bag")

CONDITIONAL_SPEC = """\
seed: 0
device: cpu
generator: {name: use-tiny-cond, latent_dim: 6}
discriminator: {name: use-tiny-disc}
loss: {name: lsgan}
data: {name: use-named, size: 48, batch_size: 12}
train: {steps: 4, log_every: 2, ema: 0.9}
metrics: [{name: use-brightness, every: 2}]
logging: {plots: false}
"""


class TinyConditionalGenerator(Generator):
    """A linear class-conditional generator for tests."""

    def __init__(self, image_shape: tuple[int, int, int], latent_dim: int = 6, num_classes: int = 3) -> None:
        """image_shape from the dataset; latent_dim: size of z; num_classes: labels it takes."""
        super().__init__()
        self.latent_dim, self.image_shape, self.num_classes = latent_dim, tuple(image_shape), num_classes
        self.embedding = nn.Embedding(num_classes, 4)
        self.net = nn.Sequential(nn.Linear(latent_dim + 4, int(torch.tensor(image_shape).prod())), nn.Tanh())

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        assert labels is not None, "conditional generator called without labels"
        return self.net(torch.cat([z, self.embedding(labels)], dim=1)).view(-1, *self.image_shape)


class TinyDiscriminator(Discriminator):
    """A linear discriminator that accepts (and uses) labels, for tests."""

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int = 3) -> None:
        """image_shape from the dataset; num_classes: labels it takes."""
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Linear(int(torch.tensor(image_shape).prod()), num_classes)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        scores = self.net(images.flatten(1))
        return scores.gather(1, labels.view(-1, 1)).flatten() if labels is not None else scores.mean(1)


class NamedSynthetic(SyntheticImages):
    """Synthetic 28x28 images in three classes named like Fashion-MNIST's."""

    def __init__(self, size: int = 48) -> None:
        """size: number of images."""
        super().__init__(image_size=28, channels=1, size=size, num_classes=len(CLASS_NAMES))
        self.class_names = CLASS_NAMES


class Brightness(Metric):
    """Mean pixel value of 32 samples (a test metric; higher is better)."""

    higher_is_better = True

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        images = torch.cat([x for x, _ in context.generated(32)])
        return {"use-brightness": images.mean().item()}


class UsePlugin:
    __name__ = "use-test-plugin"

    @hookimpl
    def register_generators(self, register):
        register("use-tiny-cond", TinyConditionalGenerator)

    @hookimpl
    def register_discriminators(self, register):
        register("use-tiny-disc", TinyDiscriminator)

    @hookimpl
    def register_datasets(self, register):
        register("use-named", NamedSynthetic)

    @hookimpl
    def register_metrics(self, register):
        register("use-brightness", Brightness)


def install(plugins: Plugins) -> Plugins:
    """Register the test plugin in ``plugins`` (a fresh manager per test, see conftest)."""
    plugins.register(UsePlugin(), "use-test-plugin")
    return plugins


def train_conditional(root: Path, *overrides: str) -> Path:
    """Train the tiny conditional model for a few steps into ``root/cond``; returns the run."""
    set_plugins(install(Plugins.create()))
    (root / "cond.yaml").write_text(CONDITIONAL_SPEC)
    args = [f"--set={o}" for o in overrides]
    result = invoke("run", str(root / "cond.yaml"), "--out", str(root / "cond"), "--quiet", *args)
    assert result.exit_code == 0, result.output
    return root / "cond"


def train_unconditional(root: Path) -> Path:
    """Train the builtin tiny DCGAN (with EMA) for 2 steps into ``root/plain``."""
    from .conftest import TINY_SPEC

    set_plugins(Plugins.create())
    (root / "tiny.yaml").write_text(TINY_SPEC)
    result = invoke("run", str(root / "tiny.yaml"), "--out", str(root / "plain"), "--quiet", "--set", "train.steps=2")
    assert result.exit_code == 0, result.output
    return root / "plain"


"""The conformance kit catches what it promises to catch, and names the component, its
plugin and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from ganforge import Batch, Dataset, DataSplit, FeatureExtractor, Loss, Metric, hookimpl
from ganforge.plugins import Plugins
from ganforge.testing import (
    ConformanceError,
    RandomFeatures,
    Setup,
    TinyDiscriminator,
    TinyGenerator,
    TinyImages,
    check_component,
    check_dataset,
    check_discriminator,
    check_extractor,
    check_generator,
    check_loss,
    check_metric,
    check_plugin,
)
from ganforge.testing.failures import ComponentUnavailable


def problems(excinfo: pytest.ExceptionInfo[ConformanceError]) -> dict[str, str]:
    return dict(excinfo.value.problems)


class NaiveBCE(Loss):
    """BCE through log(sigmoid): infinite once the discriminator saturates."""

    def discriminator_loss(self, batch: Batch) -> Tensor:
        return -(torch.log(torch.sigmoid(batch.real_scores)) + torch.log(1 - torch.sigmoid(batch.fake_scores))).mean()

    def generator_loss(self, batch: Batch) -> Tensor:
        return -torch.log(torch.sigmoid(batch.fake_scores)).mean()


class RegeneratingLoss(Loss):
    """Scores freshly generated samples in the discriminator phase, so G gets gradients."""

    def discriminator_loss(self, batch: Batch) -> Tensor:
        return batch.score(batch.generator(batch.latent, batch.labels)).scores.mean() - batch.real_scores.mean()


class PerSampleLoss(Loss):
    """Forgets to reduce."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def generator_loss(self, batch: Batch) -> Tensor:
        return -batch.fake_scores * self.scale


def test_a_good_loss_passes() -> None:
    from ganforge_builtins.losses.lsgan import LeastSquaresLoss

    check_loss(LeastSquaresLoss)
    check_loss(LeastSquaresLoss, a=-1.0, b=1.0, c=0.0, setup=Setup(num_classes=3, image_shape=(3, 4, 4)))


def test_loss_that_overflows_on_extreme_scores() -> None:
    with pytest.raises(ConformanceError) as excinfo:
        check_loss(NaiveBCE)
    assert "extreme scores" in problems(excinfo)
    assert "real scores +1000 and fake scores -1000" in problems(excinfo)["extreme scores"]
    assert "inf" in problems(excinfo)["extreme scores"]


def test_loss_whose_gradient_reaches_the_wrong_network() -> None:
    with pytest.raises(ConformanceError) as excinfo:
        check_loss(RegeneratingLoss)
    assert "gradient reaches the generator's parameters" in problems(excinfo)["discriminator phase"]
    assert "RegeneratingLoss" in str(excinfo.value)


def test_loss_that_is_not_scalar_and_undocumented() -> None:
    with pytest.raises(ConformanceError) as excinfo:
        check_loss(PerSampleLoss)
    found = problems(excinfo)
    assert "expected a scalar" in found["generator phase"]
    assert "not mentioned in the docstring" in found["parameter 'scale'"]


class LoudGenerator(TinyGenerator):
    """Forgets tanh and ignores its labels.

    Args:
        image_shape: shape of one sample.
        latent_dim: size of the latent vector.
        num_classes: number of classes.
    """

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return (self.linear(z) * 10).view(z.shape[0], *self.image_shape)


class UnseededGenerator(TinyGenerator):
    """Adds noise from outside the seeded latent: not reproducible.

    Args:
        image_shape: shape of one sample.
        latent_dim: size of the latent vector.
        num_classes: number of classes.
    """

    def __init__(self, image_shape: tuple[int, ...] = (1, 8, 8), latent_dim: int = 8, num_classes: int | None = None) -> None:
        super().__init__(image_shape, latent_dim, num_classes)
        self.register_buffer("noise", torch.randn(1))
        self.unused = nn.Linear(2, 2)


def test_generator_range_and_labels() -> None:
    with pytest.raises(ConformanceError) as excinfo:
        check_generator(LoudGenerator, num_classes=3)
    found = problems(excinfo)
    assert "must lie in [-1, 1]" in found["output"]
    assert "labels are ignored" in found["labels"]
    assert "embedding.weight" in found["gradients"]


def test_generator_state_and_unused_parameters() -> None:
    with pytest.raises(ConformanceError) as excinfo:
        check_generator(UnseededGenerator, setup=Setup(image_shape=(1, 4, 4)))
    found = problems(excinfo)
    assert "unused.weight" in found["gradients"]
    check_generator(TinyGenerator, num_classes=3)


class ScoresWithoutInput(TinyDiscriminator):
    """Scores from a constant: no gradient reaches the images.

    Args:
        image_shape: shape of one sample.
        hidden: hidden units.
        num_classes: number of classes.
    """

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        h = self.hidden(torch.zeros_like(images).flatten(1))
        return self.out(h).view(-1, 1)


def test_discriminator_shape_and_input_gradient() -> None:
    with pytest.raises(ConformanceError) as excinfo:
        check_discriminator(ScoresWithoutInput)
    assert "expected (4,)" in problems(excinfo)["output"]
    check_discriminator(TinyDiscriminator, num_classes=2)


class ForgetsItsPack(TinyDiscriminator):
    """Takes a pack size it never sets: a spec would be checked against packs the network does not make.

    Args:
        image_shape: shape of one sample.
        pack: samples per score.
    """

    def __init__(self, image_shape: tuple[int, ...] = (1, 8, 8), pack: int = 2) -> None:
        super().__init__(image_shape)


class ConditionalByClass(TinyGenerator):
    """Says it is conditional in its class, and is not.

    Args:
        image_shape: shape of one sample.
    """

    num_classes = 10

    def __init__(self, image_shape: tuple[int, ...] = (1, 8, 8)) -> None:
        super().__init__(image_shape)
        self.num_classes = None


def test_networks_keep_what_a_spec_is_checked_against_before_building() -> None:
    with pytest.raises(ConformanceError) as excinfo:
        check_discriminator(ForgetsItsPack)
    assert "its pack is 1, but a spec is checked against 2 before anything is built" in problems(excinfo)["interface"]
    with pytest.raises(ConformanceError) as excinfo:
        check_generator(ConditionalByClass)
    assert "its num_classes is None, but a spec is checked against 10 before anything is built" in problems(excinfo)["interface"]


class FloatLabels(Dataset):
    """Float labels and samples outside [-1, 1].

    Args:
        size: samples per split.
    """

    def __init__(self, size: int = 8) -> None:
        self.image_shape = (1, 4, 4)
        self.class_names = ("a", "b")
        self.size = size

    def load(self, split: str = "train") -> DataSplit:
        return DataSplit(torch.rand(self.size, 1, 4, 4) * 3, torch.zeros(self.size))


def test_dataset_problems() -> None:
    with pytest.raises(ConformanceError) as excinfo:
        check_dataset(FloatLabels)
    assert "must lie in [-1, 1]" in problems(excinfo)["load"]
    check_dataset(TinyImages, image_shape=(3, 8, 8), size=8)


class TensorMetric(Metric):
    """Returns a tensor and a non-finite value."""

    def evaluate(self, context):
        return {"score": torch.tensor(1.0)}


class PickyMetric(Metric):
    """Measures conditional generators only; its check returns a bool by mistake."""

    @classmethod
    def check(cls, subject):
        return bool(subject.num_classes) or "needs a conditional generator"

    def evaluate(self, context):
        return {"score": 1.0}


def test_metric_problems() -> None:
    with pytest.raises(ConformanceError) as excinfo:
        check_metric(TensorMetric)
    assert "return plain Python floats" in problems(excinfo)["evaluate"]
    with pytest.raises(ConformanceError) as excinfo:
        check_metric(PickyMetric)
    assert isinstance(excinfo.value, ComponentUnavailable)  # the metric's own word: skipped, not failed
    assert "cannot measure the kit's generator: needs a conditional generator; pass setup=Setup(...)" in problems(excinfo)["check"]
    with pytest.raises(ConformanceError) as excinfo:
        check_metric(PickyMetric, setup=Setup(num_classes=4))
    assert "check must return None or a reason (a non-empty str), got True" in problems(excinfo)["check"]


class TrainingModeExtractor(FeatureExtractor):
    """Batch norm left in training mode: features depend on the batch.

    Args:
        dim: feature size.
    """

    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.feature_dim = dim
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(dim), nn.BatchNorm1d(dim))

    def prepare(self, dataset, device):
        return self.to(device)

    def features(self, images: Tensor) -> Tensor:
        return self.net(images)


def test_extractor_problems() -> None:
    with pytest.raises(ConformanceError) as excinfo:
        check_extractor(TrainingModeExtractor)
    assert "depend on how the images are batched" in problems(excinfo)["deterministic"]
    check_extractor(RandomFeatures)


def test_required_parameters_are_asked_for() -> None:
    class NeedsRoot(TinyImages):
        """Needs a root.

        Args:
            root: where the data is.
        """

        def __init__(self, root: str) -> None:
            super().__init__()

    with pytest.raises(ConformanceError, match=r"needs 'root'; pass them: check_dataset\(NeedsRoot, root=...\)"):
        check_dataset(NeedsRoot)


class BadLossPlugin:
    __name__ = "bad-loss-plugin"

    @hookimpl
    def register_losses(self, register):
        register("naive-bce", NaiveBCE)


def test_failures_name_the_plugin(plugins: Plugins) -> None:
    plugins.register(BadLossPlugin(), "bad-loss-plugin")
    with pytest.raises(ConformanceError) as excinfo:
        check_component("loss", "naive-bce")
    assert str(excinfo.value).startswith("loss 'naive-bce' (plugin 'bad-loss-plugin', tests.test_plugkit_conformance.NaiveBCE) fails")
    with pytest.raises(ConformanceError, match="loss 'naive-bce' .plugin 'bad-loss-plugin'"):
        check_plugin("bad-loss-plugin")
    with pytest.raises(ConformanceError, match="(?s)plugin 'nope'.*is not loaded"):
        check_plugin("nope")
    check_plugin("boundary-seeking")  # an installed plugin whose components all pass


def test_check_plugin_reports_load_failures(plugins: Plugins, tmp_path: Path) -> None:
    class Clash:
        __name__ = "clash"

        @hookimpl
        def register_losses(self, register):
            register("lsgan", NaiveBCE)

    plugins.register(Clash(), "clash")
    with pytest.raises(ConformanceError, match=r"plugin 'clash' fails .*\n  - load: loss 'lsgan' is registered by both plugin 'losses' and plugin 'clash'"):
        check_plugin("clash")


class PairedUpscaler(TinyGenerator):
    """Reads a dataset input ``lr`` and adds its mean to the tiny generator's samples.

    Args:
        image_shape: sample shape.
        shaped: whether it declares the shape of ``lr`` in ``input_shapes``.
    """

    inputs = ("lr",)

    def __init__(self, image_shape: tuple[int, ...] = (1, 8, 8), shaped: bool = True) -> None:
        super().__init__(image_shape)
        if shaped:
            self.input_shapes = {"lr": (1, 4, 4)}

    def forward(self, z: Tensor, labels: Tensor | None = None, lr: Tensor | None = None) -> Tensor:
        assert lr is not None and lr.shape[1:] == (1, 4, 4) and float(lr.abs().max()) <= 1
        return torch.tanh(super().forward(z, labels) + lr.mean())


def test_generators_get_their_named_inputs_of_the_declared_shape() -> None:
    check_generator(PairedUpscaler)
    with pytest.raises(ConformanceError) as excinfo:
        check_generator(PairedUpscaler, shaped=False)
    assert "input_shapes gives no shape" in problems(excinfo)["interface"]


class LeCam(Loss):
    """LeCam regularisation: discriminator scores pulled toward moving averages of the other side's.

    Args:
        weight: the regulariser's weight.
        decay: the moving averages' decay.
    """

    def __init__(self, weight: float = 0.3, decay: float = 0.9) -> None:
        self.weight, self.decay = weight, decay
        self.ema_real = torch.zeros(())
        self.ema_fake = torch.zeros(())

    def discriminator_loss(self, batch: Batch) -> Tensor:
        real, fake = batch.real_scores, batch.fake_scores
        self.ema_real = self.ema_real.lerp(real.detach().mean(), 1 - self.decay)
        self.ema_fake = self.ema_fake.lerp(fake.detach().mean(), 1 - self.decay)
        return self.weight * ((real - self.ema_fake).square().mean() + (fake - self.ema_real).square().mean())


class LeCamThatSaves(LeCam):
    """LeCam regularisation that checkpoints its moving averages.

    Args:
        weight: the regulariser's weight.
        decay: the moving averages' decay.
    """

    def state_dict(self) -> dict[str, Tensor]:
        return {"ema_real": self.ema_real.clone(), "ema_fake": self.ema_fake.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.ema_real, self.ema_fake = state["ema_real"].clone(), state["ema_fake"].clone()


def test_loss_whose_state_does_not_survive_a_checkpoint() -> None:
    with pytest.raises(ConformanceError) as excinfo:
        check_loss(LeCam)
    found = problems(excinfo)["state survives a checkpoint"]
    assert "'ema_real'" in found and "state_dict()" in found
    check_loss(LeCamThatSaves)


class UnsaveableState(LeCamThatSaves):
    """Returns its state as a Python object a checkpoint refuses.

    Args:
        weight: the regulariser's weight.
        decay: the moving averages' decay.
    """

    def state_dict(self) -> dict[str, Tensor]:
        return {"averages": Path(".")}  # type: ignore[dict-item]


def test_loss_whose_state_a_checkpoint_cannot_hold() -> None:
    with pytest.raises(ConformanceError) as excinfo:
        check_loss(UnsaveableState)
    assert "cannot go through a checkpoint" in problems(excinfo)["state survives a checkpoint"]

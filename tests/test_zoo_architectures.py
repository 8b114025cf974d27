"""Zoo architectures: output shapes at every supported size and channel count, conditional and not."""

from __future__ import annotations

import itertools
import math
import re

import pytest
import torch
from torch import nn

from ganforge import Batch, DiscriminatorOutput
from ganforge.interfaces import as_output
from ganforge.plugins import Plugins
from ganforge.spec import build_component
from ganforge.spec.resolve import SpecErrors
from ganforge_builtins.networks import dcgan, infogan, resnet
from ganforge_builtins.networks.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge_builtins.networks.infogan import InfoGANDiscriminator, InfoGANGenerator
from ganforge_builtins.networks.mlp import MLPDiscriminator, MLPGenerator
from ganforge_builtins.networks.resnet import ResNetDiscriminator, ResNetGenerator

N = 3
CLASSES = 5

# name -> (generator factory, discriminator factory, sizes, conditional?) with tiny widths
ARCHITECTURES = {
    "mlp": (
        lambda shape, k: MLPGenerator(shape, latent_dim=8, hidden=(16, 16), num_classes=k),
        lambda shape, k: MLPDiscriminator(shape, hidden=(16,), num_classes=k),
        (28, 32, 64),
        True,
    ),
    "dcgan": (
        lambda shape, k: DCGANGenerator(shape, latent_dim=8, width=4, num_classes=k, embed_dim=3),
        lambda shape, k: DCGANDiscriminator(shape, width=4, num_classes=k, dropout=0.2),
        dcgan.SUPPORTED_SIZES,
        True,
    ),
    "resnet": (
        lambda shape, k: ResNetGenerator(shape, latent_dim=8, width=8, num_classes=k),
        lambda shape, k: ResNetDiscriminator(shape, width=8, num_classes=k),
        tuple(resnet.PLANS),
        True,
    ),
    "infogan": (
        lambda shape, k: InfoGANGenerator(shape, noise_dim=4, categorical=(3, 2), continuous=2, width=4),
        lambda shape, k: InfoGANDiscriminator(shape, categorical=(3, 2), continuous=2, width=4),
        infogan.SUPPORTED_SIZES,
        False,
    ),
}

CASES = [
    pytest.param(name, size, channels, k, id=f"{name}-{size}px-{channels}ch-{'cond' if k else 'uncond'}")
    for name, (_, _, sizes, conditional) in ARCHITECTURES.items()
    for size, channels, k in itertools.product(sizes, (1, 3), (None, CLASSES) if conditional else (None,))
]


@pytest.mark.parametrize("name, size, channels, num_classes", CASES)
def test_generator_and_discriminator_shapes(name, size, channels, num_classes):
    make_g, make_d, _, _ = ARCHITECTURES[name]
    torch.manual_seed(0)
    shape = (channels, size, size)
    generator, discriminator = make_g(shape, num_classes), make_d(shape, num_classes)
    assert generator.num_classes == num_classes and discriminator.num_classes == num_classes
    z = generator.sample_latent(N)
    assert z.shape == (N, generator.latent_dim)
    labels = torch.arange(N) % CLASSES if num_classes else None
    samples = generator(z, labels)
    assert samples.shape == (N, *shape)
    assert samples.min() >= -1 and samples.max() <= 1
    output = as_output(discriminator(samples, labels))
    assert output.scores.shape == (N,)
    assert torch.isfinite(output.scores).all()


@pytest.mark.parametrize("shape", [(2,), (1, 28, 28)])
def test_mlp_handles_points_and_images(shape):
    generator, discriminator = MLPGenerator(shape, latent_dim=4, hidden=(8,)), MLPDiscriminator(shape, hidden=(8,))
    samples = generator(generator.sample_latent(5))
    assert samples.shape == (5, *shape)
    assert discriminator(samples).shape == (5,)


def test_mlp_generator_output_choice():
    torch.manual_seed(0)
    tanh, linear = MLPGenerator((2,), latent_dim=4, hidden=(8,)), MLPGenerator((2,), latent_dim=4, hidden=(8,), output="linear")
    assert isinstance(tanh.net[-1], nn.Tanh) and isinstance(linear.net[-1], nn.Linear)
    with torch.no_grad():
        linear.net[-1].bias.fill_(5.0)
    assert linear(linear.sample_latent(4)).min() > 1, "a linear output is not bounded to [-1, 1]"


def test_mlp_defaults_are_the_classic_mnist_gan():
    generator, discriminator = MLPGenerator((1, 28, 28)), MLPDiscriminator((1, 28, 28))
    assert [m.out_features for m in generator.modules() if isinstance(m, nn.Linear)] == [256, 512, 1024, 784]
    assert [m.out_features for m in discriminator.modules() if isinstance(m, nn.Linear)] == [512, 256, 1]
    assert [m.p for m in discriminator.modules() if isinstance(m, nn.Dropout)] == [0.3, 0.3]


@pytest.mark.parametrize("name", [n for n, spec in ARCHITECTURES.items() if spec[3]])
def test_conditional_networks_use_and_require_labels(name):
    make_g, make_d, sizes, _ = ARCHITECTURES[name]
    torch.manual_seed(0)
    shape = (1, sizes[0], sizes[0])
    generator, discriminator = make_g(shape, CLASSES).eval(), make_d(shape, CLASSES).eval()
    for module in [*generator.modules(), *discriminator.modules()]:
        if isinstance(module, nn.Embedding):  # conditional batch norm starts as the identity for every class
            nn.init.normal_(module.weight)
    z = generator.sample_latent(1).repeat(CLASSES, 1)
    samples = generator(z, torch.arange(CLASSES))
    assert not torch.allclose(samples[0], samples[1]), "same z, different class: the samples must differ"
    scores = discriminator(samples[:1].repeat(CLASSES, 1, 1, 1), torch.arange(CLASSES))
    assert scores.unique().numel() > 1, "same image, different class: the scores must differ"
    with pytest.raises(ValueError, match="conditional"):
        generator(z)
    with pytest.raises(ValueError, match="conditional"):
        discriminator(samples)


def test_dcgan_keeps_its_original_constructor():
    generator, discriminator = DCGANGenerator((1, 28, 28)), DCGANDiscriminator((1, 28, 28))
    assert generator.latent_dim == 100 and generator.num_classes is None and discriminator.num_classes is None
    assert generator(torch.randn(2, 100)).shape == (2, 1, 28, 28)
    assert not any(isinstance(m, nn.Dropout) for m in discriminator.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules())


@pytest.mark.parametrize("norm, layer", [("layer", nn.GroupNorm), ("none", None)])
def test_dcgan_discriminator_without_batch_norm(norm, layer):
    discriminator = DCGANDiscriminator((3, 32, 32), width=4, norm=norm)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules())
    assert layer is None or any(isinstance(m, layer) for m in discriminator.modules())
    # Without batch norm each score depends on its own image only (what per-sample penalties assume).
    images = torch.randn(4, 3, 32, 32)
    assert torch.allclose(discriminator(images)[:2], discriminator(images[:2]), atol=1e-6)


@pytest.mark.parametrize(
    "factory",
    [
        lambda: DCGANGenerator((1, 30, 30)),
        lambda: ResNetGenerator((3, 48, 48)),
        lambda: InfoGANGenerator((1, 64, 64)),
        lambda: InfoGANGenerator((1, 28, 28), categorical=(), continuous=0),
        lambda: MLPGenerator((2,), hidden=()),
    ],
)
def test_unsupported_configurations_are_refused(factory):
    with pytest.raises(ValueError):
        factory()


@pytest.mark.parametrize(
    ("kind", "fragment", "shape", "message"),
    [
        ("discriminator", {"name": "dcgan", "dropout": 1.0}, (1, 28, 28), "expected float in [0, 1), got"),
        ("discriminator", {"name": "dcgan", "norm": "instance"}, (1, 28, 28), "expected 'batch' | 'layer' | 'none'"),
        ("generator", {"name": "infogan", "categorical": [1]}, (1, 28, 28), ">= 2"),
        ("discriminator", {"name": "mlp", "dropout": -0.1}, (2,), "expected float in [0, 1), got"),
        ("generator", {"name": "mlp", "output": "relu"}, (2,), "expected 'tanh' | 'linear'"),
        ("generator", {"name": "dcgan", "num_classes": 10, "conditioning": "film"}, (1, 28, 28), "expected 'concat' | 'batch-norm' | 'concat+batch-norm'"),
    ],
)
def test_values_outside_their_hints_are_refused_before_building(plugins: Plugins, kind, fragment, shape, message):
    with pytest.raises(SpecErrors, match=re.escape(message)):
        build_component(plugins.registry, kind, fragment, image_shape=shape)


def test_resnet_discriminator_is_spectrally_normalised():
    torch.manual_seed(0)
    discriminator = ResNetDiscriminator((3, 32, 32), width=8)
    for _ in range(30):  # power iteration runs one step per training-mode forward
        discriminator(torch.randn(2, 3, 32, 32))
    discriminator.eval()
    convolution = discriminator.blocks[1].conv1
    sigma = torch.linalg.matrix_norm(convolution.weight.flatten(1), ord=2).item()
    assert sigma == pytest.approx(1.0, abs=0.05)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules())


# ---- InfoGAN codes and mutual-information term ------------------------------------------------


def test_infogan_latent_layout():
    generator = InfoGANGenerator((1, 28, 28), noise_dim=4, categorical=(3, 2), continuous=2, width=4)
    z = generator.sample_latent(500, generator=torch.Generator().manual_seed(0))
    assert z.shape == (500, 4 + 3 + 2 + 2) and generator.latent_dim == 11
    for block in generator.layout.categorical_codes(z):
        assert torch.equal(block.sum(1), torch.ones(500)) and set(block.unique().tolist()) == {0.0, 1.0}
        assert (block.sum(0) > 50).all(), "every value of a categorical code is drawn"
    codes = generator.layout.continuous_codes(z)
    assert codes.shape == (500, 2) and codes.min() >= -1 and codes.max() <= 1 and codes.std() > 0.4


def test_mutual_information_formula():
    layout = infogan.CodeLayout(noise_dim=1, categorical=(3,), continuous=1)
    term = infogan.MutualInformation(layout, categorical_weight=2.0, continuous_weight=0.5)
    latent = torch.tensor([[0.3, 0.0, 1.0, 0.0, 0.5], [-1.2, 0.0, 0.0, 1.0, -0.25]])
    logits = torch.tensor([[0.0, 1.0, -1.0], [2.0, 0.0, 0.5]])
    mean, log_var = torch.tensor([[0.0], [0.25]]), torch.tensor([[0.0], [math.log(4.0)]])
    output = DiscriminatorOutput(torch.zeros(2), {"q_logits": logits, "q_mean": mean, "q_log_var": log_var})
    batch = Batch(phase="generator", real=latent, fake=latent, latent=latent, discriminator=lambda x, y=None: output, generator=nn.Identity())

    def log_softmax(row, i):
        return row[i] - math.log(sum(math.exp(v) for v in row))

    cross_entropy = -(log_softmax([0.0, 1.0, -1.0], 1) + log_softmax([2.0, 0.0, 0.5], 2)) / 2
    nll = (0.5 * (math.log(2 * math.pi) + 0.0 + 0.5**2) + 0.5 * (math.log(2 * math.pi) + math.log(4.0) + 0.5**2 / 4)) / 2
    expected = 2.0 * cross_entropy + 0.5 * nll
    assert term.generator_loss(batch).item() == pytest.approx(expected, rel=1e-5)
    assert term.discriminator_loss(batch).item() == pytest.approx(expected, rel=1e-5)


def test_mutual_information_trains_q_in_d_phase_and_generator_in_g_phase():
    torch.manual_seed(0)
    shape = (1, 28, 28)
    generator = InfoGANGenerator(shape, noise_dim=4, categorical=(3,), continuous=1, width=4)
    discriminator = InfoGANDiscriminator(shape, categorical=(3,), continuous=1, width=4)
    (term,) = generator.loss_terms()
    z, real = generator.sample_latent(4), torch.rand(4, *shape) * 2 - 1
    with torch.no_grad():
        fake = generator(z)
    term.discriminator_loss(Batch(phase="discriminator", real=real, fake=fake, latent=z, discriminator=discriminator, generator=generator)).backward()
    assert all(p.grad is None for p in generator.parameters())
    assert all(p.grad is not None for p in discriminator.q_head.parameters())
    assert discriminator.trunk[0].weight.grad.abs().sum() > 0, "the Q head shares (and trains) the trunk"
    assert discriminator.score.weight.grad is None
    discriminator.zero_grad(set_to_none=True)
    discriminator.requires_grad_(False)
    term.generator_loss(Batch(phase="generator", real=real, fake=generator(z), latent=z, discriminator=discriminator, generator=generator)).backward()
    assert generator.fc[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in discriminator.parameters())


def test_mutual_information_needs_matching_networks():
    shape = (1, 28, 28)
    generator = InfoGANGenerator(shape, noise_dim=4, categorical=(3,), continuous=1, width=4)
    z = generator.sample_latent(2)
    for discriminator in (
        InfoGANDiscriminator(shape, categorical=(4,), continuous=1, width=4),
        DCGANDiscriminator(shape, width=4),
    ):
        batch = Batch(phase="generator", real=z, fake=generator(z), latent=z, discriminator=discriminator, generator=generator)
        with pytest.raises(Exception, match="infogan"):
            generator.loss_terms()[0].generator_loss(batch)


def test_architectures_are_registered_through_entry_points():
    registry = Plugins.create().registry
    expected = {
        "mlp": (MLPGenerator, MLPDiscriminator),
        "dcgan": (DCGANGenerator, DCGANDiscriminator),
        "resnet": (ResNetGenerator, ResNetDiscriminator),
        "infogan": (InfoGANGenerator, InfoGANDiscriminator),
    }
    for name, (generator, discriminator) in expected.items():
        assert registry.get("generator", name).factory is generator
        assert registry.get("discriminator", name).factory is discriminator


def test_dcgan_projection_discriminator_adds_the_label_projection() -> None:
    from ganforge_builtins.networks.dcgan import DCGANDiscriminator

    torch.manual_seed(0)
    d = DCGANDiscriminator((1, 28, 28), width=8, num_classes=10, conditioning="projection").eval()
    assert d.embedding is None and d.projection is not None  # no label channel
    images, labels = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    # starts as the unconditional score: an N(0, 1) embedding summed over 7x7 gave logits in the hundreds
    assert torch.equal(d(images, labels), d.net(images).flatten())
    torch.nn.init.normal_(d.projection.weight, 0.0, 0.02)
    hidden = d.net[:-1](images)
    by_hand = d.net[-1](hidden).flatten() + (d.projection.weight[labels] * hidden.sum(dim=(2, 3))).sum(1)
    assert torch.allclose(d(images, labels), by_hand)
    assert not torch.allclose(d(images, labels), d(images, torch.tensor([4, 5, 6, 7])))
    plain = DCGANDiscriminator((1, 28, 28), width=8, num_classes=10)
    assert set(plain.state_dict()) - set(d.state_dict()) == {"embedding.weight"}  # the channel form's keys are unchanged
    from ganforge.testing import Setup, check_discriminator

    check_discriminator(DCGANDiscriminator, setup=Setup(image_shape=(1, 28, 28)), width=8, num_classes=10, conditioning="projection")


def test_dcgan_conditional_batch_norm_generator_chooses_scale_and_shift_by_label() -> None:
    from ganforge_builtins.networks.conditioning import ConditionalBatchNorm
    from ganforge_builtins.networks.dcgan import DCGANGenerator

    torch.manual_seed(0)
    g = DCGANGenerator((1, 28, 28), latent_dim=8, width=8, num_classes=10, conditioning="batch-norm").eval()
    assert g.embedding is None and g.net[0].in_channels == 8  # z alone at the input
    norms = [m for m in g.net if isinstance(m, ConditionalBatchNorm)]
    assert len(norms) == 2
    for i, norm in enumerate(norms):  # a distinct scale and shift for class 3
        with torch.no_grad():
            norm.scale.weight[3] += 0.5 * (i + 1)
            norm.shift.weight[3] -= 0.25
    z = torch.randn(2, 8)
    same = g(z, torch.tensor([1, 1]))
    assert torch.equal(g(z, torch.tensor([1, 2])), same)  # classes still at their initial (1, 0)
    assert not torch.allclose(g(z, torch.tensor([3, 3])), same)
    by_hand = g.net[0](z[:, :, None, None])
    by_hand = norms[0].norm(by_hand) * norms[0].scale.weight[3][None, :, None, None] + norms[0].shift.weight[3][None, :, None, None]
    for layer in list(g.net)[2:]:
        by_hand = layer(by_hand, torch.tensor([3, 3])) if isinstance(layer, ConditionalBatchNorm) else layer(by_hand)
    assert torch.allclose(g(z, torch.tensor([3, 3])), by_hand)
    plain = DCGANGenerator((1, 28, 28), latent_dim=8, width=8)
    assert [type(m) for m in plain.net] == [type(m) if not isinstance(m, ConditionalBatchNorm) else torch.nn.BatchNorm2d for m in g.net]
    from ganforge.testing import Setup, check_generator

    check_generator(DCGANGenerator, setup=Setup(image_shape=(1, 28, 28)), width=8, num_classes=10, conditioning="batch-norm")


def test_dcgan_generator_conditions_both_at_the_input_and_in_batch_norm() -> None:
    from ganforge_builtins.networks.conditioning import ConditionalBatchNorm
    from ganforge_builtins.networks.dcgan import DCGANGenerator

    torch.manual_seed(0)
    g = DCGANGenerator((1, 28, 28), latent_dim=8, width=8, num_classes=10, embed_dim=5, conditioning="concat+batch-norm").eval()
    assert g.embedding is not None and g.net[0].in_channels == 8 + 5
    norms = [m for m in g.net if isinstance(m, ConditionalBatchNorm)]
    assert len(norms) == 2
    z, labels = torch.randn(2, 8), torch.tensor([3, 3])
    with torch.no_grad():
        norms[1].shift.weight[3] += 1.0
    x = torch.cat([z, g.embedding(labels)], dim=1)[:, :, None, None]
    for layer in g.net:
        x = layer(x, labels) if isinstance(layer, ConditionalBatchNorm) else layer(x)
    assert torch.allclose(g(z, labels), x)
    with torch.no_grad():  # the label reaches the output through the input embedding alone too
        norms[1].shift.weight[3] -= 1.0
        g.embedding.weight[4] = g.embedding.weight[3] + 1.0
    assert not torch.allclose(g(z, torch.tensor([4, 4])), g(z, labels))
    from ganforge.testing import Setup, check_generator

    check_generator(DCGANGenerator, setup=Setup(image_shape=(1, 28, 28)), width=8, num_classes=10, conditioning="concat+batch-norm")

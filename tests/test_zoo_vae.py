"""VAE and VAE-GAN: the KL and ELBO against hand computations, the reparameterised sample's
statistics, training with no discriminator, the feature-space loss of VAE-GAN at its hooked
layer, the ELBO metric, and `ganforge reconstruct`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from ganforge import Batch, EvalContext
from ganforge.errors import GanforgeError
from ganforge.interfaces import GeneratorOutput, to_model_range
from ganforge.testing import TinyDiscriminator, TinyGenerator, TinyImages
from ganforge_builtins.vae.model import ELBOLoss, ELBOMetric, VAEGANLoss, VAEGenerator, kl_to_standard_normal, kl_weight

from .conftest import invoke

SHAPE = (1, 8, 8)


def tiny_vae(**params: object) -> VAEGenerator:
    torch.manual_seed(0)
    defaults: dict[str, object] = {"arch": "mlp", "latent_dim": 3, "hidden": (5,)}
    return VAEGenerator(SHAPE, **{**defaults, **params})  # type: ignore[arg-type]


def real_batch(n: int = 6, seed: int = 1) -> Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def generator_batch(generator: VAEGenerator, real: Tensor, step: int = 0, discriminator: TinyDiscriminator | None = None, seed: int = 2) -> Batch:
    torch.manual_seed(seed)
    latent = generator.sample_latent(real.shape[0])
    out = generator(latent, None, real=real)
    assert isinstance(out, GeneratorOutput)
    return Batch(
        phase="generator", real=real, fake=out.samples, latent=latent, fake_extras=out.extras, step=step,
        discriminator=discriminator, generator=generator, discriminator_module=discriminator,
    )  # fmt: skip


# ---- KL and ELBO ---------------------------------------------------------------------------------


def test_kl_matches_the_closed_form() -> None:
    mean = torch.tensor([[1.0, 0.0], [0.0, -2.0]])
    log_var = torch.tensor([[0.0, math.log(4.0)], [math.log(0.25), 0.0]])
    # ½ Σ (μ² + σ² − 1 − log σ²), written out per entry
    expected = [0.5 * (1 + 1 - 1 - 0) + 0.5 * (0 + 4 - 1 - math.log(4)), 0.5 * (0 + 0.25 - 1 - math.log(0.25)) + 0.5 * (4 + 1 - 1 - 0)]
    assert kl_to_standard_normal(mean, log_var).tolist() == pytest.approx(expected, rel=1e-6)
    reference = torch.distributions.kl_divergence(torch.distributions.Normal(mean, (0.5 * log_var).exp()), torch.distributions.Normal(0.0, 1.0)).sum(1)
    assert torch.allclose(kl_to_standard_normal(mean, log_var), reference, atol=1e-6)
    assert kl_to_standard_normal(torch.zeros(1, 5), torch.zeros(1, 5)).item() == 0.0


def hand_forward(generator: VAEGenerator, real: Tensor, eps: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The tiny MLP VAE's forward, from its weights: mean, log-variance and decoder logits."""
    enc, post, dec_hidden, dec_out = generator.encoder[1], generator.posterior, generator.decoder[0], generator.decoder[2]
    h = F.leaky_relu(real.flatten(1) @ enc.weight.T + enc.bias, 0.2)
    stats = h @ post.weight.T + post.bias
    mean, log_var = stats[:, :3], stats[:, 3:]
    z = mean + (0.5 * log_var).exp() * eps
    logits = F.leaky_relu(z @ dec_hidden.weight.T + dec_hidden.bias, 0.2) @ dec_out.weight.T + dec_out.bias
    return mean, log_var, logits


def test_elbo_equals_a_hand_computation_on_a_tiny_network() -> None:
    generator, real = tiny_vae(), real_batch()
    batch = generator_batch(generator, real, step=30)
    torch.manual_seed(2)
    generator.sample_latent(real.shape[0])
    eps = torch.randn(real.shape[0], 3)  # the draw the forward made after the latents
    mean, log_var, logits = hand_forward(generator, real, eps)
    p, x = torch.sigmoid(logits), ((real + 1) / 2).flatten(1)
    bce = -(x * p.log() + (1 - x) * (1 - p).log()).sum(1)
    kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(1)

    loss = ELBOLoss(beta=2.0, warmup=60)
    value = loss.generator_loss(batch)
    # step 30 of a 60-step warm-up: the KL weight is half of beta
    assert value.item() == pytest.approx((bce + 1.0 * kl).mean().item(), rel=1e-5)
    assert batch.logged["reconstruction"].item() == pytest.approx(bce.mean().item(), rel=1e-5)
    assert batch.logged["kl"].item() == pytest.approx(kl.mean().item(), rel=1e-5)
    assert torch.allclose(batch.fake, torch.tanh(logits.view_as(real) / 2), atol=1e-6)  # samples = 2·sigmoid(logits) − 1

    sigma = 0.2
    mse = ELBOLoss(reconstruction="mse", sigma=sigma).generator_loss(generator_batch(generator, real))
    gaussian = 0.5 * ((x - p) / sigma).pow(2).sum(1) + x.shape[1] * math.log(sigma * math.sqrt(2 * math.pi))
    assert mse.item() == pytest.approx((gaussian + kl).mean().item(), rel=1e-5)


def test_kl_warmup_ramps_linearly_to_beta() -> None:
    assert [kl_weight(0.5, 4, step) for step in (0, 1, 2, 4, 100)] == [0.0, 0.125, 0.25, 0.5, 0.5]
    assert kl_weight(0.5, 0, 0) == 0.5


def test_elbo_without_an_encoder_is_one_line() -> None:
    generator = TinyGenerator(SHAPE)
    batch = Batch(phase="generator", real=real_batch(), fake=generator(torch.randn(6, 8)), latent=torch.randn(6, 8), discriminator=None, generator=generator)
    with pytest.raises(GanforgeError, match="needs a generator with an encoder"):
        ELBOLoss().generator_loss(batch)


def test_reparameterised_sample_has_the_encoders_mean_and_variance() -> None:
    generator = tiny_vae()
    n = 40000
    real = real_batch(1).expand(n, *SHAPE)
    seen: list[Tensor] = []
    generator.decoder.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    torch.manual_seed(5)
    with torch.no_grad():
        out = generator(generator.sample_latent(n), None, real=real)
    assert isinstance(out, GeneratorOutput)
    z, mean, var = seen[0], out.extras["mean"][0], out.extras["log_var"][0].exp()
    assert torch.allclose(z.mean(0), mean, atol=4 * (var / n).sqrt().max().item())
    assert torch.allclose(z.var(0), var, rtol=0.05)
    # without `real` the decoder draws from the given latents: no encoder, no noise
    latent = torch.randn(4, 3)
    with torch.no_grad():
        assert torch.equal(generator(latent), generator(latent))
        assert torch.allclose(generator(latent), torch.tanh(generator.decode_logits(latent) / 2))


def test_the_conv_vae_and_decode_prior() -> None:
    torch.manual_seed(0)
    generator = VAEGenerator((1, 28, 28), arch="conv", latent_dim=4, width=4, decode_prior=True)
    latent = torch.randn(3, 4)
    out = generator(latent, None, real=torch.zeros(3, 1, 28, 28))
    assert isinstance(out, GeneratorOutput) and out.samples.shape == (3, 1, 28, 28)
    assert set(out.extras) == {"mean", "log_var", "logits", "prior"}
    assert torch.allclose(out.extras["prior"], generator(latent))  # prior samples decode the trainer's latents
    with pytest.raises(ValueError, match="divisible by 4"):
        VAEGenerator((1, 30, 30), arch="conv")


# ---- VAE-GAN -------------------------------------------------------------------------------------


def test_vae_gan_feature_loss_reads_the_hooked_layer() -> None:
    generator, real = tiny_vae(decode_prior=True), real_batch()
    torch.manual_seed(0)
    discriminator = TinyDiscriminator(SHAPE, hidden=7)
    batch = generator_batch(generator, real, step=10, discriminator=discriminator)
    loss = VAEGANLoss(layer="hidden", gamma=0.3, beta=2.0, warmup=20)
    value = loss.generator_loss(batch)

    def hidden(images: Tensor) -> Tensor:  # the hooked layer, by hand: a linear map of the pixels
        return images.flatten(1) @ discriminator.hidden.weight.T + discriminator.hidden.bias

    prior = batch.fake_extras["prior"]
    with torch.no_grad():
        llike = 0.5 * (hidden(batch.fake) - hidden(real)).pow(2).sum(1)
        kl = kl_to_standard_normal(batch.fake_extras["mean"], batch.fake_extras["log_var"])
        adversarial = F.softplus(-discriminator(batch.fake)) + F.softplus(-discriminator(prior))
    assert value.item() == pytest.approx((1.0 * kl + 0.3 * llike + adversarial).mean().item(), rel=1e-5)  # KL weight 2 · 10/20
    assert batch.logged["reconstruction"].item() == pytest.approx(llike.mean().item(), rel=1e-5)
    assert batch.logged["adversarial"].item() == pytest.approx(adversarial.mean().item(), rel=1e-5)
    # another layer, another reconstruction: the output layer's one score per image
    other = VAEGANLoss(layer="out", gamma=0.3, beta=2.0, warmup=20)
    other_batch = generator_batch(generator, real, step=10, discriminator=discriminator)
    other.generator_loss(other_batch)
    with torch.no_grad():
        scores = 0.5 * (discriminator(other_batch.fake) - discriminator(real)).pow(2)
    assert other_batch.logged["reconstruction"].item() == pytest.approx(scores.mean().item(), rel=1e-5)
    # the hook is gone afterwards
    assert not discriminator.hidden._forward_hooks


def test_vae_gan_discriminator_sees_reals_reconstructions_and_prior_samples() -> None:
    generator, real = tiny_vae(decode_prior=True), real_batch()
    torch.manual_seed(0)
    discriminator = TinyDiscriminator(SHAPE)
    trained = generator_batch(generator, real, discriminator=discriminator)
    batch = Batch(
        phase="discriminator", real=real, fake=trained.fake.detach(), latent=trained.latent, discriminator=discriminator, generator=generator,
        fake_extras={k: v.detach() for k, v in trained.fake_extras.items()}, discriminator_module=discriminator,
    )  # fmt: skip
    value = VAEGANLoss(layer="hidden").discriminator_loss(batch)
    with torch.no_grad():
        expected = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(batch.fake)).mean() + F.softplus(discriminator(batch.fake_extras["prior"])).mean()
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)


def test_vae_gan_errors_name_the_fix() -> None:
    real = real_batch()
    discriminator = TinyDiscriminator(SHAPE)
    batch = generator_batch(tiny_vae(decode_prior=True), real, discriminator=discriminator)
    with pytest.raises(GanforgeError, match="no layer 'hiden'.*hidden"):
        VAEGANLoss(layer="hiden").generator_loss(batch)
    no_prior = generator_batch(tiny_vae(), real, discriminator=discriminator)
    with pytest.raises(GanforgeError, match="decode_prior: true"):
        VAEGANLoss(layer="hidden").generator_loss(no_prior)


# ---- the metric ----------------------------------------------------------------------------------


def test_elbo_metric_is_the_mean_negative_elbo_of_the_test_split() -> None:
    generator = tiny_vae().eval()
    dataset = TinyImages(SHAPE, size=20)
    context = EvalContext(generator, dataset, torch.device("cpu"), seed=3, batch_size=50)
    values = ELBOMetric(samples=12).evaluate(context)
    real = to_model_range(dataset.load("test").samples[:12])
    torch.manual_seed(3)
    with torch.no_grad():
        batch = generator_batch(generator, real, step=0, seed=3)
        expected = ELBOLoss().generator_loss(batch).item()
    assert values["elbo"] == pytest.approx(expected, rel=1e-5)
    assert values["elbo"] == pytest.approx(values["elbo/reconstruction"] + values["elbo/kl"])
    assert ELBOMetric(samples=12).evaluate(context) == values  # seeded apart from the training stream
    assert ELBOMetric(samples=5).evaluate(context)["elbo"] != values["elbo"]


def test_elbo_metric_without_an_encoder_is_one_line() -> None:
    context = EvalContext(TinyGenerator(SHAPE), TinyImages(SHAPE), torch.device("cpu"))
    with pytest.raises(GanforgeError, match="metric 'elbo' needs a generator with an encoder"):
        ELBOMetric().evaluate(context)


# ---- training and the CLI -----------------------------------------------------------------------

VAE_SPEC = """\
seed: 0
device: cpu
generator: {name: vae, arch: conv, latent_dim: 4, width: 8}
discriminator: null
loss: {name: elbo}
data: {name: synthetic, image_size: 8, size: 256, batch_size: 32}
optimizers:
  generator: {name: Adam, lr: 3.0e-3}
train: {steps: 60, log_every: 10, samples: 4}
metrics:
  - {name: elbo, every: 60, samples: 64}
"""


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture
def vae_run(tmp_path: Path) -> Path:
    spec = tmp_path / "vae.yaml"
    spec.write_text(VAE_SPEC)
    result = invoke("run", str(spec), "--out", str(tmp_path / "vae"))
    assert result.exit_code == 0, result.output
    return tmp_path / "vae"


def test_vae_trains_without_a_discriminator_and_its_reconstruction_falls(vae_run: Path) -> None:
    from ganforge.checkpoint import load_checkpoint

    logged = records(vae_run)
    losses = [r for r in logged if "loss/g/elbo/reconstruction" in r]
    assert len(losses) == 6 and not any(key.startswith("loss/d") for r in logged for key in r)
    assert losses[-1]["loss/g/elbo/reconstruction"] < 0.8 * losses[0]["loss/g/elbo/reconstruction"]
    assert all(r["loss/g"] == pytest.approx(r["loss/g/elbo/reconstruction"] + r["loss/g/elbo/kl"], rel=1e-4) for r in losses)
    evaluated = [r for r in logged if "elbo" in r]
    assert len(evaluated) == 1 and evaluated[0]["elbo"] > 0
    state = load_checkpoint(vae_run / "checkpoints/last.pt")
    assert state["discriminator"] is None and set(state["optimizers"]) == {"generator"}


def test_the_loss_plot_of_a_run_without_a_discriminator_has_one_panel(vae_run: Path) -> None:
    pytest.importorskip("matplotlib")
    result = invoke("plot", str(vae_run))
    assert result.exit_code == 0, result.output
    with Image.open(vae_run / "plots" / "losses.png") as image:
        assert image.size == (500, 400)  # the generator's panel only (a GAN run's is 1000 wide)


def test_reconstruct_writes_images_beside_their_reconstructions(vae_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "recon.png"
    result = invoke("reconstruct", str(vae_run), "--n", "5", "--out", str(out))
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        width, height = image.size
    # 5 pairs on one row of 10 images of 8x8 pixels (torchvision's grid: 2 px padding)
    assert (width, height) == (10 * 8 + 11 * 2, 8 + 2 * 2)
    again = tmp_path / "again.png"
    invoke("reconstruct", str(vae_run), "--n", "5", "--out", str(again))
    assert out.read_bytes() == again.read_bytes()  # seeded
    refused = invoke("reconstruct", str(vae_run), "--n", "2", "--out", str(out))
    assert refused.exit_code == 2 and refused.stderr.strip() == f"Error: {out} exists; pass --overwrite to replace it, or choose another --out"
    assert out.read_bytes() == again.read_bytes()
    assert invoke("reconstruct", str(vae_run), "--n", "2", "--out", str(out), "--overwrite").exit_code == 0
    assert out.read_bytes() != again.read_bytes()
    not_png = invoke("reconstruct", str(vae_run), "--out", str(tmp_path / "recon.jpg"))
    assert not_png.exit_code == 2 and "give a file name ending in .png" in not_png.stderr


def test_reconstruct_refuses_a_generator_without_an_encoder(tiny_spec: Path, tmp_path: Path) -> None:
    assert invoke("run", str(tiny_spec), "--out", str(tmp_path / "gan")).exit_code == 0
    result = invoke("reconstruct", str(tmp_path / "gan"), "--out", str(tmp_path / "recon.png"))
    assert result.exit_code == 2
    assert "has no encoder" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "recon.png").exists()


class EncoderIgnored(VAEGenerator):
    """A VAE whose training forward forgets its encoder (the kit must notice).

    Args:
        image_shape: from the dataset.
    """

    def __init__(self, image_shape: tuple[int, int, int] = SHAPE) -> None:
        super().__init__(image_shape, arch="mlp", latent_dim=2, hidden=(4,))

    def forward(self, z: Tensor, labels: Tensor | None = None, real: Tensor | None = None) -> Tensor:
        return torch.tanh(self.decode_logits(z) / 2)


def test_the_kit_checks_the_encoder_of_a_generator_that_reads_real() -> None:
    from ganforge.testing import ConformanceError, check_generator

    check_generator(VAEGenerator, image_shape=SHAPE, arch="mlp", latent_dim=2, hidden=(4,))
    with pytest.raises(ConformanceError, match="no gradient from the output: encoder"):
        check_generator(EncoderIgnored)

"""Variational autoencoder (Kingma & Welling, 2014) as a generator, its ELBO loss and metric,
and the VAE-GAN loss (Larsen et al., 2016) that measures reconstructions in the
discriminator's feature space."""

from __future__ import annotations

import math
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge import Batch, DiscriminatorOutput, EvalContext, Generator, GeneratorOutput, Loss, Metric, MetricSubject, hookimpl
from ganforge.errors import GanforgeError, did_you_mean
from ganforge.interfaces.networks import as_generated
from ganforge.types import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt

Reconstruction = Literal["bce", "mse"]


# ---- the network --------------------------------------------------------------------------------
class VAEGenerator(Generator):
    """Variational autoencoder: Gaussian encoder q(z|x), reparameterised sample, decoder p(x|z).

    In training (``real`` given) it encodes the real batch to a mean and log-variance, draws
    z = mean + exp(log_var / 2) · ε with ε from torch's global generator (so runs are
    reproducible and resumable), and decodes it: the samples are the reconstructions, and
    ``extras`` hold ``mean``, ``log_var`` and the decoder's Bernoulli ``logits`` (pixels in
    [0, 1] are sigmoid(logits); samples in [-1, 1] are tanh(logits / 2), the same mean).
    Without ``real`` (sample pictures, ``ganforge sample``, metrics) it decodes the given
    z ~ N(0, I): the decoder is the generator.

    Args:
        image_shape: (channels, height, width) from the dataset; ``conv`` needs height and
            width divisible by 4.
        arch: ``conv`` (two stride-2 convolutions each way) or ``mlp`` (fully connected).
        latent_dim: size of the latent z.
        width: ``conv``: channels of the first convolution (doubled in the second).
        hidden: ``mlp``: hidden layer sizes of the encoder (the decoder mirrors them).
        decode_prior: in training, also decode the trainer's prior latents and return them as
            ``extras["prior"]``: VAE-GAN's discriminator scores prior samples too.
    """

    inputs = ("real",)

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        arch: Literal["mlp", "conv"] = "conv",
        latent_dim: PositiveInt = 32,
        width: PositiveInt = 32,
        hidden: tuple[PositiveInt, ...] = (512, 256),
        decode_prior: bool = False,
    ) -> None:
        super().__init__()
        if not hidden:  # the sizes' range is their hint's
            raise ValueError("hidden must be a non-empty list of layer sizes")
        self.image_shape = tuple(image_shape)
        self.latent_dim = latent_dim
        self.decode_prior = decode_prior
        size = math.prod(self.image_shape)
        if arch == "mlp":
            sizes = [size, *hidden]
            self.encoder: nn.Module = nn.Sequential(nn.Flatten(), *_linear_stack(sizes))
            self.decoder: nn.Module = nn.Sequential(*_linear_stack([latent_dim, *reversed(hidden)]), nn.Linear(hidden[0], size))
            features = hidden[-1]
        else:
            if len(self.image_shape) != 3 or self.image_shape[1] % 4 or self.image_shape[2] % 4:
                raise ValueError(f"the conv VAE needs image_shape (channels, height, width) with height and width divisible by 4, got {self.image_shape}")
            channels, height, width_px = self.image_shape
            grid = (2 * width, height // 4, width_px // 4)
            features = math.prod(grid)
            self.encoder = nn.Sequential(
                nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
                nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),
                nn.Flatten(),
            )  # fmt: skip
            self.decoder = nn.Sequential(
                nn.Linear(latent_dim, features), nn.ReLU(), nn.Unflatten(1, grid),
                nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),
                nn.ConvTranspose2d(width, channels, 4, 2, 1),
            )  # fmt: skip
        self.posterior = nn.Linear(features, 2 * latent_dim)

    def encode(self, real: Tensor) -> tuple[Tensor, Tensor]:
        """The mean and log-variance of q(z | real), each ``(N, latent_dim)``."""
        mean, log_var = self.posterior(self.encoder(real)).chunk(2, dim=1)
        return mean, log_var

    def decode_logits(self, z: Tensor) -> Tensor:
        """The decoder's Bernoulli logits, shaped like images."""
        logits: Tensor = self.decoder(z)
        return logits.view(z.shape[0], *self.image_shape)

    def forward(self, z: Tensor, labels: Tensor | None = None, real: Tensor | None = None) -> Tensor | GeneratorOutput:
        if real is None:
            return torch.tanh(self.decode_logits(z) / 2)
        mean, log_var = self.encode(real)
        sample = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        logits = self.decode_logits(sample)
        extras = {"mean": mean, "log_var": log_var, "logits": logits}
        if self.decode_prior:
            extras["prior"] = torch.tanh(self.decode_logits(z) / 2)
        return GeneratorOutput(torch.tanh(logits / 2), extras)


def _linear_stack(sizes: list[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.LeakyReLU(0.2)]
    return layers


# ---- the pieces of the ELBO ---------------------------------------------------------------------
def kl_to_standard_normal(mean: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mean, exp(log_var)) ‖ N(0, I)) per sample, in nats: ½ Σ (μ² + σ² − 1 − log σ²)."""
    return 0.5 * (mean.float().pow(2) + log_var.float().exp() - 1 - log_var.float()).flatten(1).sum(1)


def reconstruction_nats(kind: str, real: Tensor, samples: Tensor, extras: dict[str, Tensor], sigma: float) -> Tensor:
    """−log p(x | z) per sample in nats, for pixels mapped to [0, 1].

    ``bce``: Bernoulli likelihood from the decoder's ``logits`` (numerically stable);
    ``mse``: Gaussian with standard deviation ``sigma`` around the samples, constant included.
    """
    target = ((real.float() + 1) / 2).clamp(0, 1)
    if kind == "bce":
        if "logits" not in extras:
            raise GanforgeError("reconstruction 'bce' needs the decoder's logits (extras['logits']); use reconstruction: mse with this generator")
        return F.binary_cross_entropy_with_logits(extras["logits"].float(), target, reduction="none").flatten(1).sum(1)
    mean = (samples.float() + 1) / 2
    squared = (target - mean).pow(2).flatten(1)
    return 0.5 * squared.sum(1) / sigma**2 + squared.shape[1] * math.log(sigma * math.sqrt(2 * math.pi))


def posterior(extras: dict[str, Tensor], who: str) -> tuple[Tensor, Tensor]:
    """The encoder's mean and log-variance from a generator's extras, or a one-line error."""
    if "mean" not in extras or "log_var" not in extras:
        raise GanforgeError(f"{who} needs a generator with an encoder that returns extras 'mean' and 'log_var' (e.g. generator: {{name: vae}})")
    return extras["mean"], extras["log_var"]


def kl_weight(beta: float, warmup: int, step: int) -> float:
    """``beta``, ramped linearly from 0 over the first ``warmup`` steps (KL warm-up)."""
    return beta * min(1.0, step / warmup) if warmup > 0 else beta


class ELBOLoss(Loss):
    """Negative ELBO of a VAE: reconstruction −log p(x|z) plus β · KL(q(z|x) ‖ N(0, I)), nats per image.

    Summed over pixels and latent dimensions, averaged over the batch; the reconstruction and
    KL parts are logged as ``loss/g/elbo/reconstruction`` and ``loss/g/elbo/kl``. Generator
    side only (a VAE needs no discriminator: ``discriminator: null``).

    Args:
        reconstruction: ``bce`` (Bernoulli on [0, 1] pixels, from the decoder's logits) or
            ``mse`` (Gaussian with standard deviation ``sigma`` on [0, 1] pixels).
        beta: weight of the KL term (β-VAE; 1 is the ELBO).
        warmup: generator steps over which the KL weight rises linearly from 0 to ``beta``
            (0: no warm-up).
        sigma: the Gaussian's standard deviation for ``mse``.
    """

    def __init__(self, reconstruction: Reconstruction = "bce", beta: NonNegativeFloat = 1.0, warmup: NonNegativeInt = 0, sigma: PositiveFloat = 0.1) -> None:
        self.reconstruction, self.beta, self.warmup, self.sigma = reconstruction, beta, warmup, sigma

    def generator_loss(self, batch: Batch) -> Tensor:
        mean, log_var = posterior(batch.fake_extras, "loss 'elbo'")
        rec = reconstruction_nats(self.reconstruction, batch.real, batch.fake, batch.fake_extras, self.sigma)
        kl = kl_to_standard_normal(mean, log_var)
        batch.log("reconstruction", rec.mean())
        batch.log("kl", kl.mean())
        return (rec + kl_weight(self.beta, self.warmup, batch.step) * kl).mean()


# ---- VAE-GAN ------------------------------------------------------------------------------------
class _LayerCapture:
    """Records the output of one discriminator layer while active (a forward hook)."""

    def __init__(self, network: nn.Module | None, layer: str) -> None:
        if network is None:
            raise GanforgeError("loss 'vae-gan' needs a discriminator; the spec has discriminator: null")
        modules = dict(network.named_modules())
        if layer not in modules:
            raise GanforgeError(f"loss 'vae-gan': the discriminator {type(network).__name__} has no layer '{layer}'{did_you_mean(layer, modules)}")
        self.module = modules[layer]
        self.layer = layer
        self.outputs: list[Tensor] = []

    def run(self, score: Callable[[Tensor], DiscriminatorOutput], images: Tensor) -> tuple[Tensor, Tensor]:
        """``score(images)``'s scores, and what the layer output during that pass."""
        self.outputs.clear()
        handle = self.module.register_forward_hook(lambda module, inputs, output: self.outputs.append(output))
        try:
            scores = score(images).scores
        finally:
            handle.remove()
        if not self.outputs or not isinstance(self.outputs[-1], Tensor):
            raise GanforgeError(f"loss 'vae-gan': layer '{self.layer}' gave no tensor output in a discriminator pass")
        return scores, self.outputs[-1]


class VAEGANLoss(Loss):
    """VAE-GAN (Larsen et al., 2016): KL, reconstruction in D's feature space (γ), GAN on reconstructions and prior samples.

    Discriminator: BCE on logits, reals against reconstructions x̃ = Dec(Enc(x)) and prior
    samples x_p = Dec(z), z ~ N(0, I) (the generator's ``extras["prior"]``: build it with
    ``decode_prior: true``). Generator (encoder and decoder): β · KL(q(z|x) ‖ N(0, I)) +
    γ · L_llike + the non-saturating GAN loss on x̃ and x_p, where L_llike = ½ ‖D_l(x̃) −
    D_l(x)‖², summed over the features of the hooked layer ``layer`` (the Gaussian
    p(D_l(x) | z) = N(D_l(x̃), I) of the paper, up to a constant). The paper updates the
    encoder with KL + L_llike and the decoder with γ · L_llike − L_GAN; ganforge has one
    generator optimizer, so here the encoder also receives γ · L_llike and the GAN gradient
    through x̃ (``beta = gamma`` restores the paper's KL-to-reconstruction balance for the
    encoder). The decoder's update is the paper's. With an ``augment``, D_l(x) and D_l(x̃)
    see independently augmented images.

    Args:
        layer: the discriminator layer whose output measures reconstructions, a name from
            its ``named_modules()`` (``net.4`` is the DCGAN discriminator's last hidden block
            on 28×28 images).
        gamma: weight of the feature-space reconstruction against the GAN term (the paper's γ).
        beta: weight of the KL term.
        warmup: generator steps over which the KL weight rises linearly from 0 to ``beta``.
    """

    def __init__(self, layer: str, gamma: NonNegativeFloat = 1.0, beta: NonNegativeFloat = 1.0, warmup: NonNegativeInt = 0) -> None:
        self.layer, self.gamma, self.beta, self.warmup = layer, gamma, beta, warmup

    @staticmethod
    def _prior(batch: Batch) -> Tensor:
        if "prior" not in batch.fake_extras:
            raise GanforgeError("loss 'vae-gan' needs prior samples from the generator: set generator.decode_prior: true")
        return batch.fake_extras["prior"]

    def discriminator_loss(self, batch: Batch) -> Tensor:
        prior = batch.score(self._prior(batch)).scores
        real, reconstructed = batch.real_scores, batch.fake_scores
        return F.softplus(-real).mean() + F.softplus(reconstructed).mean() + F.softplus(prior).mean()

    def generator_loss(self, batch: Batch) -> Tensor:
        mean, log_var = posterior(batch.fake_extras, "loss 'vae-gan'")
        capture = _LayerCapture(batch.discriminator_module, self.layer)
        with torch.no_grad():
            _, real_features = capture.run(batch.score, batch.real)
            real_features = real_features.clone()  # a later in-place activation must not change it
        reconstructed, fake_features = capture.run(batch.score, batch.fake)
        llike = 0.5 * (fake_features.float() - real_features.float()).pow(2).flatten(1).sum(1)
        kl = kl_to_standard_normal(mean, log_var)
        adversarial = F.softplus(-reconstructed.float()) + F.softplus(-batch.score(self._prior(batch)).scores.float())
        batch.log("reconstruction", llike.mean())
        batch.log("kl", kl.mean())
        batch.log("adversarial", adversarial.mean())
        return (kl_weight(self.beta, self.warmup, batch.step) * kl + self.gamma * llike + adversarial).mean()


# ---- the metric ---------------------------------------------------------------------------------
class ELBOMetric(Metric):
    """Negative ELBO on held-out images, nats per image: a bound on the negative log-likelihood (lower is better).

    Encodes each real image, draws one reparameterised z (seeded by the evaluation's seed,
    apart from training's random stream) and adds −log p(x|z) and KL(q(z|x) ‖ N(0, I)).
    Values: ``elbo`` (the negative ELBO), ``elbo/reconstruction``, ``elbo/kl``. Sharded
    across processes in a distributed run.

    Args:
        samples: real images evaluated (capped at the split's size).
        split: the dataset split they come from.
        reconstruction: ``bce`` or ``mse``, as in the ``elbo`` loss.
        sigma: the Gaussian's standard deviation for ``mse``.
    """

    higher_is_better = False

    def __init__(self, samples: PositiveInt = 10000, split: str = "test", reconstruction: Reconstruction = "bce", sigma: PositiveFloat = 0.1) -> None:
        self.samples, self.split, self.reconstruction, self.sigma = samples, split, reconstruction, sigma

    @classmethod
    def check(cls, subject: MetricSubject) -> str | None:
        return None if "real" in subject.inputs else f"needs a generator with an encoder (one that reads 'real', e.g. vae); {subject.generator} has none"

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        generator = context.generator
        if (unfit := self.check(MetricSubject.of(generator))) is not None:
            raise GanforgeError(f"metric 'elbo' {unfit}")
        totals = torch.zeros(3, dtype=torch.float64, device=context.device)
        devices = [context.device] if torch.device(context.device).type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(context.seed + context.ranks.rank)
            for real, _ in context.real(self.samples, self.split, shard=True):
                z = generator.sample_latent(real.shape[0], context.device)
                out = as_generated(generator(z, None, real=real))
                mean, log_var = posterior(out.extras, "metric 'elbo'")
                rec = reconstruction_nats(self.reconstruction, real, out.samples, out.extras, self.sigma)
                kl = kl_to_standard_normal(mean, log_var)
                totals += torch.stack([rec.sum(), kl.sum(), torch.tensor(float(real.shape[0]), device=rec.device)]).double().to(totals.device)
        rec_total, kl_total, count = context.all_reduce_sum(totals).tolist()
        return {"elbo": (rec_total + kl_total) / count, "elbo/reconstruction": rec_total / count, "elbo/kl": kl_total / count}


@hookimpl
def register_generators(register):
    register("vae", VAEGenerator)


@hookimpl
def register_losses(register):
    register("elbo", ELBOLoss)
    register("vae-gan", VAEGANLoss)


@hookimpl
def register_metrics(register):
    register("elbo", ELBOMetric)

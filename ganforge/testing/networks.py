"""Conformance of generators and discriminators: interface, shapes, ranges, gradients,
labels, seeds, and state dicts that load back (checkpoints rely on it)."""

from __future__ import annotations

import copy
import inspect
from typing import Any, Callable

import torch
from torch import Tensor, nn

from ganforge.interfaces import Discriminator, DiscriminatorOutput, Generator, Loss, as_generated
from ganforge.interfaces.networks import declared
from ganforge.spec.signature import signature_of
from ganforge.testing.constructor import Setup, check_constructor, construct
from ganforge.testing.failures import Checker, Problem, expect

RANGE_TOLERANCE = 1e-4


def check_generator(factory: Callable[..., Generator], /, *, setup: Setup | None = None, **params: Any) -> None:
    """Check a generator class (or factory) built with ``params``; raises
    :class:`~ganforge.testing.ConformanceError` listing every failed check.

    Example: ``check_generator(DCGANGenerator, image_shape=(1, 28, 28), width=8)``.
    """
    setup = setup or Setup()
    checker = Checker("generator", factory)
    check_constructor(checker, factory)
    generator, kwargs = construct(checker, factory, params, setup)
    built = _snapshot(generator)
    found = len(checker.problems)
    with checker.check("interface"):
        expect(isinstance(generator, Generator), f"builds a {type(generator).__name__}, not a ganforge.Generator subclass")
        expect(isinstance(generator.latent_dim, int) and generator.latent_dim > 0, f"latent_dim must be a positive int, got {generator.latent_dim!r}")
        shape = tuple(generator.image_shape)
        expect(all(isinstance(s, int) and s > 0 for s in shape), f"image_shape must be positive ints, got {shape!r}")
        if "image_shape" in kwargs:
            expect(shape == tuple(kwargs["image_shape"]), f"image_shape is {shape}, but it was built with {tuple(kwargs['image_shape'])}")
        _check_num_classes(generator, kwargs)
        _check_declared(generator, factory, kwargs, ("num_classes", "inputs"))
        _check_loss_terms(generator)
        unshaped = [name for name in generator.inputs if name != "real" and name not in generator.input_shapes]
        expect(not unshaped, f"reads input {', '.join(repr(n) for n in unshaped)} but input_shapes gives no shape for it (e.g. input_shapes = {{'lr': (3, 16, 16)}})")
    if len(checker.problems) > found:  # the other checks would only repeat it
        checker.finish()
    device = torch.device(setup.device)
    generator.to(device)
    n = max(setup.batch_size, 2)
    labels = _labels(generator.num_classes, n, device)
    inputs = _inputs(generator, n, setup.seed, device)

    with checker.check("sample_latent"):
        z1 = generator.sample_latent(n, device, torch.Generator(device).manual_seed(setup.seed))
        z2 = generator.sample_latent(n, device, torch.Generator(device).manual_seed(setup.seed))
        expect(isinstance(z1, Tensor) and z1.shape[0] == n, f"sample_latent({n}, ...) must return a tensor with {n} rows")
        expect(z1.is_floating_point(), f"latents must be floating point, got {z1.dtype}")
        expect(z1.device.type == device.type, f"latents are on {z1.device}, asked for {device}")
        expect(torch.equal(z1, z2), "sample_latent is not reproducible: the same torch.Generator seed gave different latents")
    z = generator.sample_latent(n, "cpu", torch.Generator().manual_seed(setup.seed)).to(device)

    with checker.check("output"):
        generator.eval()
        with torch.no_grad():
            out = generator(z, labels, **inputs)
        _expect_samples(out, n, tuple(generator.image_shape), device)
    with checker.check("gradients"):
        generator.train()
        generator.zero_grad(set_to_none=True)
        torch.manual_seed(setup.seed)
        _training_objective(generator, z, labels, setup, inputs).backward()
        _expect_gradients(generator, "generator")
    generator.eval()
    if generator.num_classes and labels is not None:
        with checker.check("labels"):
            expect(_labels_matter(generator, lambda m, y: m(z, y, **inputs), labels), "a conditional generator gives the same samples for class 0 and class 1, even with perturbed weights: labels are ignored")
    _check_seed_and_state(checker, factory, kwargs, setup, generator, built, lambda m: m(z, labels, **inputs))
    checker.finish()


def check_discriminator(factory: Callable[..., Discriminator], /, *, setup: Setup | None = None, **params: Any) -> None:
    """Check a discriminator class (or factory) built with ``params``; raises
    :class:`~ganforge.testing.ConformanceError` listing every failed check.

    Example: ``check_discriminator(DCGANDiscriminator, image_shape=(1, 28, 28), width=8)``.
    """
    setup = setup or Setup()
    checker = Checker("discriminator", factory)
    check_constructor(checker, factory)
    discriminator, kwargs = construct(checker, factory, params, setup)
    built = _snapshot(discriminator)
    found = len(checker.problems)
    with checker.check("interface"):
        expect(isinstance(discriminator, Discriminator), f"builds a {type(discriminator).__name__}, not a ganforge.Discriminator subclass")
        _check_num_classes(discriminator, kwargs)
        _check_loss_terms(discriminator)
        pack = getattr(discriminator, "pack", 1)
        expect(isinstance(pack, int) and not isinstance(pack, bool) and pack >= 1, f"pack (samples per score) must be a positive int, got {pack!r}")
        _check_declared(discriminator, factory, kwargs, ("num_classes", "pack"))
    if len(checker.problems) > found:
        checker.finish()
    device = torch.device(setup.device)
    discriminator.to(device)
    n = -(-max(setup.batch_size, 2) // pack) * pack  # whole packs
    shape = tuple(kwargs.get("image_shape") or setup.image_shape or (1, 28, 28))
    images = torch.rand(n, *shape, generator=torch.Generator().manual_seed(setup.seed)).mul(2).sub(1).to(device)
    labels = _labels(discriminator.num_classes, n, device)

    with checker.check("output"):
        discriminator.eval()
        with torch.no_grad():
            _expect_scores(discriminator(images, labels), n, pack)
    with checker.check("gradients"):
        discriminator.train()
        discriminator.zero_grad(set_to_none=True)
        x = images.clone().requires_grad_(True)
        torch.manual_seed(setup.seed)
        output = discriminator(x, labels)
        extras = output.extras.values() if isinstance(output, DiscriminatorOutput) else ()
        (_scores(output).sum() + sum(e.float().sum() for e in extras)).backward()  # aux heads train through extras
        expect(x.grad is not None and bool(x.grad.abs().sum() > 0), "scores do not depend on the images: no gradient reaches the input (gradient penalties need one)")
        expect(x.grad is None or bool(torch.isfinite(x.grad).all()), "the gradient with respect to the input is not finite")
        _expect_gradients(discriminator, "discriminator")
    discriminator.eval()
    if discriminator.num_classes and labels is not None:
        with checker.check("labels"):
            expect(_labels_matter(discriminator, lambda m, y: _scores(m(images, y)), labels), "a conditional discriminator gives the same scores for class 0 and class 1, even with perturbed weights: labels are ignored")
    _check_seed_and_state(checker, factory, kwargs, setup, discriminator, built, lambda m: _scores(m(images, labels)))
    checker.finish()


def _training_objective(generator: Generator, z: Tensor, labels: Tensor | None, setup: Setup, inputs: dict[str, Tensor]) -> Tensor:
    """A scalar of what training differentiates: the samples and, for a generator that reads
    the real batch (a VAE's encoder), its training output on one, extras included (losses
    train the encoder through them)."""
    total = as_generated(generator(z, labels, **inputs)).samples.float().square().mean()  # training may return GeneratorOutput
    if "real" in generator.inputs:
        rng = torch.Generator().manual_seed(setup.seed)
        real = torch.rand(z.shape[0], *generator.image_shape, generator=rng).mul(2).sub(1).to(z.device)
        out = as_generated(generator(z, labels, real=real, **inputs))
        _expect_samples(out.samples.detach(), z.shape[0], tuple(generator.image_shape), z.device)
        total = total + out.samples.float().square().mean() + sum(e.float().square().mean() for e in out.extras.values())
    return total


def _labels_matter(network: nn.Module, run: Callable[[nn.Module, Tensor], Tensor], labels: Tensor) -> bool:
    """Whether class 0 and class 1 give different outputs. Class-conditional layers often
    start label-neutral (conditional batch norm: scale 1, shift 0 for every class), so a
    network that ignores labels at initialisation is tried again with randomly perturbed
    weights, as after a training step."""
    with torch.no_grad():
        if not torch.allclose(run(network, torch.zeros_like(labels)), run(network, torch.ones_like(labels))):
            return True
        perturbed = copy.deepcopy(network)
        rng = torch.Generator().manual_seed(0)
        for p in perturbed.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=rng).to(p.device, p.dtype))
        return not torch.allclose(run(perturbed, torch.zeros_like(labels)), run(perturbed, torch.ones_like(labels)))


def _inputs(generator: Generator, n: int, seed: int, device: torch.device) -> dict[str, Tensor]:
    """Seeded inputs in [-1, 1], of the shapes ``input_shapes`` gives, for every dataset input
    the generator reads (not ``real``: drawing without it must work, and is what is checked)."""
    rng = torch.Generator().manual_seed(seed + 7)
    shapes = {name: tuple(generator.input_shapes[name]) for name in generator.inputs if name != "real"}
    return {name: torch.rand(n, *shape, generator=rng).mul(2).sub(1).to(device) for name, shape in shapes.items()}


def _labels(num_classes: int | None, n: int, device: torch.device) -> Tensor | None:
    return torch.arange(n, device=device) % num_classes if num_classes else None


def _scores(result: Tensor | DiscriminatorOutput) -> Tensor:
    return result.scores if isinstance(result, DiscriminatorOutput) else result


def _check_num_classes(network: nn.Module, kwargs: dict[str, Any]) -> None:
    num_classes = network.num_classes
    expect(num_classes is None or (isinstance(num_classes, int) and num_classes > 0), f"num_classes must be None or a positive int, got {num_classes!r}")


def _check_declared(network: nn.Module, factory: Callable[..., Any], kwargs: dict[str, Any], names: tuple[str, ...]) -> None:
    """The attributes a spec is checked against before anything is built (what
    :func:`~ganforge.interfaces.networks.declared` reads from the constructor's parameters,
    defaults included, the class, or the wrapped network) are what the built network has."""
    params = {p.name: p.default for p in signature_of(factory).params if p.default is not inspect.Parameter.empty} | kwargs
    for name in names:
        if name not in params and not inspect.isclass(factory):
            continue  # a factory function without the parameter: nothing is read before building
        kind = Generator if isinstance(network, Generator) else Discriminator
        wrapped = [getattr(v, name) for v in kwargs.values() if isinstance(v, kind)]  # a wrapper's inner networks answer for it
        said, has = declared(factory, params, name, wrapped), getattr(network, name)
        said, has = (tuple(said or ()), tuple(has or ())) if name == "inputs" else (said or None, has or None)
        if name == "pack":
            said, has = said or 1, has or 1
        expect(said == has, (
            f"its {name} is {getattr(network, name)!r}, but a spec is checked against {said!r} before anything is built (the constructor "
            f"parameter '{name}', else the class attribute, else the wrapped network's); set self.{name} to match"
        ))  # fmt: skip


def _check_loss_terms(network: Generator | Discriminator) -> None:
    terms = list(network.loss_terms())
    bad = [type(t).__name__ for t in terms if not isinstance(t, Loss)]
    expect(not bad, f"loss_terms() must return ganforge.Loss objects, got {', '.join(bad)}")


def _expect_samples(out: Any, n: int, shape: tuple[int, ...], device: torch.device) -> None:
    expect(isinstance(out, Tensor), f"forward must return a tensor, got {type(out).__name__}")
    expect(tuple(out.shape) == (n, *shape), f"samples have shape {tuple(out.shape)}, expected {(n, *shape)} (N, *image_shape)")
    expect(out.is_floating_point(), f"samples must be floating point, got {out.dtype}")
    expect(out.device.type == device.type, f"samples are on {out.device}, the generator on {device}")
    expect(bool(torch.isfinite(out).all()), "samples contain NaN or infinity")
    low, high = float(out.min()), float(out.max())
    expect(low >= -1 - RANGE_TOLERANCE and high <= 1 + RANGE_TOLERANCE, f"samples must lie in [-1, 1], got [{low:.4g}, {high:.4g}] (end with tanh?)")


def _expect_scores(result: Any, n: int, pack: int = 1) -> None:
    expect(isinstance(result, (Tensor, DiscriminatorOutput)), f"forward must return a tensor or DiscriminatorOutput, got {type(result).__name__}")
    scores = _scores(result)
    per = "one score per sample" if pack == 1 else f"one score per pack of {pack} samples (its pack attribute)"
    n = n // pack
    expect(tuple(scores.shape) == (n,), f"scores have shape {tuple(scores.shape)}, expected ({n},): {per}")
    expect(scores.is_floating_point() and bool(torch.isfinite(scores).all()), "scores must be finite floating-point numbers")
    if isinstance(result, DiscriminatorOutput):
        for name, extra in result.extras.items():
            expect(isinstance(extra, Tensor) and extra.shape[:1] == (n,), f"extras['{name}'] must be a tensor with one row per score")


def _expect_gradients(network: nn.Module, role: str) -> None:
    trainable = [(name, p) for name, p in network.named_parameters() if p.requires_grad]
    expect(bool(trainable), f"the {role} has no trainable parameters")
    unused = [name for name, p in trainable if p.grad is None]
    expect(not unused, f"parameters get no gradient from the output: {', '.join(unused[:5])}{' ...' if len(unused) > 5 else ''}")
    bad = [name for name, p in trainable if p.grad is not None and not bool(torch.isfinite(p.grad).all())]
    expect(not bad, f"non-finite gradients in {', '.join(bad[:5])}")


def _snapshot(network: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in network.state_dict().items()}


def _check_seed_and_state(
    checker: Checker,
    factory: Callable[..., nn.Module],
    kwargs: dict[str, Any],
    setup: Setup,
    network: nn.Module,
    built: dict[str, Tensor],
    run: Callable[[nn.Module], Tensor],
) -> None:
    """Built twice under one seed: the same weights (``built`` is the first one's state as
    constructed). Built under another seed, then loaded with the first one's state dict:
    the same outputs."""
    device = torch.device(setup.device)
    with checker.check("reproducible"):
        torch.manual_seed(setup.seed)
        twin = _snapshot(factory(**kwargs))
        differ = [k for k in built if k not in twin or not torch.equal(built[k], twin[k].to(built[k].device))]
        expect(not differ, f"built twice under one torch seed, the weights differ: {', '.join(differ[:5])}")
    with torch.no_grad():
        expected = run(network.eval())
    with checker.check("state_dict"):
        torch.manual_seed(setup.seed + 1)
        other = factory(**kwargs).to(device)
        try:
            other.load_state_dict(network.state_dict())
        except RuntimeError as exc:
            raise Problem(f"its own state dict does not load back: {str(exc).splitlines()[0]}") from exc
        other.eval()
        with torch.no_grad():
            expect(torch.allclose(run(other), expected), "after load_state_dict the outputs differ: some state is not in the state dict")

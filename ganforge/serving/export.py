"""A trained generator as a file other tools run: ONNX, TorchScript, or safetensors weights,
each with a model card saying what goes in and what comes out.

The exported function is the generator in eval mode (EMA weights, fixed noise, outputs in
[-1, 1]) with one of three signatures: ``images = f(z)``, ``images = f(z, labels)`` for a
class-conditional generator, ``images = f(lr)`` for an image-to-image (super-resolution)
one. The batch dimension is dynamic (and an ``lr`` image's height and width).
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ganforge.checkpoint import shared_weights_metadata
from ganforge.errors import GanforgeError
from ganforge.files import atomic_write, atomic_write_text
from ganforge.interfaces import Generator
from ganforge.interfaces.networks import as_generated
from ganforge.serving.tiling import image_to_image_scale
from ganforge.version import __version__

Format = Literal["onnx", "torchscript", "safetensors"]
FORMATS: tuple[Format, ...] = ("onnx", "torchscript", "safetensors")
ONNX_OPSET = 18
#: what ganforge promises about an exported model's outputs (and tests).
TOLERANCE = 1e-4
LICENCE_NOTE = "The weights keep the licence of what they were trained on or imported from; check it before sharing."


@dataclass
class TensorInfo:
    """One input or output of the exported function, as the model card states it."""

    name: str
    shape: list[int | str]
    dtype: str
    values: str


@dataclass
class Interface:
    """The exported function's inputs and output."""

    kind: Literal["latent", "conditional", "image-to-image"]
    inputs: list[TensorInfo]
    output: TensorInfo
    classes: list[str] = field(default_factory=list)
    scale: int | None = None


def interface_of(generator: Generator, class_names: tuple[str, ...] = ()) -> Interface:
    """What ``generator`` takes and gives when exported."""
    channels, height, width = (int(s) for s in generator.image_shape)
    scale = image_to_image_scale(generator, "lr")
    if scale is not None:
        lr = TensorInfo("lr", ["batch", channels, "height", "width"], "float32", "a low-resolution image in [-1, 1] (pixel / 127.5 - 1)")
        out = TensorInfo("images", ["batch", channels, f"{scale}*height", f"{scale}*width"], "float32", "[-1, 1]; pixel = (x + 1) * 127.5")
        return Interface("image-to-image", [lr], out, scale=scale)
    z = TensorInfo("z", ["batch", int(generator.latent_dim)], "float32", "standard normal N(0, 1)")
    out = TensorInfo("images", ["batch", channels, height, width], "float32", "[-1, 1]; pixel = (x + 1) * 127.5")
    if generator.num_classes:
        names = list(class_names) or [str(i) for i in range(generator.num_classes)]
        labels = TensorInfo("labels", ["batch"], "int64", f"class indices 0..{generator.num_classes - 1}")
        return Interface("conditional", [z, labels], out, classes=names)
    return Interface("latent", [z], out)


class Exported(nn.Module):
    """The generator behind the exported signature (see :func:`interface_of`)."""

    def __init__(self, generator: Generator, interface: Interface) -> None:
        super().__init__()
        self.generator = generator.eval().requires_grad_(False)
        self.kind = interface.kind

    def forward(self, first: Tensor, labels: Tensor | None = None) -> Tensor:
        generator = self.generator
        if self.kind == "image-to-image":
            z = first.new_zeros(first.shape[0], generator.latent_dim)
            return as_generated(generator(z, None, lr=first)).samples.clamp(-1, 1)
        return as_generated(generator(first, labels)).samples.clamp(-1, 1)


def example_inputs(interface: Interface, batch: int, seed: int = 0) -> tuple[Tensor, ...]:
    """Inputs of batch size ``batch`` for tracing and checking (seeded)."""
    rng = torch.Generator().manual_seed(seed)
    tensors: list[Tensor] = []
    for info in interface.inputs:
        if info.name == "labels":
            tensors.append(torch.arange(batch) % len(interface.classes))
        elif info.name == "lr":
            shape = [batch, int(info.shape[1]), 12, 10]
            tensors.append(torch.rand(shape, generator=rng) * 2 - 1)
        else:
            tensors.append(torch.randn([batch, *(int(s) for s in info.shape[1:])], generator=rng))
    return tuple(tensors)


def _dynamic_shapes(interface: Interface) -> tuple[dict[int, Any], ...]:
    """torch.export's dynamic dimensions of each input: those the card names (batch, height, width)."""
    return tuple({i: torch.export.Dim.DYNAMIC for i, s in enumerate(info.shape) if isinstance(s, str)} for info in interface.inputs)


def _require(package: str) -> Any:
    try:
        return __import__(package)
    except ImportError:
        raise GanforgeError(f"exporting to this format needs the package {package}: pip install 'ganforge[onnx]'") from None


def write_onnx(module: Exported, interface: Interface, path: Path) -> float:
    """Export to ONNX and check the file with onnx's checker and onnxruntime on a batch of a
    size other than the traced one; returns the largest difference from torch's outputs."""
    onnx = _require("onnx")
    ort = _require("onnxruntime")
    _require("onnxscript")  # torch.export's ONNX exporter
    names = [info.name for info in interface.inputs]
    temporary = path.with_name(f".{path.name}.export.tmp")
    try:
        # torch.export's exporter: the older tracing one exported eval-mode batch norm wrongly
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # the exporter's progress lines and version-conversion notes
            torch.onnx.export(
                module, example_inputs(interface, 2), str(temporary), input_names=names, output_names=["images"],
                dynamic_shapes=_dynamic_shapes(interface), opset_version=ONNX_OPSET, dynamo=True, external_data=False, verbose=False,
            )  # fmt: skip
        onnx.checker.check_model(str(temporary))
        session = ort.InferenceSession(str(temporary), providers=["CPUExecutionProvider"])
        check = example_inputs(interface, 3, seed=1)
        got = torch.from_numpy(session.run(None, {n: t.numpy() for n, t in zip(names, check)})[0])
        difference = _difference(module, check, got)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return difference


def write_torchscript(module: Exported, interface: Interface, path: Path) -> float:
    """Trace to TorchScript and check the loaded file on a batch of another size; returns the
    largest difference from the generator's outputs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, example_inputs(interface, 2), check_trace=False)
        atomic_write(path, lambda f: torch.jit.save(traced, f))
        loaded = torch.jit.load(str(path))
    check = example_inputs(interface, 3, seed=1)
    with torch.no_grad():
        got = loaded(*check)
    return _difference(module, check, got)


def write_safetensors(module: Exported, card: dict[str, Any], path: Path) -> None:
    """The generator's weights (every tensor of its state dict) as safetensors, the spec and
    the model card in the file's metadata."""
    try:
        from safetensors.torch import save
    except ImportError:
        raise GanforgeError("exporting to safetensors needs the package safetensors: pip install 'ganforge[safetensors]'") from None
    state = {k: v.detach().cpu().contiguous().clone() for k, v in module.generator.state_dict().items()}
    metadata = {"format": "pt", "ganforge.card": json.dumps(card), **shared_weights_metadata(state, card["spec"], card["source"].get("step"))}
    data = save(state, metadata=metadata)
    atomic_write(path, lambda f: f.write(data))


def _difference(module: Exported, inputs: tuple[Tensor, ...], got: Tensor) -> float:
    with torch.no_grad():
        expected = module(*inputs)
    if got.shape != expected.shape:
        raise GanforgeError(f"the exported model gave shape {tuple(got.shape)} for a batch of {inputs[0].shape[0]}, expected {tuple(expected.shape)}")
    return float((got.float() - expected.float()).abs().max())


def model_card(interface: Interface, fmt: Format, spec: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """What a user of the exported file needs: signature, shapes, value ranges, classes, the spec."""
    card: dict[str, Any] = {
        "ganforge_version": __version__,
        "format": fmt,
        "kind": interface.kind,
        "inputs": [asdict(info) for info in interface.inputs],
        "output": asdict(interface.output),
        "classes": interface.classes,
        "source": source,
        "licence": LICENCE_NOTE,
        "spec": spec,
    }
    if interface.scale is not None:
        card["scale"] = interface.scale
    if fmt == "onnx":
        card["onnx_opset"] = ONNX_OPSET
    if fmt == "safetensors":
        card["note"] = "weights only: rebuild the network with ganforge from `spec` (ganforge sample FILE.safetensors works directly)"
    return card


def export(generator: Generator, fmt: Format, path: Path, spec: dict[str, Any], source: dict[str, Any], class_names: tuple[str, ...] = ()) -> dict[str, Any]:
    """Write ``generator`` to ``path`` in ``fmt`` and its model card beside it
    (``NAME.EXT.card.json``); returns the card (with the checked difference for onnx and torchscript)."""
    if fmt not in FORMATS:
        raise GanforgeError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    interface = interface_of(generator, class_names)
    module = Exported(generator.cpu(), interface)
    card = model_card(interface, fmt, spec, source)
    if fmt == "safetensors":
        write_safetensors(module, card, path)
    else:
        writer = write_onnx if fmt == "onnx" else write_torchscript
        try:
            difference = writer(module, interface, path)
        except GanforgeError:
            raise
        except Exception as exc:  # the exporters raise all sorts for an operation they cannot express
            summary = next((line.strip() for line in reversed(str(exc).splitlines()) if line.strip()[:1].isalpha() and "Error" in line), str(exc).strip()[:200])
            raise GanforgeError(f"{type(generator).__name__} cannot be exported to {fmt} ({type(exc).__name__}: {summary[:300]}); --debug shows where") from exc
        card["checked"] = {"batch": 3, "max_abs_difference": difference, "tolerance": TOLERANCE}
        if not difference <= TOLERANCE:
            path.unlink(missing_ok=True)
            raise GanforgeError(f"the {fmt} export differs from the generator by {difference:.2e} (more than {TOLERANCE}); nothing written. Please report it")
    atomic_write_text(card_path(path), json.dumps(card, indent=1) + "\n")
    return card


def card_path(path: Path) -> Path:
    """Where the model card of an exported file goes: ``NAME.EXT.card.json`` beside it."""
    return path.with_name(f"{path.name}.card.json")

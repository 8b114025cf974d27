"""``ganforge import stylegan2-ada``: NVIDIA's StyleGAN2-ADA network pickles as a run directory,
read without running any of their code.

A ``network-snapshot-*.pkl`` of stylegan2-ada-pytorch (and of stylegan3 with
``--cfg=stylegan2``) is a pickle of ``{"G", "D", "G_ema", "augment_pipe",
"training_set_kwargs"}`` whose networks are *persistent classes*: each is stored as a call to
``torch_utils.persistence._reconstruct_persistent_obj`` with a record holding the module's
source code, the class name and the object's state. Unpickling that normally executes the
source code. Here a restricted unpickler answers only the handful of names such a pickle
refers to: the persistent record becomes a plain :class:`PersistentRecord` (its source is
never compiled), tensors are rebuilt by torch's own weights-only loader, ``EasyDict`` becomes
a dict, numpy scalars are rebuilt only for numeric types. Any other name refuses the file.
"""

from __future__ import annotations

import collections
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
from torch import Tensor

from ganforge.artifacts.imported import data_option, with_data, write_imported_run
from ganforge.artifacts.outputs import overwrite_option
from ganforge.errors import GanforgeError


@dataclass
class PersistentRecord:
    """A persistent-class object of the pickle, not constructed: its class name and state."""

    class_name: str
    state: dict[str, Any]


class _EasyDict(dict):  # type: ignore[type-arg]
    """``dnnlib.util.EasyDict`` read as a plain dict."""


def _persistent_record(meta: dict[str, Any]) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise pickle.UnpicklingError("a persistent-class record without a class state")
    return PersistentRecord(str(meta.get("class_name")), dict(meta["state"]))


def _storage_from_bytes(data: bytes) -> Any:
    """A tensor storage serialised by ``torch.save`` inside the pickle, read weights-only."""
    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


def _numpy_scalar(dtype: np.dtype, data: bytes | None = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise pickle.UnpicklingError("a numpy scalar of an object type")
    return np.frombuffer(data, dtype=dtype)[0]


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """Protocol-2 pickles store bytes as ``_codecs.encode(str, 'latin1')``."""
    if encoding != "latin1":
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding}")
    return text.encode("latin1")


#: every name a StyleGAN2-ADA pickle may refer to, and what it is read as.
ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_record,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): np.dtype,
    ("builtins", "set"): set,
    ("_codecs", "encode"): _latin1,
}


class RefusedName(pickle.UnpicklingError):
    """The pickle refers to a name outside :data:`ALLOWED`."""


class RestrictedUnpickler(pickle.Unpickler):
    """Reads a StyleGAN2-ADA network pickle; any name outside :data:`ALLOWED` is refused
    before anything of it is looked up, imported or called."""

    def find_class(self, module: str, name: str) -> Any:
        found = ALLOWED.get((module, name))
        if found is None:
            raise RefusedName(f"{module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids (a torch.save file, not a network pickle)")


def read_network_pickle(path: Path) -> dict[str, Any]:
    """The pickle's top-level dict, networks as :class:`PersistentRecord`; one line for
    anything else (a refused name, a damaged or foreign file)."""
    try:
        with path.open("rb") as f:
            data = RestrictedUnpickler(f).load()
    except RefusedName as exc:
        name = str(exc)
        if name.startswith("dnnlib.tflib"):
            raise GanforgeError(f"{path} is a TensorFlow StyleGAN pickle ({name}); convert it with stylegan2-ada-pytorch's legacy.py first") from None
        raise GanforgeError(
            f"refusing to read {path}: it refers to {name}, which unpickling would import and could run; "
            "only StyleGAN2-ADA network pickles are read (nothing of this file was run)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - truncated, corrupted or foreign files raise all sorts
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise GanforgeError(f"cannot read {path}: damaged or not a StyleGAN2-ADA network pickle ({type(exc).__name__}{': ' + first[:150] if first else ''})") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(key), PersistentRecord) for key in ("G", "D", "G_ema")):
        found = ", ".join(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise GanforgeError(f"{path} is not a StyleGAN2-ADA network pickle (expected G, D and G_ema networks; found {found})")
    return data


def state_dict(record: PersistentRecord, prefix: str = "") -> dict[str, Tensor]:
    """A record's parameters and persistent buffers, and its children's, under torch's names."""
    state = record.state
    skip = set(state.get("_non_persistent_buffers_set") or ())
    out: dict[str, Tensor] = {}
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if isinstance(value, Tensor) and name not in skip:
                out[prefix + name] = value.detach().clone()
    for name, child in (state.get("_modules") or {}).items():
        if isinstance(child, PersistentRecord):
            out.update(state_dict(child, f"{prefix}{name}."))
        elif child is not None:
            raise GanforgeError(f"{prefix}{name} is a {type(child).__name__}, not a network layer of the pickle")
    return out


def init_kwargs(record: PersistentRecord, what: str) -> dict[str, Any]:
    """The constructor arguments the reference recorded with a network."""
    kwargs = record.state.get("_init_kwargs")
    if not isinstance(kwargs, dict) or record.state.get("_init_args"):
        raise GanforgeError(f"the {what} carries no constructor arguments (_init_kwargs); it was not written by stylegan2-ada-pytorch")
    return {k: dict(v) if isinstance(v, dict) else v for k, v in kwargs.items()}


def _stylegan3_layers(record: PersistentRecord) -> list[str]:
    synthesis = (record.state.get("_modules") or {}).get("synthesis")
    names = list((synthesis.state.get("_modules") or {}) if isinstance(synthesis, PersistentRecord) else {})
    return [n for n in names if n == "input" or n.startswith("L0_")]


#: reference arguments ganforge does not need: float16 layers (computed in float32) and layer freezing (training only).
_IGNORED = {"num_fp16_res", "fp16_channels_last", "freeze_layers"}


def _check(kwargs: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    for key, value in kwargs.items():
        if key in _IGNORED:
            continue
        if key in expected and value != expected[key] and not (key == "resample_filter" and list(value) == [1, 3, 3, 1]):
            raise GanforgeError(f"the {what} has {key}={value!r}; ganforge's stylegan2-ada supports only {key}={expected[key]!r}")


def generator_settings(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The ``stylegan2-ada`` generator section for a reference Generator's arguments."""
    mapping = dict(kwargs.get("mapping_kwargs") or {})
    synthesis = dict(kwargs.get("synthesis_kwargs") or {})
    _check(mapping, {"activation": "lrelu"}, "generator's mapping network")
    _check(synthesis, {"architecture": "skip", "resample_filter": [1, 3, 3, 1], "use_noise": True, "activation": "lrelu", "kernel_size": 3}, "generator")
    known = {"num_layers", "lr_multiplier", "embed_features", "layer_features", "w_avg_beta", "activation"}
    unknown = sorted(set(mapping) - known) + sorted(set(synthesis) - {"channel_base", "channel_max", "conv_clamp", "architecture", "resample_filter", "use_noise", "activation", "kernel_size"} - _IGNORED)
    if unknown:
        raise GanforgeError(f"the generator has settings ganforge does not know: {', '.join(unknown)}")
    return {
        "name": "stylegan2-ada",
        "latent_dim": int(kwargs["z_dim"]),
        "w_dim": int(kwargs["w_dim"]),
        "num_classes": int(kwargs.get("c_dim") or 0) or None,
        "mapping_layers": int(mapping.get("num_layers", 8)),
        "mapping_lr_mul": float(mapping.get("lr_multiplier", 0.01)),
        "embed_features": mapping.get("embed_features"),
        "layer_features": mapping.get("layer_features"),
        "w_avg_beta": float(mapping.get("w_avg_beta", 0.995)),
        "channel_base": int(synthesis.get("channel_base", 32768)),
        "channel_max": int(synthesis.get("channel_max", 512)),
        "conv_clamp": synthesis.get("conv_clamp"),
    }


def discriminator_settings(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The ``stylegan2-ada`` discriminator section for a reference Discriminator's arguments."""
    block = dict(kwargs.get("block_kwargs") or {})
    mapping = dict(kwargs.get("mapping_kwargs") or {})
    epilogue = dict(kwargs.get("epilogue_kwargs") or {})
    if kwargs.get("architecture", "resnet") not in ("resnet", "orig"):
        raise GanforgeError(f"the discriminator's architecture is {kwargs['architecture']!r}; ganforge's stylegan2-ada supports resnet and orig")
    _check(block, {"activation": "lrelu", "resample_filter": [1, 3, 3, 1]}, "discriminator")
    _check(epilogue, {"activation": "lrelu"}, "discriminator's epilogue")
    if set(mapping) - {"num_layers", "lr_multiplier"}:
        raise GanforgeError(f"the discriminator's label mapping has settings ganforge does not know: {', '.join(sorted(set(mapping) - {'num_layers', 'lr_multiplier'}))}")
    return {
        "name": "stylegan2-ada",
        "num_classes": int(kwargs.get("c_dim") or 0) or None,
        "architecture": kwargs.get("architecture", "resnet"),
        "channel_base": int(kwargs.get("channel_base", 32768)),
        "channel_max": int(kwargs.get("channel_max", 512)),
        "conv_clamp": kwargs.get("conv_clamp"),
        "cmap_dim": kwargs.get("cmap_dim"),
        "mbstd_group_size": epilogue.get("mbstd_group_size", 4),
        "mbstd_num_channels": int(epilogue.get("mbstd_num_channels", 1)),
        "mapping_layers": int(mapping.get("num_layers", 8)),
        "mapping_lr_mul": float(mapping.get("lr_multiplier", 0.01)),
    }


def imported_spec(generator: dict[str, Any], discriminator: dict[str, Any], resolution: int, channels: int) -> dict[str, Any]:
    """A spec for the imported networks: the reference's objective (non-saturating logistic
    loss, lazy R1 every 16 steps, path length every 4, run as separate updates with the
    optimizers adjusted as the reference adjusts them) on a stand-in dataset of the right shape;
    give your own ``data:`` to fine-tune or to measure."""
    classes = generator["num_classes"] or 0
    return {
        "name": "imported-stylegan2-ada",
        "seed": 0,
        "generator": {k: v for k, v in generator.items() if v is not None},
        "discriminator": {k: v for k, v in discriminator.items() if v is not None},
        "loss": {"name": "bce"},
        "penalties": [{"name": "r1", "gamma": 10.0, "every": 16}, {"name": "path-length", "weight": 2.0, "every": 4}],
        "data": {"name": "synthetic", "image_size": resolution, "channels": channels, "num_classes": classes, "size": 64, "batch_size": 8},
        "optimizers": {
            "generator": {"name": "Adam", "lr": 0.0025, "betas": [0.0, 0.99], "eps": 1.0e-8},
            "discriminator": {"name": "Adam", "lr": 0.0025, "betas": [0.0, 0.99], "eps": 1.0e-8},
        },
        "train": {"steps": 1000, "ema": 0.999, "lazy_regularization": "separate"},
    }


def convert(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Tensor]], dict[str, Any]]:
    """(spec, {generator, ema, discriminator} state dicts, details) for a network pickle."""
    data = read_network_pickle(path)
    layers = _stylegan3_layers(data["G"])
    if layers:
        raise GanforgeError(
            f"{path} holds a StyleGAN3 (alias-free) generator (synthesis layers {', '.join(layers[:2])}, ...): not supported yet, "
            "its filtered, rotation-equivariant layers have no ganforge implementation; StyleGAN2 pickles (also stylegan3's --cfg=stylegan2) are"
        )
    g_kwargs, d_kwargs = init_kwargs(data["G_ema"], "generator"), init_kwargs(data["D"], "discriminator")
    for key in ("z_dim", "w_dim", "img_resolution", "img_channels"):
        if key not in g_kwargs:
            raise GanforgeError(f"{path}: the generator's arguments lack {key}; not a stylegan2-ada-pytorch Generator")
    resolution, channels = int(g_kwargs["img_resolution"]), int(g_kwargs["img_channels"])
    spec = imported_spec(generator_settings(g_kwargs), discriminator_settings(d_kwargs), resolution, channels)
    weights = {"generator": state_dict(data["G"]), "ema": state_dict(data["G_ema"]), "discriminator": state_dict(data["D"])}
    training_set = data.get("training_set_kwargs")
    details = {
        "format": "stylegan2-ada",
        "resolution": resolution,
        "channels": channels,
        "classes": int(g_kwargs.get("c_dim") or 0),
        "generator_kwargs": g_kwargs,
        "discriminator_kwargs": d_kwargs,
        "training_set_kwargs": dict(training_set) if isinstance(training_set, dict) else None,
    }
    return spec, weights, details


@click.command("stylegan2-ada")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="The run directory to make.")
@data_option
@overwrite_option
def import_stylegan2_ada(file: str, out: str, data_text: str | None, overwrite: bool) -> None:
    """Import a StyleGAN2-ADA network pickle (network-snapshot-*.pkl) as a run directory.

    \b
    Examples:
      ganforge import stylegan2-ada ffhq.pkl --out runs/ffhq
      ganforge import stylegan2-ada ffhq.pkl --out runs/ffhq --data '{name: image-folder, root: ffhq/}'
      ganforge sample runs/ffhq --truncation 0.7 --out faces.png
    The pickle's code is never run: a restricted reader takes only its tensors and settings.
    The run holds G (generator), G_ema (the EMA weights sample and serve use) and D, with a
    spec of the same architecture. Its data is --data (what eval measures FID against and
    fine-tuning trains on), or a stand-in of the right shape.
    """
    path = Path(file)
    spec, weights, details = convert(path)
    spec = with_data(spec, data_text)
    write_imported_run(out, spec, dict(weights), path, details, overwrite)
    classes = f", {details['classes']} classes" if details["classes"] else ""
    click.echo(f"{out}: StyleGAN2 {details['resolution']}x{details['resolution']}x{details['channels']}{classes} (G, G_ema, D) from {path}")


"""``ganforge import esrgan``: ESRGAN, Real-ESRGAN and BasicSR super-resolution weights as a run directory.

Three key layouts of the same RRDB network are read: the ESRGAN repository's first one
(``model.0``, ``model.1.sub.N.RDB1.conv1.0``, ...), its later one (``conv_first``,
``RRDB_trunk.N.RDB1.conv1``, ``trunk_conv``, ``upconv1``, ``HRconv``) and BasicSR's
(``conv_first``, ``body.N.rdb1.conv1``, ``conv_body``, ``conv_up1``, ``conv_hr``), which
Real-ESRGAN uses, under ``params`` or ``params_ema``. BasicSR's MSRResNet (its SRResNet and
SRGAN weights: ``conv_first``, ``body.N.conv1``, ``upconv1``) becomes ganforge's ``msrresnet``.
The published weights compute on images in [0, 1]; the imported generator says so
(``unit_range: true``) and keeps ganforge's [-1, 1] outside.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import torch
from torch import Tensor

from ganforge.artifacts.imported import data_option, with_data, write_imported_run
from ganforge.artifacts.outputs import overwrite_option
from ganforge.errors import GanforgeError

#: ESRGAN's first layout -> its later one (the renaming of ESRGAN's transer_RRDB_models.py).
_OLD_LAYERS = {"model.0": "conv_first", "model.3": "upconv1", "model.6": "upconv2", "model.8": "HRconv", "model.10": "conv_last"}
#: ESRGAN's later layout -> BasicSR's.
_ESRGAN_LAYERS = {"trunk_conv": "conv_body", "upconv1": "conv_up1", "upconv2": "conv_up2", "HRconv": "conv_hr", "conv_first": "conv_first", "conv_last": "conv_last"}
#: BasicSR RRDBNet / MSRResNet outer layers -> ganforge's.
_OUTER = {"conv_first": "head", "conv_hr": "hr_conv", "conv_last": "tail", "conv_up1": "ups.0", "conv_up2": "ups.1", "upconv1": "ups.0", "upconv2": "ups.1"}


def read_weights(path: Path, params: str) -> tuple[dict[str, Tensor], str]:
    """The state dict in ``path`` (safely: tensors only) and where in the file it was: the
    whole file, ``params`` or ``params_ema`` (``params`` = auto takes ``params_ema`` when there)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torn, foreign or code-carrying files raise all sorts
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GanforgeError(f"{path}: not a weights file torch can read safely ({first[:200]})") from None
    if not isinstance(state, dict):
        raise GanforgeError(f"{path}: expected a state dict, found {type(state).__name__}")
    where = "file"
    keys = [k for k in ("params_ema", "params") if isinstance(state.get(k), dict)]
    if params != "auto" and params not in keys and keys:
        raise GanforgeError(f"{path} has no '{params}' entry (it has {', '.join(keys)}); pass --params {keys[0]}")
    if keys:
        where = keys[0] if params == "auto" else params
        state = state[where]
    elif params != "auto":
        raise GanforgeError(f"{path} has no '{params}' entry: it is a bare state dict; leave --params out")
    weights = {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, Tensor)}
    if not weights:
        raise GanforgeError(f"{path}: no tensors found (entries: {', '.join(list(map(str, state))[:5])})")
    return weights, where


def _to_basicsr_rrdb(weights: dict[str, Tensor]) -> tuple[dict[str, Tensor], str]:
    """Any of the three RRDB layouts in BasicSR's names, and which layout it was."""
    if "model.0.weight" in weights:
        trunk = max(int(m.group(1)) for k in weights if (m := re.match(r"model\.1\.sub\.(\d+)\.weight", k)))
        renamed = {}
        for key, value in weights.items():
            layer, kind = key.rsplit(".", 1)
            if layer in _OLD_LAYERS:
                renamed[f"{_OLD_LAYERS[layer]}.{kind}"] = value
            elif layer == f"model.1.sub.{trunk}":
                renamed[f"trunk_conv.{kind}"] = value
            elif m := re.fullmatch(r"model\.1\.sub\.(\d+)\.(RDB\d\.conv\d)\.0", layer):
                renamed[f"RRDB_trunk.{m.group(1)}.{m.group(2)}.{kind}"] = value
            else:
                raise GanforgeError(f"unexpected layer {key} in an ESRGAN (model.N) file")
        return _to_basicsr_rrdb(renamed)[0], "esrgan-original"
    if "RRDB_trunk.0.RDB1.conv1.weight" in weights:
        renamed = {}
        for key, value in weights.items():
            layer, kind = key.rsplit(".", 1)
            if layer in _ESRGAN_LAYERS:
                renamed[f"{_ESRGAN_LAYERS[layer]}.{kind}"] = value
            elif m := re.fullmatch(r"RRDB_trunk\.(\d+)\.RDB(\d)\.(conv\d)", layer):
                renamed[f"body.{m.group(1)}.rdb{m.group(2)}.{m.group(3)}.{kind}"] = value
            else:
                raise GanforgeError(f"unexpected layer {key} in an ESRGAN (RRDB_trunk) file")
        return renamed, "esrgan"
    return weights, "basicsr"


def convert_rrdb(weights: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Any], str]:
    """RRDB weights in any layout -> (ganforge ``rrdb`` state dict, its settings, the layout)."""
    weights, layout = _to_basicsr_rrdb(weights)
    blocks = 1 + max(int(m.group(1)) for k in weights if (m := re.match(r"body\.(\d+)\.rdb1\.conv1\.weight", k)))
    width, channels = weights["conv_first.weight"].shape[:2]
    growth = weights["body.0.rdb1.conv1.weight"].shape[0]
    if channels not in (1, 3):
        raise GanforgeError(
            f"conv_first takes {channels} channels: a x2 or x1 Real-ESRGAN model (pixel-unshuffled input), which ganforge's rrdb does not support yet; "
            "x4 models (RealESRGAN_x4plus, RRDB_ESRGAN_x4) are"
        )
    if "conv_up2.weight" not in weights:
        raise GanforgeError("the file has one upsampling convolution; ESRGAN's RRDBNet upscales x4 with two (conv_up1, conv_up2)")
    state: dict[str, Tensor] = {}
    for key, value in weights.items():
        layer, kind = key.rsplit(".", 1)
        if layer in _OUTER:
            state[f"{_OUTER[layer]}.{kind}"] = value
        elif layer == "conv_body":
            state[f"body.{blocks}.{kind}"] = value
        elif m := re.fullmatch(r"body\.(\d+)\.rdb(\d)\.conv(\d)", layer):
            state[f"body.{m.group(1)}.blocks.{int(m.group(2)) - 1}.convs.{int(m.group(3)) - 1}.{kind}"] = value
        else:
            raise GanforgeError(f"unexpected layer {key} in an RRDBNet file")
    settings = {"name": "rrdb", "scale": 4, "blocks": blocks, "width": int(width), "growth": int(growth), "unit_range": True}
    return state, settings, layout


def convert_msrresnet(weights: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """BasicSR MSRResNet weights -> (ganforge ``msrresnet`` state dict, its settings)."""
    blocks = 1 + max(int(m.group(1)) for k in weights if (m := re.match(r"body\.(\d+)\.conv1\.weight", k)))
    width = int(weights["conv_first.weight"].shape[0])
    ratio = weights["upconv1.weight"].shape[0] // width
    if ratio != 4:
        raise GanforgeError(f"an x{int(ratio**0.5)} MSRResNet: ganforge's msrresnet upscales x2 or x4 (pixel shuffle by 2)")
    scale = 4 if "upconv2.weight" in weights else 2
    state = {}
    for key, value in weights.items():
        layer, kind = key.rsplit(".", 1)
        state[f"{_OUTER.get(layer, layer)}.{kind}"] = value
    return state, {"name": "msrresnet", "scale": scale, "blocks": blocks, "width": width, "unit_range": True}


def convert(weights: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Any], str]:
    """Weights of a supported super-resolution network -> (ganforge state dict, generator settings, layout)."""
    if any(k.startswith(("model.1.sub.", "RRDB_trunk.")) for k in weights) or "body.0.rdb1.conv1.weight" in weights:
        return convert_rrdb(weights)
    if "body.0.conv1.weight" in weights and "upconv1.weight" in weights:
        state, settings = convert_msrresnet(weights)
        return state, settings, "basicsr-msrresnet"
    sample = ", ".join(list(weights)[:4])
    raise GanforgeError(
        f"not an ESRGAN / Real-ESRGAN RRDBNet or BasicSR MSRResNet state dict (its first keys: {sample}); "
        "other architectures (SwinIR, the compact SRVGGNet of realesr-general) are not supported"
    )


def imported_spec(settings: dict[str, Any], channels: int) -> dict[str, Any]:
    """A spec for the imported generator: pixel-loss fine-tuning on a stand-in dataset (give your
    own ``data:`` to fine-tune: ``--set data.dataset=...``)."""
    scale = int(settings["scale"])
    return {
        "name": "imported-esrgan",
        "seed": 0,
        "generator": settings,
        "discriminator": None,
        "loss": {"name": "pixel", "distance": "l1"},
        "data": {
            "name": "super-resolution",
            "dataset": {"name": "synthetic", "image_size": 32 * scale, "channels": channels, "size": 16},
            "hr_size": 32 * scale,
            "scale": scale,
            "batch_size": 4,
        },
        "optimizers": {"generator": {"name": "Adam", "lr": 1.0e-4, "betas": [0.9, 0.99]}},
        "train": {"steps": 1000},
    }


@click.command("esrgan")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="The run directory to make.")
@click.option("--params", default="auto", show_default=True, type=click.Choice(["auto", "params", "params_ema"]),
              help="Which weights of a BasicSR file (auto: params_ema when it holds them).")  # fmt: skip
@data_option
@overwrite_option
def import_esrgan(file: str, out: str, params: str, data_text: str | None, overwrite: bool) -> None:
    """Import ESRGAN / Real-ESRGAN / BasicSR super-resolution weights as a run directory.

    \b
    Examples:
      ganforge import esrgan RRDB_ESRGAN_x4.pth --out runs/esrgan-x4
      ganforge import esrgan RealESRGAN_x4plus.pth --out runs/realesrgan
      ganforge upscale runs/realesrgan photo.png --out photo_x4.png
    Reads RRDBNet weights in the ESRGAN repository's layouts and BasicSR's, and BasicSR's
    MSRResNet (SRResNet / SRGAN) weights. The file is read with torch's weights-only loader.
    """
    path = Path(file)
    weights, where = read_weights(path, params)
    try:
        state, settings, layout = convert(weights)
    except (KeyError, ValueError, IndexError) as exc:
        raise GanforgeError(f"{path}: an incomplete super-resolution state dict ({type(exc).__name__}: {exc})") from None
    except GanforgeError as exc:
        raise GanforgeError(f"{path}: {exc}") from None
    channels = int(state["head.weight"].shape[1])
    spec = with_data(imported_spec(settings, channels), data_text)
    write_imported_run(out, spec, {"generator": state}, path, {"format": "esrgan", "layout": layout, "weights": where, "generator": settings}, overwrite)
    click.echo(f"{out}: {settings['name']} x{settings['scale']} ({settings['blocks']} blocks, width {settings['width']}) from {path} ({layout} layout, {where})")


"""Checkpoints: written atomically, read with ``weights_only=True`` so a file cannot run code."""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.spec.loader import Key, Spec

FORMAT_VERSION = 1


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` through a temporary file and a rename: a kill at any moment
    leaves either the previous file or the new one, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": FORMAT_VERSION, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path | str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint; refuse files that hold anything but tensors and plain containers."""
    path = Path(path)
    if not path.is_file():
        raise GanforgeError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GanforgeError(
            f"refusing to load {path}: it holds Python objects that could run code when unpickled, "
            f"not just tensors ({first}); re-save it as a plain state dict"
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise GanforgeError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(state, dict):
        raise GanforgeError(f"{path} is not a ganforge checkpoint (found {type(state).__name__}, expected a mapping)")
    return state


def warm_start(network: nn.Module, source: str | Path, role: str, spec: Spec | None = None) -> None:
    """Load ``role``'s weights (``generator`` or ``discriminator``) from ``source``, a run
    directory (its ``checkpoints/last.pt``) or a checkpoint file, into ``network``; the
    spec's ``init_from``. Every tensor must fit: a mismatch is one line naming it."""
    path = Path(source)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    where: Key = (role, "init_from")

    def fail(message: str) -> GanforgeError:
        return spec.error(message, where) if spec is not None else GanforgeError(f"{role}.init_from: {message}")

    if not path.is_file():
        raise fail(f"{path} does not exist; give a run directory or a checkpoint file")
    state = load_checkpoint(path)
    weights = state.get(role) if isinstance(state.get(role), dict) else None
    if weights is None:
        raise fail(f"{path} holds no {role} weights")
    own = network.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    if missing or unexpected:
        detail = f"missing {', '.join(missing[:3])}" if missing else f"unexpected {', '.join(unexpected[:3])}"
        raise fail(f"the {role} in {path} has other layers than this spec's ({detail}); warm-start from a run of the same architecture")
    for name, tensor in own.items():
        if tuple(weights[name].shape) != tuple(tensor.shape):
            raise fail(f"{name} is {tuple(weights[name].shape)} in {path} but {tuple(tensor.shape)} here; use the same architecture settings")
    network.load_state_dict(weights)

"""Checkpoints: written atomically with a digest of their contents, read with
``weights_only=True`` so a file cannot run code, and checked against that digest so a changed
or damaged file is refused instead of loaded silently."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.files import atomic_write
from ganforge.spec.loader import Key, Spec

FORMAT_VERSION = 1
#: the key of a checkpoint's digest: ``{"sha256": hex}`` over every other entry (see :func:`state_digest`).
DIGEST_KEY = "digest"


def _feed(digest: Any, value: Any) -> None:
    """Add ``value`` to ``digest`` in a form that is the same for equal states, whatever the
    device or the dict order: tensors by dtype, shape and bytes, containers element by element."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"T{flat.dtype}{tuple(value.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy() if flat.numel() else b"")  # the buffer itself, no copy
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"{'L' if isinstance(value, list) else 'U'}{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:  # numbers, strings, None, bools: what weights_only unpickling allows besides tensors
        digest.update(f"{type(value).__name__}:{value!r};".encode())


def state_digest(state: dict[str, Any]) -> str:
    """The SHA-256 of every entry of a checkpoint but its digest: tensors (dtype, shape and
    bytes, so a flipped bit in any weight changes it) and the plain values beside them."""
    digest = hashlib.sha256()
    _feed(digest, {key: value for key, value in state.items() if key != DIGEST_KEY})
    return digest.hexdigest()


def sealed(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with the format version and its digest, as :func:`save_checkpoint` writes it."""
    body = {"format": FORMAT_VERSION, **{key: value for key, value in state.items() if key != DIGEST_KEY}}
    return {**body, DIGEST_KEY: {"sha256": state_digest(body)}}


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` through a temporary file and a rename (:func:`atomic_write`):
    a kill at any moment leaves either the previous file or the new one, never a torn one; the
    file gets the user's umask; a failed write raises :class:`~ganforge.files.WriteError`. The
    file carries a digest of its contents that :func:`load_checkpoint` checks."""
    content = sealed(state)
    atomic_write(path, lambda f: torch.save(content, f))


def verify_digest(state: dict[str, Any], path: Path) -> None:
    """Refuse ``state`` read from ``path`` when it does not match the digest written with it.
    Checkpoints from before digests (no ``digest`` entry) are accepted as they are."""
    recorded = state.get(DIGEST_KEY)
    if recorded is None:
        return
    expected = recorded.get("sha256") if isinstance(recorded, dict) else None
    if not isinstance(expected, str) or state_digest(state) != expected:
        raise GanforgeError(
            f"{path}: its contents do not match the digest written with them (the file was changed or damaged "
            f"after it was saved); use another copy or checkpoint, e.g. best.pt"
        )


def _looks_like_torch(path: Path) -> bool:
    """A zip archive (torch.save's format) or a legacy pickle (protocol byte 0x80)."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError:
        return True  # torch.load says why
    return head[:2] == b"PK" or head[:1] == b"\x80"


def _why_unreadable(path: Path, exc: Exception | None) -> str:
    """One short line for a checkpoint torch could not read."""
    try:
        if path.stat().st_size == 0:
            return "the file is empty (a copy or a write that did not finish?)"
    except OSError:
        pass
    if exc is None:
        return "not a torch checkpoint (neither a zip archive nor a pickle)"
    first = str(exc).strip().split(". ")[0].splitlines()[0] if str(exc).strip() else ""
    if "central directory" in first or "zip archive" in first:
        return "truncated or corrupted (not a complete torch zip archive); use another checkpoint, e.g. best.pt"
    return f"not a torch checkpoint ({type(exc).__name__}{': ' + first if first else ''})"


def checkpoint_step(path: Path | str) -> int | None:
    """The step a checkpoint was written at, read without loading its tensors (memory-mapped);
    None when the file is missing or unreadable (resuming then reports the problem itself)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - any unreadable file: the trainer's load says why
        return None
    step = state.get("step") if isinstance(state, dict) else None
    return step if isinstance(step, int) else None


#: the metadata keys of a weights-only safetensors file that ganforge wrote (``ganforge export``).
SPEC_METADATA, STEP_METADATA, DIGEST_METADATA = "ganforge.spec", "ganforge.step", "ganforge.sha256"


def shared_weights_metadata(generator: dict[str, torch.Tensor], spec: dict[str, Any], step: int | None) -> dict[str, str]:
    """The safetensors metadata that lets ganforge rebuild and check a shared generator:
    its resolved spec, its step and the digest of its tensors."""
    return {SPEC_METADATA: json.dumps(spec), STEP_METADATA: str(step or 0), DIGEST_METADATA: state_digest({"generator": generator})}


def load_shared_weights(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A weights-only safetensors file as a checkpoint: ``{"generator", "spec", "step"}``; the
    spec and step come from the metadata ganforge writes, the digest is checked when present."""
    try:
        from safetensors import safe_open
    except ImportError:
        raise GanforgeError(f"reading {path} needs the package safetensors: pip install 'ganforge[safetensors]'") from None
    try:
        with safe_open(str(path), framework="pt", device=str(map_location)) as f:
            metadata = f.metadata() or {}
            generator = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 - safe_open is not a mapping
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own errors for torn or foreign files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GanforgeError(f"cannot read {path}: not a complete safetensors file ({first})") from None
    expected = metadata.get(DIGEST_METADATA)
    if expected is not None and state_digest({"generator": generator}) != expected:
        raise GanforgeError(f"{path}: its tensors do not match the digest written with them (the file was changed or damaged after it was saved); use another copy")
    state: dict[str, Any] = {"generator": generator, "step": int(metadata.get(STEP_METADATA, 0) or 0)}
    if SPEC_METADATA in metadata:
        state["spec"] = json.loads(metadata[SPEC_METADATA])
    return state


def load_checkpoint(path: Path | str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint; refuse files that hold anything but tensors and plain containers.
    A ``.safetensors`` file is read as the generator's weights (:func:`load_shared_weights`)."""
    path = Path(path)
    if not path.is_file():
        raise GanforgeError(f"checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        return load_shared_weights(path, map_location)
    if not _looks_like_torch(path):
        raise GanforgeError(f"cannot read checkpoint {path}: {_why_unreadable(path, None)}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        first = next((line for line in lines if "Unsupported global" in line or "GLOBAL" in line), lines[-1] if lines else type(exc).__name__)
        raise GanforgeError(
            f"refusing to load {path}: it holds Python objects that could run code when unpickled, "
            f"not just tensors ({first}); re-save it as a plain state dict"
        ) from None
    except Exception as exc:  # noqa: BLE001 - torn, truncated, empty or foreign files raise all sorts
        raise GanforgeError(f"cannot read checkpoint {path}: {_why_unreadable(path, exc)}") from None
    if not isinstance(state, dict):
        raise GanforgeError(f"{path} is not a ganforge checkpoint (found {type(state).__name__}, expected a mapping)")
    verify_digest(state, path)
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

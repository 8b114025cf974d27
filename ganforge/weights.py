"""Finding pretrained weights files: an explicit path, ``$GANFORGE_WEIGHTS``, the torch hub
cache, or a download when online."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch

from ganforge.errors import GanforgeError

WEIGHTS_ENV = "GANFORGE_WEIGHTS"
DOWNLOAD_TIMEOUT_S = 20.0


def hub_checkpoint_dir() -> Path:
    """torch hub's cache of downloaded checkpoints (honours ``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def download(url: str, destination: Path) -> None:
    """Fetch ``url`` to ``destination``; raises ``OSError`` when offline."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        torch.hub.download_url_to_file(url, str(destination), progress=True)
    finally:
        socket.setdefaulttimeout(previous)


def _explicit_weights(explicit: str, filename: str) -> Path:
    """A ``weights:`` path given by the user: a file, or a folder holding ``filename``."""
    path = Path(explicit).expanduser()
    path = path / filename if path.is_dir() else path
    if not path.is_file():
        raise GanforgeError(f"weights file {path} does not exist; fix the `weights:` path (or --weights)")
    return path


def cached_weights(filename: str, hub_id: str | None = None, hub_filename: str = "model.safetensors") -> Path | None:
    """Weights file ``filename`` where ganforge looks without being told: the folder
    ``$GANFORGE_WEIGHTS``, torch hub's checkpoint folder, then (``hub_id``) the Hugging Face
    hub's own cache (``hub_id``/``hub_filename``, as ``huggingface-cli download`` leaves it).
    ``None`` when it is in none of them; never downloads."""
    places = [Path(os.environ[WEIGHTS_ENV]).expanduser() / filename] if os.environ.get(WEIGHTS_ENV) else []
    places.append(hub_checkpoint_dir() / filename)
    found = next((place for place in places if place.is_file()), None)
    if found is None and hub_id is not None:
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(hub_id, hub_filename)
        except Exception:  # noqa: BLE001 - no hub library, or an unreadable cache: not found there
            cached = None
        found = Path(cached) if isinstance(cached, str) and Path(cached).is_file() else None
    return found


def find_weights(filename: str, url: str | None, explicit: str | None = None) -> Path:
    """The path of weights file ``filename``.

    Looked for, in order: ``explicit`` (a file, or a folder holding ``filename``), then
    :func:`cached_weights`; then downloaded into torch hub's checkpoint folder from ``url``.
    Offline and absent: a one-line error naming the file and where to put it.
    """
    if explicit:
        return _explicit_weights(explicit, filename)
    found = cached_weights(filename)
    if found is not None:
        return found
    hub_path = hub_checkpoint_dir() / filename
    if url:
        try:
            download(url, hub_path)
            return hub_path
        except Exception:  # noqa: BLE001 - offline or blocked: say where to put the file instead
            hub_path.unlink(missing_ok=True)
    source = f" (download it from {url})" if url else ""
    raise GanforgeError(
        f"weights file {filename} not found and could not be downloaded{source}; put it in {hub_path.parent}, "
        f"or in a folder named by ${WEIGHTS_ENV}, or give its path as `weights:` (`--weights` for `ganforge fid` and `stats`)"
    )


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from ``path``, loaded safely (``weights_only=True``) onto the CPU."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise GanforgeError(f"{path}: not a loadable weights file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict):
        raise GanforgeError(f"{path}: expected a state dict, found {type(state).__name__}")
    return state


def find_hub_weights(filename: str, hub_id: str, explicit: str | None = None, hub_filename: str = "model.safetensors") -> Path:
    """The path of a Hugging Face hub model's weights, for extractors built with timm.

    Looked for, in order: ``explicit`` (a file, or a folder holding ``filename``), then
    :func:`cached_weights` with ``hub_id``. Never downloads: absent, a one-line error naming
    the file and where to put it.
    """
    if explicit:
        return _explicit_weights(explicit, filename)
    found = cached_weights(filename, hub_id, hub_filename)
    if found is not None:
        return found
    raise GanforgeError(
        f"weights file {filename} not found; put it in a folder named by ${WEIGHTS_ENV}, give its path as `weights:` "
        f"(`--weights` for `ganforge fid` and `stats`), or fetch it into the hub cache: huggingface-cli download {hub_id} {hub_filename}"
    )

"""Where ganforge caches what it computes once: reference statistics, trained classifiers."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ganforge.interfaces.dataset import Dataset

CACHE_ENV = "GANFORGE_CACHE"


def cache_dir(*parts: str) -> Path:
    """``$GANFORGE_CACHE/<parts>``, else ``$XDG_CACHE_HOME/ganforge/<parts>``, else
    ``~/.cache/ganforge/<parts>`` (not created)."""
    if os.environ.get(CACHE_ENV):
        base = Path(os.environ[CACHE_ENV]).expanduser()
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "ganforge"
    return base.joinpath(*parts)


def data_roots(root: str | None = None) -> list[Path]:
    """Where datasets look for their files, in order: an explicit ``root``, ``$GANFORGE_DATA``,
    then ganforge's data cache (where downloads go)."""
    roots = [Path(root).expanduser()] if root else []
    if os.environ.get("GANFORGE_DATA"):
        roots.append(Path(os.environ["GANFORGE_DATA"]).expanduser())
    roots.append(cache_dir("data"))
    return roots


def dataset_key(dataset: Dataset, split: str = "train") -> str:
    """A file-name-safe key for one split of a dataset, the *dataset fingerprint*:
    ``<name>-<split>-<digest>``, the digest over the dataset's class (module and name), its
    ``image_shape``, the split's name, its size and :meth:`~ganforge.interfaces.dataset.Split.fingerprint`
    (for files: names, sizes, modification times and the settings that change a decoded sample;
    for tensors in memory: their bytes). Two datasets differing in any of these never share a
    cache entry, and a folder of files is keyed without decoding it."""
    data = dataset.load(split)
    digest = hashlib.blake2b(digest_size=8)
    for part in (type(dataset).__module__, type(dataset).__qualname__, tuple(dataset.image_shape), split, len(data), data.fingerprint()):
        digest.update(f"{part}\0".encode())
    name = getattr(dataset, "slug", None) or type(dataset).__name__.lower()
    return f"{name}-{split}-{digest.hexdigest()}"

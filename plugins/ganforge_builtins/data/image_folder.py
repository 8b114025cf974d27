"""Any folder of images, or a stylegan2-ada / stylegan3 dataset ZIP, as a streamed dataset.

The files are indexed (names, sizes, modification times; for a ZIP its central directory), never
decoded ahead: each image is read and decoded with ``torchvision.io`` when a DataLoader worker
asks for it. The index is kept in ganforge's cache twice: under its source, reused while every
folder's modification time (or the ZIP's size and time) is unchanged, so a start-up does not
stat 100k files again; and under its fingerprint, so a resumed run whose folder changed says what
changed. A file rewritten in place leaves its folder's time alone: ``--resume`` therefore reads
every file's size and time again before it trusts a cached index.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge import Dataset, hookimpl
from ganforge.cache import cache_dir
from ganforge.errors import GanforgeError
from ganforge.interfaces.dataset import Sample, Split, UnreadableSample
from ganforge.types import Range
from ganforge_builtins.data.image_files import IMAGE_EXTENSIONS as EXTENSIONS
from ganforge_builtins.data.image_files import UnreadableImage, read_image

# torchvision 0.29 warns on every decode that TorchCodec will take image decoding over; until
# then torchvision.io (libjpeg-turbo, libpng) is the decoder this module uses, deliberately.
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision", category=DeprecationWarning)

#: formats torchvision.io decodes (libjpeg-turbo, libpng, libwebp); others go through PIL.
TORCHVISION_FORMATS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp"})
#: stylegan2-ada / stylegan3's labels file inside a dataset ZIP or folder.
LABELS_FILE = "dataset.json"


@dataclass(frozen=True)
class Index:
    """What a folder or ZIP holds, without decoding it: each image's relative name, size and
    modification time, its label, and the class names."""

    names: tuple[str, ...]
    sizes: tuple[int, ...]
    times: tuple[int, ...]
    labels: tuple[int, ...] | None
    classes: tuple[str, ...]
    #: read from ganforge's cache, its folders unchanged (a file rewritten in place may not be seen)
    cached: bool = field(default=False, compare=False)

    def digest(self, settings: str) -> str:
        """The fingerprint: names, sizes, times, labels and ``settings`` (what changes a decoded sample)."""
        digest = hashlib.blake2b(settings.encode(), digest_size=8)
        digest.update("".join(f"{n}\0{s}\0{t}\n" for n, s, t in zip(self.names, self.sizes, self.times)).encode())
        digest.update(repr((self.labels, self.classes)).encode())
        return digest.hexdigest()

    def save(self, path: Path) -> None:
        if not path.exists():
            _write_json(path, {"names": self.names, "sizes": self.sizes, "times": self.times})

    def changes(self, old: dict[str, Any]) -> str:
        """``"2 files added, 1 modified (e.g. cat/3.png)"`` from ``old`` (a saved index) to this one."""
        before = {n: (s, t) for n, s, t in zip(old["names"], old["sizes"], old["times"])}
        now = {n: (s, t) for n, s, t in zip(self.names, self.sizes, self.times)}
        added = [n for n in now if n not in before]
        removed = [n for n in before if n not in now]
        modified = [n for n in now if n in before and before[n] != now[n]]
        parts = [f"{len(v)} file{'s' * (len(v) != 1)} {what}" for v, what in ((added, "added"), (removed, "removed"), (modified, "modified")) if v]
        example = (added or removed or modified or [""])[0]
        return (", ".join(parts) + f" (e.g. {example})") if parts else "only its labels or settings changed"


def _read_labels(text: str | None, names: tuple[str, ...], where: str) -> dict[str, int] | None:
    """stylegan's ``dataset.json``: ``{"labels": [[name, label], ...]}`` or ``{"labels": null}``."""
    if text is None:
        return None
    try:
        pairs = json.loads(text).get("labels")
        labels = None if pairs is None else {str(name): int(label) for name, label in pairs}
    except (ValueError, TypeError, AttributeError) as exc:
        raise GanforgeError(f"{where}: not a dataset.json of labels ({exc}); expected {{\"labels\": [[\"file\", label], ...]}} or null") from None
    if labels is not None:
        missing = [n for n in names if n not in labels]
        if missing:
            raise GanforgeError(f"{where}: no label for {missing[0]} ({len(missing)} images unlabelled); label every image or set labels to null")
    return labels


def _classes(names: tuple[str, ...], where: str) -> tuple[tuple[int, ...] | None, tuple[str, ...]]:
    """Class subfolders as labels (in sorted name order): every image inside one, or none are."""
    tops = [n.split("/", 1)[0] if "/" in n else None for n in names]
    if all(t is None for t in tops):
        return None, ()
    loose = [n for n, t in zip(names, tops) if t is None]
    if loose:
        raise GanforgeError(
            f"{where} holds both class subfolders and {len(loose)} loose images (e.g. {loose[0]}); "
            "move the loose images into a class folder or remove the subfolders"
        )
    classes = tuple(sorted({t for t in tops if t is not None}))
    number = {c: i for i, c in enumerate(classes)}
    return tuple(number[t] for t in tops if t is not None), classes


def _scan_folder(root: Path) -> tuple[Index, dict[str, Any]]:
    """Every image under ``root`` (any depth), sorted by relative name, with size and time; and
    the stamp of what was read: each folder's modification time (a file added, removed or
    renamed changes its folder's) and the labels file's size and time."""
    found: list[tuple[str, int, int]] = []
    folders: dict[str, int] = {}
    pending = [""]  # folders relative to root, as "" or "a/b/"; plain strings: pathlib costs seconds at 100k files
    while pending:
        prefix = pending.pop()
        path = os.path.join(root, prefix) if prefix else str(root)
        folders[prefix] = os.stat(path).st_mtime_ns  # before listing: a file added meanwhile makes the stamp stale
        with os.scandir(path) as entries:
            for entry in entries:
                name = entry.name
                if entry.is_dir():
                    pending.append(f"{prefix}{name}/")
                elif os.path.splitext(name)[1].lower() in EXTENSIONS and entry.is_file():
                    stat = entry.stat()
                    found.append((prefix + name, stat.st_size, stat.st_mtime_ns))
    found.sort()
    names = tuple(n for n, _, _ in found)
    labels_file = root / LABELS_FILE
    labels_json = labels_file.read_text() if labels_file.is_file() else None
    index = _labelled(names, tuple(s for _, s, _ in found), tuple(t for _, _, t in found), labels_json, str(root))
    return index, {"folders": folders, "labels_file": _file_stamp(labels_file)}


def _file_stamp(path: Path) -> list[int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def _stamp_holds(root: Path, stamp: dict[str, Any]) -> bool:
    """Whether what ``stamp`` was taken of is unchanged (read from the file system now)."""
    if "zip" in stamp:
        return _file_stamp(root) == stamp["zip"]
    try:
        unchanged = all(os.stat(os.path.join(root, f) if f else root).st_mtime_ns == t for f, t in stamp["folders"].items())
    except OSError:  # a folder removed
        return False
    return unchanged and _file_stamp(root / LABELS_FILE) == stamp["labels_file"]


def cached_index(root: Path) -> Index:
    """The index of a folder or ZIP: from ganforge's cache while nothing its stamp covers has
    changed, else read afresh (and cached). Seconds saved at 100k files; see the module's note."""
    entry = _source_entry(root)
    try:
        saved = json.loads(entry.read_text())
        if saved["source"] == str(root.resolve()) and _stamp_holds(root, saved["stamp"]):
            labels = None if saved["labels"] is None else tuple(saved["labels"])
            return Index(tuple(saved["names"]), tuple(saved["sizes"]), tuple(saved["times"]), labels, tuple(saved["classes"]), cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no cached index, or one this version cannot read: index afresh
    if root.is_file():
        stamp = {"zip": _file_stamp(root)}
        index = index_zip(root)
    else:
        index, stamp = _scan_folder(root)
    fields = {"names": index.names, "sizes": index.sizes, "times": index.times, "labels": index.labels, "classes": index.classes}
    _write_json(entry, {"source": str(root.resolve()), "stamp": stamp, **fields})
    return index


def _source_entry(root: Path) -> Path:
    return cache_dir("index", "sources", hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest() + ".json")


def _forget_cached_index(root: Path) -> None:
    """Drop the cached index of ``root`` (it missed a change): the next start reads the folder afresh."""
    try:
        _source_entry(root).unlink(missing_ok=True)
    except OSError:
        pass


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """``value`` to ``path`` whole or not at all (a cache is best effort: an unwritable one is skipped)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".tmp{os.getpid()}")
        temporary.write_text(json.dumps(value))
        temporary.replace(path)
    except OSError:
        pass


def index_zip(path: Path) -> Index:
    """Every image in the ZIP at ``path``, from its central directory (nothing is decompressed)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = sorted((i for i in archive.infolist() if Path(i.filename).suffix.lower() in EXTENSIONS and not i.is_dir()), key=lambda i: i.filename)
            labels = archive.read(LABELS_FILE).decode() if LABELS_FILE in archive.namelist() else None
    except (zipfile.BadZipFile, OSError) as exc:
        raise GanforgeError(f"{path}: not a readable ZIP archive ({exc}); set data.root to a folder of images or a dataset ZIP") from None
    names = tuple(i.filename for i in infos)
    return _labelled(names, tuple(i.file_size for i in infos), tuple(i.CRC for i in infos), labels, str(path))


def _labelled(names: tuple[str, ...], sizes: tuple[int, ...], times: tuple[int, ...], labels_json: str | None, where: str) -> Index:
    given = _read_labels(labels_json, names, f"{where}/{LABELS_FILE}")
    if given is not None:
        labels = tuple(given[n] for n in names)
        return Index(names, sizes, times, labels, tuple(str(c) for c in range(max(labels, default=-1) + 1)))
    if labels_json is not None:  # {"labels": null}: unlabelled, whatever its folders (stylegan's 00000/, 00001/, ...)
        return Index(names, sizes, times, None, ())
    folders, classes = _classes(names, where)
    return Index(names, sizes, times, folders, classes)


def square(image: Tensor, size: int) -> Tensor:
    """uint8 ``(C, H, W)`` resized (shorter side to ``size``, bilinear with antialiasing) and
    centre-cropped to ``size`` x ``size``; an image of that size already is returned as it is.
    Resized channels-last, where torch has its fast uint8 kernel (a third of the time of
    ``TF.resize`` on a channels-first image)."""
    height, width = image.shape[1:]
    if (height, width) == (size, size):
        return image.contiguous()
    short, long = min(height, width), max(height, width)
    scaled = (size, int(size * long / short))
    target = scaled if height <= width else scaled[::-1]
    batch = image[None].contiguous(memory_format=torch.channels_last)
    resized = F.interpolate(batch, size=target, mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = round((resized.shape[1] - size) / 2), round((resized.shape[2] - size) / 2)  # as torchvision's center_crop
    return resized[:, top : top + size, left : left + size].contiguous()


def grey(image: Tensor) -> Tensor:
    """uint8 RGB -> one channel, ITU-R 601-2 luma as PIL's convert("L") and torchvision compute it."""
    weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    return (image.float() * weights).sum(0, keepdim=True).round().clamp(0, 255).to(torch.uint8)


class NameTable:
    """File names packed in two arrays, their UTF-8 bytes and offsets, instead of a tuple of str.

    A DataLoader worker forked from the trainer reads a name without touching a Python object
    per file: reading an item of a tuple writes its reference count, which over an epoch copies
    every name's memory page into every worker (about 60 bytes a file: 500 MB for 1M files and
    8 workers). The arrays' pages stay shared."""

    def __init__(self, names: Sequence[str]) -> None:
        encoded = [name.encode() for name in names]
        self.offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=self.offsets[1:])
        self.data = np.frombuffer(b"".join(encoded), dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> str:
        return self.data[self.offsets[index] : self.offsets[index + 1]].tobytes().decode()


class ImageFiles(Split):
    """The images of a folder or ZIP, each read, decoded (``torchvision.io``), resized (shorter
    side) and centre-cropped when asked for. Holds names only (packed, see :class:`NameTable`),
    so it pickles to workers; a ZIP is opened once per process."""

    def __init__(self, source: Path, index: Index, image_size: int, channels: int) -> None:
        self.source, self.index, self.image_size, self.channels = source, index, image_size, channels
        self.names = NameTable(index.names)
        self.zipped = source.is_file()
        self.labels = None if index.labels is None else torch.tensor(index.labels, dtype=torch.int64)
        self._archive: tuple[int, zipfile.ZipFile] | None = None
        self._fingerprint: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_archive": None}  # an open ZIP stays in the process that opened it

    def __len__(self) -> int:
        return len(self.names)

    def _bytes(self, name: str) -> bytes:
        if not self.zipped:
            return (self.source / name).read_bytes()
        if self._archive is None or self._archive[0] != os.getpid():
            self._archive = (os.getpid(), zipfile.ZipFile(self.source))
        return self._archive[1].read(name)

    def get(self, index: int, generator: torch.Generator | None = None) -> Sample:
        name = self.names[index]
        where = f"{self.source}/{name}" if not self.zipped else f"{self.source}:{name}"
        try:
            image = self._decode(name)
        except (OSError, RuntimeError, ValueError, zipfile.BadZipFile, UnreadableImage) as exc:
            raise UnreadableSample(f"{where}: cannot read the image ({' '.join(str(exc).split())[:200]})") from None
        return Sample(square(image, self.image_size))

    def _decode(self, name: str) -> Tensor:
        from torchvision.io import ImageReadMode, decode_image  # torchvision's import takes seconds: only where images are read

        suffix = Path(name).suffix.lower()
        if suffix in TORCHVISION_FORMATS:
            data = torch.frombuffer(bytearray(self._bytes(name)), dtype=torch.uint8)
            return decode_image(data, mode=ImageReadMode.GRAY if self.channels == 1 else ImageReadMode.RGB)
        if self.zipped:
            raise UnreadableImage(f"{suffix} inside a ZIP; pack PNG or JPEG files")
        image = read_image(self.source / name)  # BMP, TIFF, PPM ... through PIL
        if image.shape[0] != self.channels:
            image = image.expand(3, -1, -1) if self.channels == 3 else grey(image)
        return image

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = self.index.digest(self._settings())
        return self._fingerprint

    def _settings(self) -> str:
        return f"image-folder size={self.image_size} channels={self.channels}"

    def changed_since(self, fingerprint: str) -> str | None:
        index = self.index
        if index.cached and not self.zipped:  # a file rewritten in place leaves its folder's time alone: look at every file
            index, _ = _scan_folder(self.source)
            if index != self.index:
                _forget_cached_index(self.source)
        if index.digest(self._settings()) == fingerprint:
            return None
        saved = cache_dir("index", f"{fingerprint}.json")
        try:
            old = json.loads(saved.read_text())
        except (OSError, ValueError):
            return f"its files changed (the index of the run's files, {saved}, is no longer cached to say which)"
        return f"{self.source}: {index.changes(old)}"


class ImageFolder(Dataset):
    """A folder of images (PNG, JPEG, ...) or a stylegan2-ada / stylegan3 dataset ZIP, streamed.

    Each image is resized and centre-cropped to a square size when it is drawn: nothing is
    decoded before training starts.

    When the images sit in subfolders, each subfolder is a class (labels in sorted name order,
    images found at any depth inside it); a ``dataset.json`` beside them (``{"labels": [[name,
    label], ...]}``, as stylegan writes) gives the labels instead; otherwise the dataset is
    unlabelled. The folder is one split: ``train`` and ``test`` both return all of it.

    Args:
        root: the folder, or a ``.zip`` archive (e.g. one written by ``ganforge dataset pack``).
        image_size: images are resized (shorter side) and centre-cropped to this size.
        channels: 1 (greyscale) or 3 (RGB).
    """

    def __init__(self, root: str, image_size: Annotated[int, Range(min=4)] = 64, channels: Literal[1, 3] = 3) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        if image_size < 4:
            raise ValueError(f"image_size must be at least 4, got {image_size}")
        self.root = Path(root).expanduser()
        if not (self.root.is_dir() or (self.root.is_file() and zipfile.is_zipfile(self.root))):
            what = "is not a ZIP archive" if self.root.is_file() else "does not exist"
            raise GanforgeError(f"image folder {self.root} {what}; set data.root to a folder of images or a dataset ZIP")
        self.image_shape = (channels, image_size, image_size)
        self._index = self.read_index()
        self.class_names = self._index.classes

    def read_index(self) -> Index:
        """The folder's (or ZIP's) index as it is now (from the cache while its folders are
        unchanged); an error when it holds no image."""
        index = cached_index(self.root)
        if not index.names:
            raise GanforgeError(f"no images ({', '.join(sorted(EXTENSIONS))}) in {self.root}")
        return index

    def files(self) -> list[tuple[Path, int | None]]:
        """Every image of a folder with its class index (``None`` when unlabelled)."""
        labels = self._index.labels or (None,) * len(self._index.names)
        return [(self.root / name, label) for name, label in zip(self._index.names, labels)]

    def load(self, split: str = "train") -> ImageFiles:
        if split not in ("train", "test"):
            raise GanforgeError(f"image-folder has splits 'train' and 'test', not '{split}'")
        index = self._index  # read when the dataset was built: a run sees the files as they were when it started
        files = ImageFiles(self.root, index, self.image_shape[1], self.image_shape[0])
        try:
            index.save(cache_dir("index", f"{files.fingerprint()}.json"))
        except OSError:
            pass  # the cached index only says what changed on resume; training does not need it
        return files


@hookimpl
def register_datasets(register):
    register("image-folder", ImageFolder)

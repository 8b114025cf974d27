"""Any folder of images as a dataset; class subfolders become labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import torch
import torchvision.transforms.functional as TF
from PIL import Image, UnidentifiedImageError

from ganforge import Dataset, DataSplit, hookimpl
from ganforge.errors import GanforgeError
from ganforge.types import Range
from ganforge_builtins.data.image_files import IMAGE_EXTENSIONS as EXTENSIONS


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    paths = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in paths if p.is_file() and p.suffix.lower() in EXTENSIONS)


class ImageFolder(Dataset):
    """A folder of images (PNG, JPEG, ...), resized and centre-cropped to a square size.

    When ``root`` has subfolders holding images, each subfolder is a class (labels in sorted
    name order, images found at any depth inside it); otherwise the images directly in
    ``root`` form an unlabelled dataset. The folder is one split: ``train`` and ``test``
    both return all of it.

    Args:
        root: the folder.
        image_size: images are resized (shorter side) and centre-cropped to this size.
        channels: 1 (greyscale) or 3 (RGB).
    """

    def __init__(self, root: str, image_size: Annotated[int, Range(min=4)] = 64, channels: Literal[1, 3] = 3) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        if image_size < 4:
            raise ValueError(f"image_size must be at least 4, got {image_size}")
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise GanforgeError(f"image folder {self.root} does not exist; set data.root to a folder of images")
        self.image_shape = (channels, image_size, image_size)
        self.class_folders = sorted(d for d in self.root.iterdir() if d.is_dir() and _images_in(d, recursive=True))
        self.class_names = tuple(d.name for d in self.class_folders)

    def files(self) -> list[tuple[Path, int | None]]:
        """Every image with its class index (``None`` when unlabelled)."""
        loose = _images_in(self.root, recursive=False)
        if self.class_folders and loose:
            raise GanforgeError(
                f"{self.root} holds both class subfolders and {len(loose)} loose images (e.g. {loose[0].name}); "
                "move the loose images into a class folder or remove the subfolders"
            )
        if not self.class_folders:
            return [(path, None) for path in loose]
        return [(path, label) for label, folder in enumerate(self.class_folders) for path in _images_in(folder, True)]

    def _read(self, path: Path) -> torch.Tensor:
        try:
            with Image.open(path) as image:
                image = image.convert("L" if self.image_shape[0] == 1 else "RGB")
        except (OSError, UnidentifiedImageError) as exc:
            raise GanforgeError(f"{path}: cannot read the image ({exc}); remove or replace the file") from exc
        size = self.image_shape[1]
        image = TF.center_crop(TF.resize(image, size, antialias=True), [size, size])
        return TF.pil_to_tensor(image)

    def load(self, split: str = "train") -> DataSplit:
        if split not in ("train", "test"):
            raise GanforgeError(f"image-folder has splits 'train' and 'test', not '{split}'")
        files = self.files()
        if not files:
            raise GanforgeError(f"no images ({', '.join(sorted(EXTENSIONS))}) in {self.root}")
        images = torch.stack([self._read(path) for path, _ in files])
        labels = torch.tensor([label for _, label in files], dtype=torch.int64) if self.class_folders else None
        return DataSplit(images, labels)


@hookimpl
def register_datasets(register):
    register("image-folder", ImageFolder)

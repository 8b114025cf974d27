"""Conformance of datasets: shapes, dtypes and ranges of what ``load`` returns, labels that
match the classes, determinism, and the sample picture the trainer writes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from ganforge.errors import GanforgeError
from ganforge.interfaces import Dataset, DataSplit, to_model_range
from ganforge.testing.constructor import Setup, check_constructor, construct
from ganforge.testing.failures import Checker, expect


def check_dataset(factory: Callable[..., Dataset], /, *, setup: Setup | None = None, **params: Any) -> None:
    """Check a dataset class built with ``params``; raises
    :class:`~ganforge.testing.ConformanceError` listing every failed check, or
    :class:`~ganforge.testing.ComponentUnavailable` when its data cannot be found.

    Example: ``check_dataset(ImageFolder, root="tests/data/images")``.
    """
    setup = setup or Setup()
    checker = Checker("dataset", factory)
    check_constructor(checker, factory)
    dataset, kwargs = construct(checker, factory, params, setup)
    found = len(checker.problems)
    with checker.check("interface"):
        expect(isinstance(dataset, Dataset), f"builds a {type(dataset).__name__}, not a ganforge.Dataset subclass")
        shape = tuple(dataset.image_shape)
        expect(bool(shape) and all(isinstance(s, int) and s > 0 for s in shape), f"image_shape must be positive ints set in the constructor, got {shape!r}")
        names = tuple(dataset.class_names)
        expect(all(isinstance(c, str) for c in names), "class_names must be strings")
        expect(dataset.num_classes == len(names), f"num_classes is {dataset.num_classes} but there are {len(names)} class_names")
    if len(checker.problems) > found:  # the other checks would only repeat it
        checker.finish()
    split: DataSplit | None = None
    with checker.check("load", needs_resources=True):
        split = dataset.load("train")
        _expect_split(split, dataset, "train")
    with checker.check("test split"):
        try:
            other = dataset.load("test")
        except GanforgeError:
            other = None  # a dataset without a test split says so with a GanforgeError
        if other is not None:
            _expect_split(other, dataset, "test")
    if split is None or len(checker.problems) > found:
        checker.finish()
    with checker.check("reproducible"):
        twin, _ = construct(checker, factory, kwargs, setup, seed=setup.seed + 1)
        again = twin.load("train")
        expect(torch.equal(again.samples, split.samples), "built again (under another torch seed) it loads different samples; seed them from a parameter")
        expect(
            (again.labels is None and split.labels is None) or (again.labels is not None and split.labels is not None and torch.equal(again.labels, split.labels)),
            "built again it loads different labels",
        )
    with checker.check("save_samples"):
        samples = to_model_range(split.samples[: min(8, len(split))])
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "samples.png"
            dataset.save_samples(samples, path, 4)
            expect(path.is_file() and path.stat().st_size > 0, f"save_samples(samples, {path.name!r}, nrow) wrote no file at the given path")
    checker.finish()


def _expect_split(split: Any, dataset: Dataset, name: str) -> None:
    expect(isinstance(split, DataSplit), f"load({name!r}) returned {type(split).__name__}, expected a DataSplit")
    samples, labels = split.samples, split.labels
    shape = tuple(dataset.image_shape)
    expect(samples.ndim == len(shape) + 1 and tuple(samples.shape[1:]) == shape, f"{name} samples have shape {tuple(samples.shape)}, expected (N, *image_shape) = (N, {', '.join(map(str, shape))})")
    expect(samples.shape[0] >= 1, f"the {name} split is empty")
    expect(samples.dtype == torch.uint8 or samples.is_floating_point(), f"{name} samples must be uint8 [0, 255] or float [-1, 1], got {samples.dtype}")
    if samples.is_floating_point():
        expect(bool(torch.isfinite(samples).all()), f"{name} samples contain NaN or infinity")
        low, high = float(samples.min()), float(samples.max())
        expect(low >= -1 and high <= 1, f"float {name} samples must lie in [-1, 1], got [{low:.4g}, {high:.4g}]")
    if dataset.num_classes:
        expect(labels is not None, f"the dataset has {dataset.num_classes} classes but load({name!r}) gives no labels")
        expect(labels.dtype == torch.int64 and tuple(labels.shape) == (samples.shape[0],), f"{name} labels must be int64 of shape (N,), got {labels.dtype} {tuple(labels.shape)}")
        expect(int(labels.min()) >= 0 and int(labels.max()) < dataset.num_classes, f"{name} labels must lie in [0, {dataset.num_classes})")
    else:
        expect(labels is None, f"the dataset has no class_names but load({name!r}) gives labels; set class_names")

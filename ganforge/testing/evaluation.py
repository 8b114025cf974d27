"""Conformance of metrics and feature extractors: what they return, that it is finite and
repeatable, and that they leave the generator alone."""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Any, Callable

import torch
from torch import Tensor

from ganforge.interfaces import Dataset, EvalContext, FeatureExtractor, Generator, Metric, MetricSubject, to_model_range
from ganforge.testing.constructor import Setup, check_constructor, construct
from ganforge.testing.failures import Checker, ComponentUnavailable, expect
from ganforge.testing.fakes import TinyGenerator, TinyImages

TOLERANCE = 1e-5


def check_metric(factory: Callable[..., Metric], /, *, setup: Setup | None = None, **params: Any) -> None:
    """Check a metric class built with ``params``; raises
    :class:`~ganforge.testing.ConformanceError` listing every failed check.

    It evaluates the kit's tiny generator on the kit's tiny labelled images (or ``setup``'s
    generator and dataset). Pass a fast extractor to metrics that take one, e.g.
    ``check_metric(FID, samples=64, extractor=RandomFeatures())``.
    """
    setup = setup or Setup()
    checker = Checker("metric", factory)
    check_constructor(checker, factory)
    metric, kwargs = construct(checker, factory, params, setup)
    found = len(checker.problems)
    with checker.check("interface"):
        expect(isinstance(metric, Metric), f"builds a {type(metric).__name__}, not a ganforge.Metric subclass")
        expect(isinstance(metric.higher_is_better, bool), f"higher_is_better must be a bool, got {metric.higher_is_better!r}")
    if len(checker.problems) > found:  # the other checks would only repeat it
        checker.finish()
    dataset = _dataset(setup)
    generator = _generator(setup, dataset)
    context = EvalContext(generator, dataset, torch.device(setup.device), seed=setup.seed, batch_size=max(setup.batch_size, 2) * 8)
    found = len(checker.problems)
    with checker.check("check"):
        expect(
            isinstance(inspect.getattr_static(type(metric), "check"), classmethod),
            "check must be a classmethod, check(cls, subject: ganforge.MetricSubject): the spec resolver asks it before anything is built",
        )
        unfit = metric.check(MetricSubject.of(generator))
        expect(unfit is None or (isinstance(unfit, str) and bool(unfit)), f"check must return None or a reason (a non-empty str), got {unfit!r}")
    if len(checker.problems) > found:
        checker.finish()
    if unfit:  # the metric's own word that this setup does not suit it: nothing to check here
        raise ComponentUnavailable(checker.component, [("check", f"cannot measure the kit's generator: {unfit}; pass setup=Setup(...) with one it can")])
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    values: dict[str, float] = {}
    found = len(checker.problems)
    with checker.check("evaluate", needs_resources=True):
        values = metric.evaluate(context)
        _expect_values(values)
    if len(checker.problems) > found:
        checker.finish()
    with checker.check("generator untouched"):
        after = generator.state_dict()
        changed = [k for k in before if not torch.equal(before[k], after[k])]
        expect(not changed, f"evaluate changed the generator's weights or buffers: {', '.join(changed[:3])}")
        expect(not generator.training, "evaluate left the generator in training mode")
    with checker.check("repeatable"):
        _expect_same(values, metric.evaluate(context), "evaluated twice with one context seed")
    with checker.check("reproducible"):
        twin, _ = construct(checker, factory, kwargs, setup, seed=setup.seed + 1)
        _expect_same(values, twin.evaluate(context), "a second instance (built under another torch seed)")
    checker.finish()


def check_extractor(factory: Callable[..., FeatureExtractor], /, *, setup: Setup | None = None, **params: Any) -> None:
    """Check a feature extractor class built with ``params``; raises
    :class:`~ganforge.testing.ConformanceError` listing every failed check, or
    :class:`~ganforge.testing.ComponentUnavailable` when its weights cannot be found.

    Features must be ``(N, feature_dim)`` float32, finite, deterministic, and independent of
    how samples are batched (an extractor left in training mode fails this).
    """
    setup = setup or Setup()
    checker = Checker("extractor", factory)
    check_constructor(checker, factory)
    dataset = _dataset(setup)
    extractor, kwargs = construct(checker, factory, params, setup)
    found = len(checker.problems)
    with checker.check("interface"):
        expect(isinstance(extractor, FeatureExtractor), f"builds a {type(extractor).__name__}, not a ganforge.FeatureExtractor subclass")
    if len(checker.problems) > found:
        checker.finish()
    with checker.check("prepare", needs_resources=True):
        extractor = _prepare(extractor, dataset, setup)
    n = max(setup.batch_size, 4)
    train = dataset.load("train")
    images = to_model_range(torch.stack([train.get(i).image for i in range(min(n, len(train)))])).to(setup.device)
    features: Tensor | None = None
    with checker.check("features"):
        with torch.no_grad():
            features = extractor.features(images)
        expect(isinstance(features, Tensor) and features.ndim == 2 and features.shape[0] == n, f"features must have shape (N, feature_dim) = ({n}, ...), got {getattr(features, 'shape', None)}")
        expect(features.dtype == torch.float32, f"features must be float32, got {features.dtype}")
        expect(bool(torch.isfinite(features).all()), "features contain NaN or infinity")
        dim = getattr(extractor, "feature_dim", None)
        expect(dim is None or dim == features.shape[1], f"feature_dim is {dim} but features have {features.shape[1]} columns")
    if features is None or len(checker.problems) > found:
        checker.finish()
    with checker.check("deterministic"):
        with torch.no_grad():
            again = extractor.features(images)
            split = torch.cat([extractor.features(images[:2]), extractor.features(images[2:])])
        expect(torch.allclose(again, features, atol=TOLERANCE, rtol=TOLERANCE), "two calls on the same images give different features (dropout or training mode?)")
        expect(torch.allclose(split, features, atol=1e-4, rtol=1e-4), "features depend on how the images are batched (batch norm in training mode?)")
    with checker.check("logits"):
        num_classes = getattr(extractor, "num_classes", None)
        try:
            with torch.no_grad():
                logits = extractor.logits(images)
        except NotImplementedError:
            expect(num_classes is None, f"num_classes is {num_classes} but logits() is not implemented")
        else:
            expect(isinstance(logits, Tensor) and logits.ndim == 2 and logits.shape[0] == n, f"logits must have shape (N, classes), got {getattr(logits, 'shape', None)}")
            expect(bool(torch.isfinite(logits).all()), "logits contain NaN or infinity")
            expect(num_classes is None or logits.shape[1] == num_classes, f"num_classes is {num_classes} but logits have {logits.shape[1]} columns")
    with checker.check("reproducible"):
        twin, _ = construct(checker, factory, kwargs, setup, seed=setup.seed + 1)
        twin = _prepare(twin, dataset, setup)
        with torch.no_grad():
            expect(torch.allclose(twin.features(images), features, atol=TOLERANCE, rtol=TOLERANCE), "a second instance (built under another torch seed) gives different features; seed random weights from a parameter")
    checker.finish()


def _dataset(setup: Setup) -> Dataset:
    if setup.dataset is not None:
        return setup.dataset
    shape = tuple(setup.image_shape or (1, 28, 28))
    return TinyImages(shape, num_classes=setup.num_classes or 4, seed=setup.seed)  # type: ignore[arg-type]


def _generator(setup: Setup, dataset: Dataset) -> Generator:
    if setup.generator is not None:
        generator = setup.generator
    else:
        torch.manual_seed(setup.seed)
        generator = TinyGenerator(tuple(dataset.image_shape), num_classes=setup.num_classes)
    return generator.to(setup.device).eval()


def _prepare(extractor: FeatureExtractor, dataset: Dataset, setup: Setup) -> FeatureExtractor:
    """Extractors that learn from the data or load weights late do it in ``prepare``."""
    prepare = getattr(extractor, "prepare", None)
    if callable(prepare):
        return prepare(dataset, torch.device(setup.device))
    return extractor.to(setup.device).eval()


def _expect_values(values: Any) -> None:
    expect(isinstance(values, dict) and bool(values), f"evaluate must return a non-empty dict of name -> number, got {values!r}")
    for name, value in values.items():
        expect(isinstance(name, str), f"value names must be strings, got {name!r}")
        is_number = isinstance(value, numbers.Real) and not isinstance(value, bool) and not isinstance(value, Tensor)
        expect(is_number, f"'{name}' is a {type(value).__name__}; return plain Python floats (float(x)) so they go into metrics.jsonl")
        expect(math.isfinite(value), f"'{name}' is {value}")


def _expect_same(first: dict[str, float], second: dict[str, float], how: str) -> None:
    expect(set(first) == set(second), f"{how}: different value names {sorted(first)} and {sorted(second)}")
    differ = {k: (first[k], second[k]) for k in first if not math.isclose(first[k], second[k], rel_tol=TOLERANCE, abs_tol=1e-8)}
    expect(not differ, f"{how}: different values {differ}")

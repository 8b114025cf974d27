"""Provenance: how a metric value was computed, so two scores can be told comparable or not.

A metric reports a plain JSON-able dict (:meth:`ganforge.Metric.provenance`): the extractor
and its layers, a digest of its weights, its preprocessing, sample counts, the reference
and its digest, the precision of the statistics, the generator's weights (EMA or raw),
truncation and ganforge's version. A run stores each distinct one once, in
``provenance.json`` next to ``metrics.jsonl`` (:func:`record_provenance`), keyed by the
metric's name in the spec; ``ganforge runs`` and ``ganforge eval`` show it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganforge.files import atomic_write_text
from ganforge.version import __version__

if TYPE_CHECKING:
    from ganforge.interfaces.extractor import FeatureExtractor
    from ganforge.interfaces.metric import EvalContext, Metric

PROVENANCE_FILE = "provenance.json"
#: Keys that say when or where, not how: ignored when two provenances are compared.
NOT_COMPARED = frozenset({"from_step", "values", "path"})


def ganforge_version() -> str:
    """The installed ganforge's version."""
    return __version__


def file_digest(path: Path | str, length: int = 16) -> str:
    """The first ``length`` hex digits of a file's SHA-256."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:length]


def extractor_provenance(extractor: FeatureExtractor) -> dict[str, Any]:
    """What identifies an extractor's features: its class, layers, weights digest (part of its
    ``cache_key``), feature size and preprocessing (its ``preprocessing`` text, when it has one)."""
    cls = type(extractor)
    layers = getattr(extractor, "layers", None)
    return {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "key": extractor.cache_key,
        "layers": list(layers) if layers else None,
        "feature_dim": extractor.feature_dim,
        "preprocessing": getattr(extractor, "preprocessing", None),
    }


def generator_provenance(context: EvalContext, weights: str | None = None) -> dict[str, Any]:
    """The generator side: which weights (``ema``/``raw`` when known), truncation (metrics
    always draw untruncated latents), the sampling seed."""
    return {"generator_weights": weights or getattr(context, "generator_weights", None), "truncation": None, "seed": context.seed}


def comparable(first: dict[str, Any] | None, second: dict[str, Any] | None) -> bool:
    """Whether two provenances describe the same computation (``NOT_COMPARED`` keys and the
    seed aside; missing provenance compares equal to anything: nothing is known)."""
    if first is None or second is None:
        return True
    def strip(p: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in p.items() if k not in NOT_COMPARED and k != "seed"}

    return json.dumps(strip(first), sort_keys=True, default=str) == json.dumps(strip(second), sort_keys=True, default=str)


def read_provenance(run_root: Path | str) -> dict[str, list[dict[str, Any]]]:
    """``provenance.json`` of a run: metric name -> its provenances, oldest first ({} when absent)."""
    path = Path(run_root) / PROVENANCE_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def record_provenance(
    run_root: Path | str, name: str, metric: Metric, context: EvalContext, values: dict[str, float], step: int, ema: bool
) -> None:
    """Add the provenance of ``metric`` (spec name ``name``) to the run's ``provenance.json``
    unless the same one is already there; main process only. Stored with the value names it
    produced and the step it was first seen at, so each configuration is stored once."""
    if not context.ranks.is_main:
        return
    entry = {**metric.provenance(context), **generator_provenance(context, "ema" if ema else "raw")}
    entry = json.loads(json.dumps(entry, default=str))
    stored = read_provenance(run_root)
    history = stored.setdefault(name, [])
    if any(comparable(old, entry) and old.get("seed") == entry.get("seed") for old in history):
        return
    history.append({**entry, "values": sorted(values), "from_step": step})
    _write_json(Path(run_root) / PROVENANCE_FILE, stored)


def _write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True))

"""A sweep's comparison: every setting x the final and best value of each metric, as mean ±
standard deviation over the finished seeds, runs whose metric provenance differs flagged; as
Markdown, CSV and JSON, and a plot of each metric over steps per setting (matplotlib)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ganforge.errors import GanforgeError
from ganforge.files import atomic_write_text, make_directory
from ganforge.provenance import comparable, read_provenance
from ganforge.registry import Registry
from ganforge.sweep.folder import MemberEntry, SweepFolder
from ganforge.sweep.plan import as_yaml

FORMATS = ("md", "csv", "json")


@dataclass
class Summary:
    """Mean ± sample standard deviation (n - 1) of one value over seeds; ``std`` is None for one seed."""

    mean: float
    std: float | None
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Summary:
        return cls(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None, len(values))

    def text(self) -> str:
        return f"{self.mean:.4g}" if self.std is None else f"{self.mean:.4g} ± {self.std:.2g}"


@dataclass
class Row:
    """One setting: its grid values, its seeds (finished of all) and each value's summaries."""

    setting: dict[str, Any]
    finished: int
    members: int
    final: dict[str, Summary] = field(default_factory=dict)
    best: dict[str, Summary] = field(default_factory=dict)
    flagged: bool = False


@dataclass
class Flag:
    """A run whose metric was computed differently from the first finished run's."""

    run: str
    metric: str
    why: str


@dataclass
class Report:
    """The whole comparison; ``values`` are the columns (metric values, or losses when no run
    measured a metric), ``higher_is_better`` their direction for "best"."""

    keys: list[str]
    values: list[str]
    higher_is_better: dict[str, bool]
    rows: list[Row]
    flags: list[Flag]
    #: value -> setting label -> [(step, mean over seeds)], for the plots
    curves: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)

    def markdown(self) -> str:
        head = [*(self.keys or ["setting"]), "seeds", *(f"{v} {which}" for v in self.values for which in ("final", "best"))]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows:
            settings = [as_yaml(row.setting[k]) for k in self.keys] or ["(the spec)"]  # a sweep over seeds alone
            cells = [text + (" ⚠" if row.flagged and i == 0 else "") for i, text in enumerate(settings)]
            cells.append(f"{row.finished}/{row.members}")
            for value in self.values:
                cells += [row.final[value].text() if value in row.final else "–", row.best[value].text() if value in row.best else "–"]
            lines.append("| " + " | ".join(cells) + " |")
        notes = ["", "Mean ± sample standard deviation over the finished seeds; best is the " + ", ".join(
            f"{'highest' if self.higher_is_better[v] else 'lowest'} {v}" for v in self.values) + " a run reached."]  # fmt: skip
        notes += [f"⚠ {flag.run}: {flag.metric} {flag.why}" for flag in self.flags]
        return "\n".join(lines + notes) + "\n"

    def csv(self) -> str:
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow([*self.keys, "value", "seeds", "finished", "final_mean", "final_std", "best_mean", "best_std", "flagged"])
        for row in self.rows:
            for value in self.values:
                final, best = row.final.get(value), row.best.get(value)
                writer.writerow([
                    *(as_yaml(row.setting[k]) for k in self.keys), value, row.members, row.finished,
                    *(_number(s.mean if s else None) for s in (final,)), _number(final.std if final else None),
                    _number(best.mean if best else None), _number(best.std if best else None), row.flagged,
                ])  # fmt: skip
        return text.getvalue()

    def json(self) -> str:
        data = asdict(self)
        data.pop("curves")
        return json.dumps(data, indent=2) + "\n"

    def render(self, fmt: str) -> str:
        return {"md": self.markdown, "csv": self.csv, "json": self.json}[fmt]()


def build_report(folder: SweepFolder, registry: Registry) -> Report:
    """Summarize ``folder``'s finished members (a member still running or stopped is counted in
    ``members``, not in the statistics)."""
    manifest = folder.read_manifest()
    keys = [key for key, _ in manifest["grid"]]
    entries = folder.members()
    finished = [e for e in entries if folder.status(e) == "finished"]
    logs = {e.folder: folder.run_dir(e).read_log() for e in finished}
    metric_values = sorted({k for records in logs.values() for r in records if not _is_loss_record(r) for k in _numbers(r)})
    values = metric_values or sorted({k for records in logs.values() for r in records if _is_loss_record(r) for k in _numbers(r) if k.startswith("loss/")})
    higher = {v: False for v in values}
    if metric_values:
        higher.update(_directions(folder, finished, registry))
    groups: dict[str, list[MemberEntry]] = defaultdict(list)
    for entry in entries:
        groups[entry.label].append(entry)
    flags = _provenance_flags(folder, finished)
    flagged_runs = {f.run for f in flags}
    rows: list[Row] = []
    curves: dict[str, dict[str, list[tuple[int, float]]]] = {v: {} for v in values}
    for label, members in groups.items():
        done = [m for m in members if m in finished]
        row = Row(dict(members[0].setting), len(done), len(members), flagged=any(m.folder in flagged_runs for m in done))
        for value in values:
            series = [[(r["step"], float(r[value])) for r in logs[m.folder] if _finite(r.get(value)) and isinstance(r.get("step"), int)] for m in done]
            series = [s for s in series if s]
            if not series:
                continue
            pick = max if higher[value] else min
            row.final[value] = Summary.of([s[-1][1] for s in series])
            row.best[value] = Summary.of([pick(v for _, v in s) for s in series])
            common = sorted(set.intersection(*(set(step for step, _ in s) for s in series)))
            at = [dict(s) for s in series]
            curves[value][label] = [(step, statistics.fmean(a[step] for a in at)) for step in common]
        rows.append(row)
    return Report(keys, values, higher, rows, flags, curves)


def write_report(folder: SweepFolder, report: Report, say: Any = None) -> list[Path]:
    """``report.md``, ``report.csv``, ``report.json`` and, with matplotlib, ``plots/<value>.png``
    in the sweep folder (the sweep's own outputs, redrawn each time)."""
    written = []
    for fmt in FORMATS:
        path = folder.root / f"report.{fmt}"
        atomic_write_text(path, report.render(fmt))
        written.append(path)
    try:
        written += _plots(folder.root / "plots", report)
    except ImportError:
        if say is not None:
            say("no plots: plots need matplotlib, which is not installed: pip install 'ganforge[plot]'")
    return written


def _plots(out: Path, report: Report) -> list[Path]:
    from matplotlib.figure import Figure

    written = []
    for value, by_setting in report.curves.items():
        if not any(by_setting.values()):
            continue
        make_directory(out)
        figure = Figure(figsize=(7, 4), dpi=100)
        axes = figure.add_subplot()
        for label, points in by_setting.items():
            if points:
                steps, means = zip(*points)
                axes.plot(steps, means, marker="o" if len(points) < 10 else None, label=label)
        axes.set_xlabel("step")
        axes.set_ylabel(f"{value} (mean over seeds)")
        axes.legend(fontsize="small")
        figure.tight_layout()
        path = out / (re.sub(r"[^A-Za-z0-9._-]+", "_", value) + ".png")
        figure.savefig(path)
        written.append(path)
    return written


def _provenance_flags(folder: SweepFolder, finished: list[MemberEntry]) -> list[Flag]:
    """Runs whose metric provenance differs from the first finished run's, or changed within the run."""
    reference: dict[str, tuple[str, dict[str, Any]]] = {}
    flags = []
    for entry in finished:
        for metric, history in read_provenance(folder.run_dir(entry).root).items():
            if not history:
                continue
            if any(not comparable(history[0], later) for later in history[1:]):
                flags.append(Flag(entry.folder, metric, "was computed in different ways within the run"))
            first = reference.setdefault(metric, (entry.folder, history[-1]))
            if not comparable(first[1], history[-1]):
                flags.append(Flag(entry.folder, metric, f"was computed differently from {first[0]} (see provenance.json)"))
    return flags


def _directions(folder: SweepFolder, finished: list[MemberEntry], registry: Registry) -> dict[str, bool]:
    """Value name -> whether higher is better, from each metric's class (by its spec name)."""
    out: dict[str, bool] = {}
    for entry in finished:
        run_dir = folder.run_dir(entry)
        try:
            spec = yaml.safe_load(run_dir.spec_path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        produced = {name: history[-1].get("values", []) for name, history in read_provenance(run_dir.root).items() if history}
        for metric in spec.get("metrics") or []:
            try:
                higher = bool(getattr(registry.get("metric", metric["name"]).factory, "higher_is_better", False))
            except GanforgeError:
                continue
            for value in produced.get(metric["name"], [metric["name"]]):
                out.setdefault(value, higher)
    return out


def _is_loss_record(record: dict[str, Any]) -> bool:
    return any(str(k).startswith("loss/") for k in record)


def _numbers(record: dict[str, Any]) -> list[str]:
    return [k for k, v in record.items() if k not in ("step", "epoch") and _finite(v)]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number(value: float | None) -> str:
    return "" if value is None else repr(value)

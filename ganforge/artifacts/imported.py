"""What every ``ganforge import FORMAT`` shares: the ``--data`` option and
:func:`write_imported_run`, so every import gives the same kind of run directory: a checkpoint
(with its spec and digest) that ``sample``, ``eval``, ``serve``, ``upscale`` and ``init_from:``
accept, ``spec.yaml``, a finished status and ``imported.json`` saying where it came from.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import click
import torch
import yaml

from ganforge.artifacts.outputs import refuse_to_replace
from ganforge.checkpoint import save_checkpoint
from ganforge.errors import GanforgeError
from ganforge.experiment import build_experiment
from ganforge.files import atomic_write_text
from ganforge.plugins import get_plugins
from ganforge.spec import Spec
from ganforge.training.rundir import RunDir

#: the record of an import, beside the checkpoint.
RECORD_NAME = "imported.json"


data_option = click.option(
    "--data", "data_text", metavar="YAML",
    help="The run's data section, e.g. '{name: image-folder, root: faces/, batch_size: 32}': what eval measures against and fine-tuning trains on (default: a stand-in of the right shape).",
)  # fmt: skip


def with_data(spec: dict[str, Any], data_text: str | None) -> dict[str, Any]:
    """``spec`` with the data section given by ``--data`` (a YAML mapping), if any."""
    if data_text is None:
        return spec
    try:
        data = yaml.safe_load(data_text)
    except yaml.YAMLError as exc:
        raise GanforgeError(f"--data: not YAML ({str(exc).splitlines()[0]}); give a mapping such as '{{name: image-folder, root: faces/}}'") from None
    if not isinstance(data, dict) or "name" not in data:
        raise GanforgeError("--data: give a mapping with a dataset name, such as '{name: image-folder, root: faces/, batch_size: 32}'")
    return {**spec, "data": data}


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_imported_run(
    out: str | Path,
    spec: dict[str, Any],
    weights: dict[str, dict[str, torch.Tensor] | None],
    source: Path,
    details: dict[str, Any],
    overwrite: bool,
) -> RunDir:
    """Build ``spec``, load ``weights`` (``generator``, and optionally ``ema`` and
    ``discriminator``) into its networks to prove they fit, and write a run directory at
    ``out`` holding them at step 0. ``details`` (the layout found, the settings read) go into
    ``imported.json`` with ``source``'s path and SHA-256. Nothing is replaced without ``overwrite``."""
    target = RunDir(out)
    record = target.root / RECORD_NAME
    refuse_to_replace([target.last_checkpoint, target.status_path, target.metrics_path, target.spec_path, record], overwrite)
    experiment = build_experiment(Spec(spec, path=Path(out) / "spec.yaml"), get_plugins().registry)
    networks = {"generator": experiment.generator, "ema": experiment.generator, "discriminator": experiment.discriminator}
    for role, tensors in weights.items():
        network = networks[role]
        if tensors is None:
            continue
        if network is None:
            raise GanforgeError(f"{source}: it holds {role} weights but the spec has no {role}")
        try:
            network.load_state_dict(tensors)
        except RuntimeError as exc:
            first = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()), str(exc))
            raise GanforgeError(f"{source}: the converted {role} does not fit ganforge's network ({first}); please report this file's layout") from None
    if overwrite:
        target.clear()
    target.create()
    state: dict[str, Any] = {"step": 0, "spec": experiment.resolved, **{role: value for role, value in weights.items() if value is not None}}
    save_checkpoint(state, target.last_checkpoint)
    target.write_spec(experiment.resolved)
    target.write_status("finished", 0, 0)
    atomic_write_text(record, json.dumps({"source": str(source), "sha256": file_sha256(source), **details}, indent=1) + "\n")
    return target

"""Getting a trained generator back from a run directory or a checkpoint file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganforge.checkpoint import load_checkpoint
from ganforge.errors import GanforgeError
from ganforge.experiment import Experiment, build_experiment, pick_device
from ganforge.interfaces import Generator
from ganforge.plugins import get_plugins
from ganforge.spec import Spec, load_spec
from ganforge.training.rundir import RunDir


@dataclass
class TrainedGenerator:
    """A generator in eval mode on its device, with the EMA weights when the run kept them."""

    generator: Generator
    experiment: Experiment
    checkpoint_path: Path
    step: int | None
    uses_ema: bool


def load_trained(
    target: str | Path,
    checkpoint: str = "last",
    spec: str | Path | None = None,
    device: str = "auto",
    prefer_ema: bool = True,
) -> TrainedGenerator:
    """Rebuild the generator of ``target``: a run directory (with ``checkpoint`` = last, best
    or a path) or a checkpoint file. A ganforge checkpoint carries its resolved spec; a bare
    generator state dict from another tool needs ``spec``."""
    path = _checkpoint_path(Path(target), checkpoint)
    state = load_checkpoint(path)
    experiment = _experiment(path, state, spec)
    generator = experiment.generator
    weights, uses_ema = _generator_weights(state, prefer_ema)
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise GanforgeError(f"{path}: the generator weights are not a state dict of tensors (found {type(weights).__name__}); the checkpoint is damaged")
    try:
        generator.load_state_dict(weights)
    except (RuntimeError, TypeError, KeyError) as exc:
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        first = next((line for line in lines if not line.startswith("Error(s) in loading")), lines[0] if lines else type(exc).__name__)
        raise GanforgeError(f"{path}: the weights do not fit the spec's generator ({first}); give the spec it was trained with") from None
    broken = [name for name, value in weights.items() if value.is_floating_point() and not bool(torch.isfinite(value).all())]
    if broken:
        raise GanforgeError(f"{path}: the generator weights hold NaN or infinite values ({broken[0]}{' and others' if len(broken) > 1 else ''}; a diverged run?); use another checkpoint")
    generator.set_step(int(state.get("step") or 0))
    generator.to(pick_device(device)).eval().requires_grad_(False)
    return TrainedGenerator(generator, experiment, path, state.get("step"), uses_ema)


def _checkpoint_path(target: Path, checkpoint: str) -> Path:
    if target.is_file():
        return target
    if target.is_dir():
        if checkpoint in ("last", "best"):
            path = RunDir(target).last_checkpoint if checkpoint == "last" else RunDir(target).best_checkpoint
            if not path.exists():
                hint = " (best.pt exists only for runs with metrics)" if checkpoint == "best" else ""
                raise GanforgeError(f"{target} has no checkpoints/{checkpoint}.pt{hint}")
            return path
        return Path(checkpoint)  # an explicit checkpoint path inside the run
    raise GanforgeError(f"{target} is neither a run directory nor a checkpoint file")


def _experiment(path: Path, state: dict[str, Any], spec: str | Path | None) -> Experiment:
    registry = get_plugins().registry
    if spec is not None:
        return build_experiment(load_spec(spec), registry)
    if isinstance(state.get("spec"), dict):
        return build_experiment(Spec(dict(state["spec"]), path=path), registry)
    raise GanforgeError(f"{path} holds no spec (not a ganforge checkpoint?); give the spec the generator was trained with (--spec)")


def _generator_weights(state: dict[str, Any], prefer_ema: bool) -> tuple[dict[str, torch.Tensor], bool]:
    if "generator" not in state:  # a bare generator state dict
        return state, False
    if prefer_ema and state.get("ema") is not None:
        return state["ema"], True
    return state["generator"], False

"""Running a sweep's members: each an ordinary ``ganforge run`` in its own process, ``jobs`` at a
time, each told its thread count; finished members are kept, the others resumed from their
checkpoint (``--resume auto``), and a stop signal stops every member at a checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable

from ganforge.sweep.folder import MemberEntry, SweepFolder
from ganforge.training.signals import stop_on_signals

#: how often the runner looks at its members' processes (seconds).
POLL = 0.2


@dataclass
class Outcome:
    """What a call to :func:`run_members` did."""

    finished: list[MemberEntry] = field(default_factory=list)
    kept: list[MemberEntry] = field(default_factory=list)  # finished before this call
    failed: list[tuple[MemberEntry, int, str]] = field(default_factory=list)  # member, exit code, last line of its log
    stopped: int | None = None  # the signal that stopped the sweep


def threads_per_member(jobs: int, nproc: int | None) -> int:
    """This machine's cores shared by ``jobs`` members of ``nproc`` processes each (at least 1)."""
    return max(1, len(os.sched_getaffinity(0)) // (jobs * (nproc or 1)))


def member_command(spec: Path, overrides: list[str], entry: MemberEntry, root: Path, nproc: int | None) -> list[str]:
    """``python -m ganforge run SPEC --set ... --out <member> --quiet --resume auto [--nproc N]``."""
    sets = [arg for override in [*overrides, *entry.overrides] for arg in ("--set", override)]
    command = [sys.executable, "-m", "ganforge", "run", str(spec), *sets, "--out", str(root / entry.folder), "--quiet", "--resume", "auto"]
    return command + (["--nproc", str(nproc)] if nproc else [])


def run_members(
    folder: SweepFolder, spec: Path, overrides: list[str], jobs: int, threads: int, nproc: int | None, say: Callable[[str], None]
) -> Outcome:
    """Run every member of ``folder`` that has not finished, ``jobs`` at a time, with
    ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` set to ``threads`` (torch takes its thread count from
    them). The first SIGINT/SIGTERM stops launching and sends each running member one SIGTERM: it
    finishes its step and saves a checkpoint, which the next ``ganforge sweep`` resumes from."""
    outcome = Outcome()
    entries = folder.members()
    pending: list[MemberEntry] = []
    for entry in entries:
        (outcome.kept if folder.status(entry) == "finished" else pending).append(entry)
    say(
        f"{len(entries)} members, {len(outcome.kept)} finished already; running {min(jobs, len(pending)) or 0} at a time, "
        f"{threads} thread{'s' if threads > 1 else ''} each{f', {nproc} processes each' if nproc else ''}; output of each in {folder.root / 'logs'}"
    )
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    running: dict[subprocess.Popen[bytes], tuple[MemberEntry, float, IO[bytes]]] = {}
    stop: list[int] = []

    def on_signal(signum: int) -> bool:
        if stop:
            say("a second signal: stopping every running member at once (each resumes from its last checkpoint)")
        else:
            say(f"{signal.Signals(signum).name}: stopping every running member at its next step (with a checkpoint); rerun the same command to continue")
        stop.append(signum)
        for process in running:  # a member stops at its next step on the first SIGTERM, at once on a second
            process.send_signal(signal.SIGTERM)
        return False

    with stop_on_signals(on_signal):
        while pending or running:
            while pending and len(running) < jobs and not stop:
                entry = pending.pop(0)
                log_path = folder.log_path(entry)
                log_path.parent.mkdir(parents=True, exist_ok=True)
                log = log_path.open("ab")
                resuming = folder.run_dir(entry).last_checkpoint.is_file()
                # a session of its own: a Ctrl-C in the terminal reaches the sweep alone, which stops each member once
                process = subprocess.Popen(member_command(spec, overrides, entry, folder.root, nproc), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
                running[process] = (entry, time.monotonic(), log)
                say(f"{'resumed' if resuming else 'started'} {entry.label} seed={_seed(entry)}")
            if stop:
                pending.clear()
            time.sleep(POLL)
            for process in [p for p in running if p.poll() is not None]:
                entry, started, output = running.pop(process)
                output.close()
                seconds = time.monotonic() - started
                if process.returncode == 0:
                    outcome.finished.append(entry)
                    done = len(outcome.finished) + len(outcome.kept)
                    say(f"finished {entry.label} seed={_seed(entry)} in {seconds:.1f}s ({done}/{len(entries)})")
                elif stop:
                    say(f"stopped {entry.label} seed={_seed(entry)}")
                else:
                    outcome.failed.append((entry, process.returncode, _last_line(folder.log_path(entry))))
                    say(f"failed {entry.label} seed={_seed(entry)} (exit code {process.returncode}): {outcome.failed[-1][2]}")
    outcome.stopped = stop[0] if stop else None
    return outcome


def _seed(entry: MemberEntry) -> str:
    return "spec" if entry.seed is None else str(entry.seed)


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()] if path.exists() else []
    return lines[-1].strip() if lines else "no output"

"""The sweep folder: ``sweep.json`` (the manifest: what the sweep is, and its members), one
ordinary run directory per member under ``runs/``, each member's output in ``logs/``, the
report and its plots. One ``ganforge sweep`` at a time holds its lock."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ganforge.errors import GanforgeError
from ganforge.files import atomic_write_text, make_directory
from ganforge.sweep.plan import Member, SweepPlan
from ganforge.training.rundir import RunDir

MANIFEST = "sweep.json"


@dataclass(frozen=True)
class MemberEntry:
    """A member as the manifest lists it: its setting, seed, ``--set`` lines and run directory."""

    setting: dict[str, Any]
    seed: int | None
    overrides: list[str]
    folder: str
    label: str

    @classmethod
    def of(cls, member: Member) -> MemberEntry:
        return cls(dict(member.setting), member.seed, member.overrides, member.folder, member.setting_label)


class SweepFolder:
    """Paths, the manifest and the lock of one sweep folder."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def run_dir(self, entry: MemberEntry) -> RunDir:
        return RunDir(self.root / entry.folder)

    def log_path(self, entry: MemberEntry) -> Path:
        return self.root / "logs" / (entry.folder.removeprefix("runs/").replace("/", "__") + ".log")

    def read_manifest(self) -> dict[str, Any]:
        """The manifest; a one-line error when the folder holds none (not a sweep folder)."""
        try:
            manifest: dict[str, Any] = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise GanforgeError(f"{self.root} has no {MANIFEST}: is it a sweep folder (ganforge sweep SPEC --out {self.root})?") from None
        except (OSError, ValueError) as exc:
            raise GanforgeError(f"{self.manifest_path} cannot be read: {exc}") from None
        return manifest

    def members(self) -> list[MemberEntry]:
        return [MemberEntry(**entry) for entry in self.read_manifest()["members"]]

    def status(self, entry: MemberEntry) -> str:
        """``finished``, ``interrupted``, ``failed``, ``diverged``, ``running`` (or killed while
        running), or ``pending`` (never started)."""
        run_dir = self.run_dir(entry)
        try:
            status = run_dir.read_status()
        except (OSError, ValueError):
            status = None
        return str(status["status"]) if status else "pending"

    def adopt(self, plan: SweepPlan, nproc: int | None) -> list[MemberEntry]:
        """Write the manifest of ``plan``, or check that the folder's manifest is this same sweep
        (the same spec text, ``--set`` lines, grid and seeds): a rerun resumes it."""
        spec_text = plan.spec.read_bytes()
        wanted = {**plan.describe(), "spec_sha256": hashlib.sha256(spec_text).hexdigest(), "nproc": nproc}
        entries = [MemberEntry.of(member) for member in plan.members]
        if self.manifest_path.exists():
            manifest = self.read_manifest()
            differs = [key for key in wanted if manifest.get(key) != wanted[key]]
            if differs:
                what = ", ".join("the spec file's text" if k == "spec_sha256" else k for k in differs)
                raise GanforgeError(
                    f"{self.root} holds another sweep ({what} differ from this command's); rerun that sweep's own command "
                    f"to continue it, or choose another --out"
                )
            return entries
        if self.root.exists() and any(p.name != ".lock" for p in self.root.iterdir()):
            raise GanforgeError(f"{self.root} is not empty and holds no sweep; choose another --out")
        make_directory(self.root)
        manifest = {**wanted, "members": [entry.__dict__ for entry in entries]}
        atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2) + "\n")
        return entries

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for one ``ganforge sweep`` process: a second one is refused, so no
        member is ever started twice at once."""
        make_directory(self.root)
        with (self.root / ".lock").open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise GanforgeError(f"another ganforge sweep is running in {self.root}; wait for it, or stop it first") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

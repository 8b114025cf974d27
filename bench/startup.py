"""How long ganforge's commands take to start, beside importing torch, in one run.

    python bench/startup.py [--repeat 5]

Each command runs ``--repeat`` times in a fresh interpreter; the table gives the fastest run
(the least disturbed by other work on the machine) and its ratio to importing torch.
Issue #30's goals: ``ganforge --help`` well under 1 s, ``list`` and ``validate`` within 1.5x of
``import torch``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GANFORGE = [sys.executable, "-m", "ganforge"]
COMMANDS: dict[str, list[str]] = {
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "ganforge --help": [*GANFORGE, "--help"],
    "ganforge list": [*GANFORGE, "list"],
    "ganforge validate specs/lsgan.yaml": [*GANFORGE, "validate", str(ROOT / "specs" / "lsgan.yaml")],
    "ganforge run --help": [*GANFORGE, "run", "--help"],
}


def timed(command: list[str]) -> float:
    """Seconds one run of ``command`` takes."""
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, float] = {}
    print(f"{'command':<40} {'fastest s':>10} {'x torch':>8}")
    for name, command in COMMANDS.items():
        runs = [timed(command) for _ in range(args.repeat)]
        results[name] = min(runs)
        ratio = results[name] / results["python -c 'import torch'"]
        print(f"{name:<40} {results[name]:>10.2f} {ratio:>8.2f}", flush=True)


if __name__ == "__main__":
    main()

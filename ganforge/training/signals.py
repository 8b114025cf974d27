"""Stopping a run cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any, Callable, Iterator


@contextmanager
def stop_on_signals(on_signal: Callable[[int], bool]) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM call ``on_signal(signum)``, which returns False the
    first time (finish the step, checkpoint, stop) and True when a stop was already asked
    for: then the second signal stops at once. Outside the main thread, signals are left alone."""

    def handler(signum: int, frame: Any) -> None:
        if on_signal(signum):
            raise KeyboardInterrupt

    try:
        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)

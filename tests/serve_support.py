"""A real `ganforge serve` process for tests: stderr drained by a thread, readiness by polling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable


class ServeProcess:
    """``ganforge serve TARGET --port 0`` in a subprocess; ``url`` once it answers ``/classes``."""

    def __init__(self, target: Path, *extra: str, preexec_fn: Callable[[], Any] | None = None, timeout: float = 120) -> None:
        command = [sys.executable, "-m", "ganforge", "serve", str(target), "--port", "0", "--device", "cpu", *extra]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=preexec_fn)
        self.lines: list[str] = []
        self._url_line = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = self._wait_until_ready(timeout)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if " on http://" in line:
                self._url_line.set()
        self._url_line.set()  # the process ended: stop waiting

    def _wait_until_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        if not self._url_line.wait(timeout) or not any(" on http://" in line for line in self.lines):
            self.kill()
            raise AssertionError(f"serve did not start: {''.join(self.lines)}")
        url = next(line for line in self.lines if " on http://" in line).split(" on ")[-1].split()[0]
        while time.monotonic() < deadline:  # poll until it answers: no fixed sleeps
            try:
                with urllib.request.urlopen(url + "classes", timeout=5) as response:
                    if response.status == 200:
                        return url
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        self.kill()
        raise AssertionError(f"serve never answered at {url}: {''.join(self.lines)}")

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 30) -> int:
        """Send ``sig`` and wait for the exit code (the reader thread sees the last lines)."""
        self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

"""Web processes the scale-out tests start: ``gunicorn wsgi:app`` as an operator runs it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.jobs.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


class WebProcess:
    """``gunicorn wsgi:app`` on a free loopback port, without the key-encryption key."""

    def __init__(self, env: dict[str, str], log_path: Path,
                 worker_args: tuple[str, ...] = ("--worker-class", "gthread", "--workers",
                                                 "2", "--threads", "4")) -> None:
        self.port = free_port()
        self.worker_args = worker_args
        self.env = {k: v for k, v in env.items() if k != "KEY_ENCRYPTION_KEYS"}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> WebProcess:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", *self.worker_args,
                 "--bind", f"127.0.0.1:{self.port}",
                 "--no-control-socket", "wsgi:app"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{self.url}/api/v1/openapi.json", timeout=10).ok:
                    return self
            except requests.RequestException:  # not listening yet, or still booting
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not answer:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

"""Processes the fault-injection tests start and break on purpose: a private
``redis-server`` on a free port (never the shared one), and ``worker.py`` subprocesses
(through ``tests/e2e/rq_worker.py``) that can be killed with SIGKILL mid-job.

Everything started here is stopped by ``RedisServer.stop()`` / ``Workers.stop_all()``, which
the test fixtures call in finalizers, so also when a test fails half-way."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from tests.e2e.rq_worker import WorkerProcess, worker_env

SHARED_REDIS_PORT = 6379


def redis_server_binary() -> str:
    """Debian's redis-server (on PATH), else one installed beside the interpreter."""
    for candidate in (shutil.which("redis-server"), "/usr/bin/redis-server",
                      str(Path(sys.executable).parent / "redis-server")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("no redis-server binary found")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throw-away ``redis-server`` of our own on 127.0.0.1:<free port>, no persistence.

    ``stop()`` and ``start()`` again keep the port, so clients configured with ``url``
    see "Redis went away" and then "Redis is back"."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        assert self.port != SHARED_REDIS_PORT
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(self.log_path.parent)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}:\n"
                                   f"{self.log_path.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not answer PING")
            time.sleep(0.02)
        return self

    def answers(self) -> bool:
        try:
            with Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5,
                       socket_timeout=0.5) as client:
                return bool(client.ping())
        except RedisError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (with ``--save ""`` it exits at once, writing nothing), SIGKILL if it
        lingers; returns once the process is gone and the port refuses connections."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Workers:
    """``worker.py`` subprocesses on one queue; ``stop_all()`` ends every one of them."""

    def __init__(self, settings: Mapping[str, str], log_dir: Path,
                 extra_env: Mapping[str, str]) -> None:
        self.env = {**worker_env(settings), **extra_env}
        self.log_dir = log_dir
        self.started: list[WorkerProcess] = []

    def start(self) -> WorkerProcess:
        worker = WorkerProcess(self.env, self.log_dir / f"worker-{len(self.started)}.log")
        self.started.append(worker)
        return worker.start()

    @staticmethod
    def kill_hard(worker: WorkerProcess) -> None:
        """The fault: SIGKILL the worker process itself (SimpleWorker runs the job in that
        process, so the job dies with it, mid-transaction, without any cleanup)."""
        assert worker.proc is not None
        children = _children(worker.pid)
        os.kill(worker.pid, signal.SIGKILL)
        worker.proc.wait(10)
        _kill_leftovers(worker.pid, children)  # its RQ scheduler child, orphaned now

    def stop_all(self) -> None:
        for worker in self.started:
            if worker.proc is None:
                continue
            children = _children(worker.pid) if worker.proc.poll() is None else []
            worker.stop()
            _kill_leftovers(worker.pid, children)

    def tails(self) -> str:
        return "\n".join(f"--- {w.log_path.name} (pid {w.proc.pid if w.proc else '-'})\n"
                         f"{w.tail()}" for w in self.started)


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (the RQ scheduler that ``worker.py`` forks)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _kill_leftovers(group: int, pids: list[int]) -> None:
    """SIGKILL those of ``pids`` that still live in the worker's own process group (checked
    by id, so a recycled pid of some other process is never touched)."""
    for pid in pids:
        with suppress(ProcessLookupError, PermissionError):
            if os.getpgid(pid) == group:
                os.kill(pid, signal.SIGKILL)

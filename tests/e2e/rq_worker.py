"""Run ``worker.py`` as a real subprocess, as an operator would (shared by the e2e and the
CLI tests).

The worker reads the same settings as the web app from the environment (DATABASE_URL,
REDIS_URL, RQ_QUEUE, SECRET_KEY, INSTANCE_PATH) plus KEY_ENCRYPTION_KEYS, which only it
loads. ``start()`` returns once the worker has registered itself in Redis for its queue.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from redis import Redis
from rq import Worker

ROOT = Path(__file__).resolve().parents[2]

#: The settings a worker needs, by environment variable name.
WORKER_SETTINGS = ("REDIS_URL", "RQ_QUEUE", "SECRET_KEY", "KEY_ENCRYPTION_KEYS",
                   "INSTANCE_PATH", "OUTBOUND_ALLOWED_NETWORKS", "DISCOVERY_ALLOWED_NETWORKS",
                   "DISCOVERY_SCAN_TIMEOUT_SECONDS")


def worker_env(settings: Mapping[str, str]) -> dict[str, str]:
    """os.environ plus the settings of a ``test_settings``-shaped mapping."""
    return {**os.environ, "DATABASE_URL": settings["SQLALCHEMY_DATABASE_URI"],
            **{name: settings[name] for name in WORKER_SETTINGS}}


class WorkerProcess:
    """One ``python worker.py`` subprocess, its output going to ``log_path``."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def queue(self) -> str:
        return self.env["RQ_QUEUE"]

    @property
    def pid(self) -> int:
        assert self.proc is not None, "worker not started"
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> WorkerProcess:
        self._log = self.log_path.open("wb")
        # A session of its own: the worker forks an RQ scheduler process, and a stray
        # Ctrl-C in the terminal must not reach either of them before the tests stop them.
        self.proc = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            self.wait_registered(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def registered(self) -> bool:
        """True when this process is registered in Redis as a worker on our queue.

        The registration is also accepted from the worker's own log line: another test
        session sharing the Redis database may FLUSHDB between the worker's registration
        and our next look, and RQ does not register again."""
        with Redis.from_url(self.env["REDIS_URL"]) as redis:
            if any(w.pid == self.pid and self.queue in w.queue_names()
                   for w in Worker.all(connection=redis)):
                return True
        return f"Listening on {self.queue}" in self.tail(lines=200)

    def wait_registered(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.registered():
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker.py exited with code {self.proc.returncode}:\n"
                                   f"{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker.py did not register on queue {self.queue!r} "
                                   f"within {timeout:.0f}s:\n{self.tail()}")
            time.sleep(0.05)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Freeze the worker (SIGSTOP) so a job stays queued until the block ends.

        Lets a test observe the state between "requested" and "done" deterministically;
        the job itself is then processed normally after SIGCONT."""
        os.kill(self.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.pid, signal.SIGCONT)

    def flush_watch(self) -> FlushWatch:
        return FlushWatch(self.env["REDIS_URL"])

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no worker output)"
        return "\n".join(text.splitlines()[-lines:]) or "(no worker output)"

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (RQ's warm shutdown), then SIGKILL for whatever is left of the
        worker's own process group (the worker and its scheduler child)."""
        if self.proc is not None:
            with suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGCONT)  # in case a test left it paused
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    # Not reaped yet, so the group id is still this worker's.
                    with suppress(ProcessLookupError):
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


class FlushWatch:
    """Tells whether the Redis database was flushed since it was armed.

    The test Redis database is shared with every other test session on the machine, and
    ``_clean_state`` in ``tests/conftest.py`` FLUSHDBs it after each test: a job that waits
    in the queue (for example while a test holds the worker paused) can vanish. A sentinel
    key of our own proves whether that happened, so a test re-delivers a job only when it
    was really lost, never to paper over a job the application failed to enqueue."""

    def __init__(self, redis_url: str) -> None:
        self.redis = Redis.from_url(redis_url)
        self.key = f"e2e:flush-sentinel:{uuid.uuid4().hex}"
        self.arm()

    def arm(self) -> None:
        self.redis.set(self.key, "1", ex=3600)

    def flushed(self) -> bool:
        """True (and re-armed) if the database was flushed since the last arming."""
        if self.redis.exists(self.key):
            return False
        self.arm()
        return True

    def close(self) -> None:
        self.redis.delete(self.key)
        self.redis.close()

"""End to end: the start command (``scripts/start_platform.py``, behind ``./start.sh``).

Runs it for real as a subprocess against a fresh instance directory: SQLite there, its own
private Redis on a unix socket, migrations, worker, gunicorn, the demo seeded through the
CLI. Then logs in over HTTP with the printed password, looks at the demo CAs and domain,
stops it with SIGINT and checks that nothing is left running. A second start on the same
instance directory must leave the password alone and still come up.
"""
from __future__ import annotations

import os
import queue
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil
import pytest
import requests

from scripts.start_platform import redact_url

ROOT = Path(__file__).resolve().parent.parent
BANNER_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
# Settings from the developer's shell that would point the platform away from tmp_path.
SCRUBBED_ENV = ("DATABASE_URL", "REDIS_URL", "PORT", "FLASK_APP", "APP_ENV", "SECRET_KEY",
                "KEY_ENCRYPTION_KEYS", "RQ_QUEUE")

READY_RE = re.compile(r"Press Ctrl-C to stop")
URL_RE = re.compile(r"^\s*URL:\s+(http://\S+)")
PASSWORD_RE = re.compile(r"^\s*Password:\s+(\S+)")
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StartedPlatform:
    """The start command as a child process, with its output read line by line in a thread
    (a blocking read in the test itself could hang past any timeout)."""

    def __init__(self, instance: Path, port: int, extra_env: dict[str, str] | None = None
                 ) -> None:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env |= {"INSTANCE_PATH": str(instance), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scripts.start_platform", "--port", str(port)],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace")
        self.lines: list[str] = []
        self._incoming: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._incoming.put(line.rstrip("\n"))
        self._incoming.put(None)  # end of output: the process has closed stdout

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._incoming.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"start command ended before {pattern.pattern!r}:\n{self.text()}")
            self.lines.append(line)
            if match := pattern.search(line):
                return match
        pytest.fail(f"no {pattern.pattern!r} within {timeout:.0f} s:\n{self.text()}")

    def find(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        return next((m for line in self.lines if (m := pattern.search(line))), None)

    def text(self) -> str:
        while True:
            try:
                line = self._incoming.get_nowait()
            except queue.Empty:
                return "\n".join(self.lines)
            if line is not None:
                self.lines.append(line)

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)


@contextmanager
def running_platform(instance: Path, port: int, extra_env: dict[str, str] | None = None
                     ) -> Iterator[StartedPlatform]:
    platform = StartedPlatform(instance, port, extra_env)
    try:
        yield platform
    finally:
        # Only when the test failed midway: never leave a Redis or gunicorn behind.
        if platform.process.poll() is None:
            leftovers = platform.descendants()
            platform.process.send_signal(signal.SIGINT)
            try:
                platform.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                platform.process.kill()
                platform.process.wait()
            for process in leftovers:
                with suppress(psutil.NoSuchProcess):
                    process.kill()


def wait_until_ready(platform: StartedPlatform, port: int) -> str:
    platform.wait_for(READY_RE, BANNER_TIMEOUT)
    url = platform.find(URL_RE)
    assert url, platform.text()
    assert url.group(1) == f"http://127.0.0.1:{port}/"
    return url.group(1)


def check_demo_over_http(base_url: str, password: str) -> None:
    with requests.Session() as browser:
        page = browser.get(base_url + "login", timeout=10)
        assert page.status_code == 200
        token = CSRF_RE.search(page.text)
        assert token, "no CSRF token on /login"
        response = browser.post(base_url + "login", allow_redirects=False, timeout=10, data={
            "email": "admin@example.com", "password": password, "csrf_token": token.group(1)})
        assert response.status_code == 302, response.text

        pki = browser.get(base_url + "admin/pki/", timeout=10)
        assert pki.status_code == 200
        rows = re.findall(r"<tr>.*?</tr>", pki.text, re.S)
        for name in ("Demo Root CA", "Demo Issuing CA"):
            row = next((r for r in rows if f">{name}</a>" in r), None)
            assert row, f"{name} not listed:\n{pki.text}"
            assert 'badge-active">active<' in row, row

        domains = browser.get(base_url + "admin/domains/", timeout=10)
        assert domains.status_code == 200
        # The page's help text mentions example.com too: look for the table cell.
        assert re.search(r"<td>\s*example\.com\b", domains.text), domains.text


def _children_named(platform: StartedPlatform, word: str) -> list[psutil.Process]:
    return [p for p in platform.descendants() if word in " ".join(p.cmdline())]


def check_secrets_stay_with_their_process(platform: StartedPlatform, instance: Path,
                                          kek: str | None) -> None:
    """The web server never gets the key-encryption key; the worker's folder is private;
    the private Redis answers nobody without the generated password."""
    web = _children_named(platform, "gunicorn")
    worker = _children_named(platform, "worker.py")
    assert web and worker
    for process in web:
        assert "KEY_ENCRYPTION_KEYS" not in process.environ(), process.cmdline()
    for process in worker:
        assert process.environ().get("KEY_ENCRYPTION_KEYS") == kek
    folder = instance / "worker"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    if kek is None:
        assert stat.S_IMODE((folder / "key-encryption-keys").stat().st_mode) == 0o600
    assert not (instance / "key-encryption-keys").exists()
    password_file = instance / "redis-password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(5)
        conn.connect(str(instance / "redis.sock"))
        conn.sendall(b"PING\r\n")
        assert conn.recv(256).startswith(b"-NOAUTH")
    password = password_file.read_text().strip()
    assert not any(password in " ".join(p.cmdline()) for p in platform.descendants())
    assert password not in platform.text()


def stop_and_check_nothing_left(platform: StartedPlatform, instance: Path) -> None:
    children = platform.descendants()
    assert {"redis", "worker", "web"} <= {
        line.split("]")[0].lstrip("[") for line in platform.lines if line.startswith("[")}
    assert len(children) >= 4, children  # redis, worker, gunicorn master and workers

    platform.process.send_signal(signal.SIGINT)
    assert platform.process.wait(timeout=STOP_TIMEOUT) == 0, platform.text()

    output = platform.text()
    assert "stopped web" in output and "stopped worker" in output and "stopped redis" in output
    assert output.index("stopped web") < output.index("stopped worker") \
        < output.index("stopped redis")
    assert not (instance / "redis.sock").exists()
    assert not [p for p in children if _alive(p)]
    leftovers = [p for p in psutil.process_iter(["cmdline"])
                 if str(instance) in " ".join(p.info["cmdline"] or []) and _alive(p)]
    assert not leftovers, leftovers


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_start_command_serves_the_demo_and_stops_cleanly(tmp_path: Path) -> None:
    instance = tmp_path / "instance"

    port = free_port()
    with running_platform(instance, port) as first:
        base_url = wait_until_ready(first, port)
        password = first.find(PASSWORD_RE)
        assert password, first.text()
        # The one-time banner is the only place the password appears.
        assert first.text().count(password.group(1)) == 1
        check_demo_over_http(base_url, password.group(1))
        check_secrets_stay_with_their_process(first, instance, kek=None)
        stop_and_check_nothing_left(first, instance)

    # The same key given explicitly: the worker alone receives it.
    kek = (instance / "worker" / "key-encryption-keys").read_text().strip()
    port = free_port()
    with running_platform(instance, port, {"KEY_ENCRYPTION_KEYS": kek}) as second:
        base_url = wait_until_ready(second, port)
        assert second.find(PASSWORD_RE) is None
        assert "admin@example.com (password unchanged since first start" in second.text()
        check_demo_over_http(base_url, password.group(1))  # still the first password
        check_secrets_stay_with_their_process(second, instance, kek=kek)
        stop_and_check_nothing_left(second, instance)


def test_help_lists_options_and_environment() -> None:
    result = subprocess.run([sys.executable, "-m", "scripts.start_platform", "--help"],
                            cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0
    for word in ("--port", "--host", "--no-demo", "DATABASE_URL", "REDIS_URL", "INSTANCE_PATH",
                 "PORT"):
        assert word in result.stdout


def test_only_the_worker_gets_the_key_encryption_key() -> None:
    from scripts.start_platform import child_environments

    web, worker = child_environments({"KEY_ENCRYPTION_KEYS": "k1:abc", "SECRET_KEY": "s",
                                      "REDIS_URL": "redis://x"})
    assert web == {"SECRET_KEY": "s", "REDIS_URL": "redis://x"}
    assert worker["KEY_ENCRYPTION_KEYS"] == "k1:abc" and worker["SECRET_KEY"] == "s"


def test_settings_are_logged_without_credentials() -> None:
    assert redact_url("postgresql://app:s3cret@db.internal:5432/platform") \
        == "postgresql://db.internal:5432/platform"
    assert redact_url("redis://:hunter2@cache:6379/0") == "redis://cache:6379/0"

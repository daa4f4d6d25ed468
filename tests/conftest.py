"""Shared fixtures. Tests run against real services:

- the database named by ``TEST_DATABASE_URL`` (default: a SQLite file in a temp dir; CI
  runs the suite once on PostgreSQL and once on SQLite), built by the Alembic migrations;
- the Redis at ``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``, a database
  number of its own), with a queue name unique to this test session;
- real RQ workers: ``run_jobs()`` drains the queue with the app's worker class in-process,
  and the e2e tests start ``worker.py`` as a subprocess.
"""
from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from redis import Redis
from sqlalchemy import Connection, create_engine, text
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from app.pki.key_encryption import KeyEncryptionKeyring

ROOT = Path(__file__).resolve().parent.parent
TEST_PASSWORD = "correct horse battery staple"
#: Outbound calls may reach loopback in tests (pebble, bind9, stand-in CAs all listen there).
TEST_ALLOWED_NETWORKS = "127.0.0.1/32 ::1/128"

pytest_plugins = ["tests.interop.fixtures", "tests.standins.fixtures"]


def _database_url(tmp_root: Path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_root / 'test.db'}"


def _reset_database(url: str) -> None:
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
    engine.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: they start a real worker on the session's queue, and the other
    tests drain that queue themselves (see tests/e2e/conftest.py)."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
    if not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        skip = pytest.mark.skip(reason="interop runs on PostgreSQL (once, in CI)")
        only_pg = pytest.mark.skip(reason="needs PostgreSQL (runs in CI's PostgreSQL pass)")
        for item in items:
            if item.get_closest_marker("interop") is not None:
                item.add_marker(skip)
            elif item.get_closest_marker("postgres_only") is not None:
                item.add_marker(only_pg)


@pytest.fixture(scope="session")
def test_settings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp_root = tmp_path_factory.mktemp("platform")
    instance = tmp_root / "instance"
    instance.mkdir()
    return {
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp_root),
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "RQ_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
        "SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
        "KEY_ENCRYPTION_KEYS": KeyEncryptionKeyring.generate_spec("testkek"),
        "INSTANCE_PATH": str(instance),
        "OUTBOUND_ALLOWED_NETWORKS": TEST_ALLOWED_NETWORKS,
        "DISCOVERY_ALLOWED_NETWORKS": TEST_ALLOWED_NETWORKS,
        "DISCOVERY_SCAN_TIMEOUT_SECONDS": "2",
        # As in production (required there): new certificates carry CRL DP + AIA, so the
        # lint of what the worker signs allows no "revocation information absent".
        "PKI_BASE_URL": "http://pki.test.example",
    }


@pytest.fixture(scope="session")
def app(test_settings: dict[str, str]) -> Iterator[Flask]:
    os.environ["INSTANCE_PATH"] = test_settings["INSTANCE_PATH"]
    _reset_database(test_settings["SQLALCHEMY_DATABASE_URI"])
    application = create_app({**test_settings, "TESTING": True})
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    _drop_queue(test_settings["REDIS_URL"], test_settings["RQ_QUEUE"])


@pytest.fixture(autouse=True)
def _clean_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty every table after each test that used the app (schema stays)."""
    yield
    if "app" not in request.fixturenames:
        return
    application: Flask = request.getfixturevalue("app")
    with application.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            _empty_tables(conn)
    _drop_queue(application.config["REDIS_URL"], application.config["RQ_QUEUE"])


def _empty_tables(conn: Connection) -> None:
    """Delete every row, children first, except the Local PKI provider row the migration
    seeds (every test starts with it, reset). On PostgreSQL the DELETEs between go in one
    round trip (one statement each took ~17 ms a test)."""
    batch: list[str] = []
    quote = conn.dialect.identifier_preparer.quote

    def flush() -> None:
        if batch:
            conn.exec_driver_sql("; ".join(batch))
            batch.clear()

    for table in reversed(db.metadata.sorted_tables):
        if table.name == "certificate_providers":
            flush()
            conn.execute(table.delete().where(table.c.type != "builtin"))
            conn.execute(table.update().values(
                name="Local PKI", active=True, test_status=None, test_steps=[]))
        elif conn.dialect.name == "postgresql":
            batch.append(f"DELETE FROM {quote(table.name)}")
        else:  # sqlite3 runs one statement a call (in-process: cheap)
            conn.execute(table.delete())
    flush()


def _drop_queue(url: str, queue: str) -> None:
    """Remove this session's queued jobs and registries, leaving other sessions' keys alone."""
    from rq import Queue

    connection = Redis.from_url(url)
    Queue(queue, connection=connection).empty()
    keys = [*connection.scan_iter(f"rq:*{queue}*"), *connection.scan_iter(f"limits:{queue}*")]
    if keys:
        connection.delete(*keys)


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def run_jobs(app: Flask) -> None:
    """Drain the queue with the real worker class (burst mode, in this process)."""
    from app.jobs.worker import build_worker

    build_worker(app, name=f"test-{uuid.uuid4().hex[:8]}").work(burst=True)


@pytest.fixture
def jobs(app: Flask):
    return lambda: run_jobs(app)


def run_jobs_until(app: Flask, done: Callable[[], bool], timeout: float = 60.0) -> None:
    """Drain the queue (and the scheduled jobs that are due, as the worker's scheduler
    would) until ``done()``; fails after ``timeout`` seconds."""
    from app.jobs.worker import build_worker

    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the jobs did not finish in time"
        build_worker(app, name=f"test-{uuid.uuid4().hex[:8]}").work(burst=True,
                                                                    with_scheduler=True)
        if not done():
            time.sleep(0.2)


@pytest.fixture
def worker_key(app: Flask) -> None:
    """The worker's sealing key pair (the worker makes it at start; tests that store
    provider secrets need it)."""
    from app.services.worker_keys import ensure_worker_key

    with app.app_context():
        ensure_worker_key()
        db.session.remove()


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    """The base URL of the session app, served by werkzeug in a background thread (the
    browser tests' server, and the http-01 answers pebble validates)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


# ---- builders and web helpers -------------------------------------------------------------

def make_user(app: Flask, email: str = "admin@example.com", role: str = "super_admin",
              domains: tuple[str, ...] = (), enabled: bool = True) -> int:
    from app.services import domains as domain_service
    from app.services import users

    with app.app_context():
        ids = [domain_service.find_domain(d).id for d in domains]  # type: ignore[union-attr]
        user, _ = users.create_user(email, role=role, password=TEST_PASSWORD, domain_ids=ids)
        if not enabled:
            user.enabled = False
            db.session.commit()
        return user.id


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def login(client: FlaskClient, email: str = "admin@example.com",
          password: str = TEST_PASSWORD) -> None:
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def post(client: FlaskClient, path: str, data: dict | None = None, **kwargs):
    """POST a form the way a browser does: with the CSRF token of the session."""
    token = csrf_token(client, "/")
    return client.post(path, data={**(data or {}), "csrf_token": token}, **kwargs)


@pytest.fixture
def admin_client(app: Flask, client: FlaskClient) -> FlaskClient:
    make_user(app)
    login(client)
    return client

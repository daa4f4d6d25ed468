"""The application factory and its settings."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from app import create_app
from app.config import ConfigurationError, normalize_database_url


def test_testing_app_uses_the_test_database(app) -> None:
    assert app.config["TESTING"]
    assert "test" in app.config["RQ_QUEUE"]


@pytest.mark.parametrize("key", [None, "", "dev", "change-me", "short-but-random-1234"])
def test_production_refuses_a_missing_or_weak_secret_key(monkeypatch, tmp_path, key) -> None:
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    config = {"SECRET_KEY": key} if key is not None else {}
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app(config)
    assert not (tmp_path / "secret_key").exists()


def test_production_starts_with_a_strong_secret_key(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("APP_ENV", "production")
    app = create_app({"SECRET_KEY": "x" * 48})
    assert app.config["SESSION_COOKIE_SECURE"] is True or app.config["APP_ENV"] == "production"


def test_development_generates_a_private_secret_key_once(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("APP_ENV", raising=False)
    first = create_app().config["SECRET_KEY"]
    second = create_app().config["SECRET_KEY"]
    path = Path(tmp_path) / "secret_key"
    assert first == second and len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(("given", "expected"), [
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///x.db", "sqlite:///x.db"),
])
def test_database_urls_use_psycopg3(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_worker_refuses_to_start_in_production_without_a_key_encryption_key(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": "x" * 48,
           "INSTANCE_PATH": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:1/0",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
           "PKI_BASE_URL": "http://pki.example.com"}  # its own refusal is tested elsewhere
    env.pop("KEY_ENCRYPTION_KEYS", None)
    result = subprocess.run([sys.executable, "worker.py"], env=env, capture_output=True,
                            text=True, timeout=60, check=False,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode != 0
    assert "KEY_ENCRYPTION_KEYS must be set" in result.stderr
    assert not (tmp_path / "key-encryption-keys").exists()
    assert not (tmp_path / "worker").exists()


def test_postgresql_pool_reuses_the_connection_returned_last(app) -> None:
    """LIFO pool (``_tune_postgres_pool``): at a light load a process keeps using its one or
    two warm connections — their statements prepared, PostgreSQL's catalog caches filled —
    instead of cycling through the whole pool, where each connection is cold until it has
    run each statement a few times (docs/performance.md, "Submission's latency at 500/s")."""
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the tuned pool is PostgreSQL's")
        engine = db.engine
    first, second = engine.connect(), engine.connect()
    pids = [c.execute(text("SELECT pg_backend_pid()")).scalar() for c in (first, second)]
    first.close()
    second.close()      # returned last
    with engine.connect() as again:
        assert again.execute(text("SELECT pg_backend_pid()")).scalar() == pids[1]

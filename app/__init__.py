"""Certificate provisioning platform: the Flask application factory."""
from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask
from sqlalchemy import Engine

from app.config import default_settings, ensure_secret_key, normalize_database_url
from app.extensions import csrf, db, htmx, login_manager, migrate


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the web application. The key-encryption key is never read here: only the
    worker decrypts private keys (see ``app/services/keyring.py``)."""
    app = Flask(__name__, instance_relative_config=True,
                instance_path=os.environ.get("INSTANCE_PATH") or None)
    _configure(app, test_config)
    _trust_proxies(app)
    _bind_extensions(app)
    _install_input_guard(app)
    _install_busy_close(app)
    _install_ocsp_fast_path(app)
    _install_status_fast_path(app)
    _register_blueprints(app)
    _register_web_helpers(app)
    _register_cli(app)
    return app


def _configure(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.from_mapping(default_settings(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    _wait_for_sqlite_writers(app)
    _tune_postgres_pool(app)
    ensure_secret_key(app.config, app.instance_path)
    from app.web import rate_limits

    rate_limits.configure(app.config)
    _configure_lint(app)
    if app.config["APP_ENV"] != "production":
        logging.basicConfig(level=logging.INFO)


def _configure_lint(app: Flask) -> None:
    from app.config import ConfigurationError
    from app.pki import lint

    try:
        lint.configure(app.config["LINT_BEFORE_SIGNING"])
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _wait_for_sqlite_writers(app: Flask) -> None:
    """SQLite lets one writer at a time; the web, the worker and the CLI share the file, so
    a writer waits for the lock (30 s) instead of failing at Python's 5 s default when the
    machine is busy."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("connect_args", {}).setdefault("timeout", 30)


def _tune_postgres_pool(app: Flask) -> None:
    """One pool per process, sized by DATABASE_POOL_SIZE / DATABASE_MAX_OVERFLOW, with a
    liveness check (a restarted PostgreSQL or PgBouncer must not fail the next request),
    handing out the connection returned last (LIFO): at a light load a process keeps to its
    one or two warm connections (statements prepared, the backend's catalog caches filled)
    instead of cycling through all of them, each cold until it has run every statement a
    few times. Behind PgBouncer in transaction mode psycopg must not prepare statements."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    options.setdefault("pool_size", app.config.get("DATABASE_POOL_SIZE", 5))
    options.setdefault("max_overflow", app.config.get("DATABASE_MAX_OVERFLOW", 10))
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_use_lifo", True)
    if app.config.get("DATABASE_PGBOUNCER") == "transaction":
        options.setdefault("connect_args", {})["prepare_threshold"] = None


def _trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, take the client address and scheme from
    the X-Forwarded-For/-Proto entries those proxies added; otherwise ignore the headers
    (anyone can send them)."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def _install_busy_close(app: Flask) -> None:
    """Courier submissions answered while the process is busy close their connection, so
    the next one goes to a free process (``web/busy_close.py``)."""
    from app.web.busy_close import CloseWhenBusy

    app.wsgi_app = CloseWhenBusy(app.wsgi_app)  # type: ignore[method-assign]


def _install_ocsp_fast_path(app: Flask) -> None:
    """OCSP answers from Redis before Flask (``web/ocsp_fast_path.py``); the outermost
    layer, so a cached answer costs no request context."""
    if app.config.get("OCSP_REDIS_CACHE", True):
        from app.web.ocsp_fast_path import OcspFastPath

        app.wsgi_app = OcspFastPath(app.wsgi_app, app.config["REDIS_URL"])  # type: ignore[method-assign]


def _install_status_fast_path(app: Flask) -> None:
    """Open orders' status polls answered from the fragment kept for the session
    (``web/status_fast_path.py``), after one query instead of a Flask request."""
    if not app.config["STATUS_FAST_PATH"] or not app.secret_key:
        return
    from app.services.status_fragments import PollReader
    from app.web.poll_batching import batching
    from app.web.status_fast_path import StatusFastPath

    polls = batching(PollReader(_poll_engine(app)))
    app.wsgi_app = StatusFastPath(app.wsgi_app, app, polls)  # type: ignore[method-assign]


def _poll_engine(app: Flask) -> Engine:
    """The fast path's own pool: autocommit, no liveness ping, no reset on return — its
    one read is one round trip (the app's pool would add a ping, BEGIN and ROLLBACK). A
    dead connection fails that read, and the poll falls back to Flask, whose pool pings."""
    from sqlalchemy import create_engine

    from app.extensions import db

    with app.app_context():
        engine = db.engine
    if engine.url.get_backend_name() == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return engine  # a private in-memory database is visible only through its own pool
    options = {**app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}), "pool_pre_ping": False,
               "pool_reset_on_return": None, "isolation_level": "AUTOCOMMIT"}
    if engine.url.get_backend_name() == "postgresql":
        # No overflow: under thousands of polls an overflow connection is opened and
        # closed per poll (a PostgreSQL backend started each time); waiting a moment for
        # one of the pool's is far cheaper, and a poll that waits too long falls back.
        options.update(max_overflow=0, pool_timeout=2)
    return create_engine(engine.url, **options)


def _bind_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (registers every model on the metadata)
    from app.models.base import include_in_autogenerate

    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir(), render_as_batch=True,
                     include_object=include_in_autogenerate)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    from app.web.rate_limits import limiter

    limiter.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"


def _install_input_guard(app: Flask) -> None:
    from app.web import input_guard

    input_guard.install(app)  # before the blueprints: it replaces the <int:…> converter


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


def _register_blueprints(app: Flask) -> None:
    from app.blueprints import (
        acme,
        admin_acme,
        admin_audit,
        admin_domains,
        admin_notifications,
        admin_policies,
        admin_providers,
        admin_users,
        alerts,
        api,
        auth,
        bridges,
        certificates,
        clm,
        couriers,
        csr,
        discovery,
        http01,
        orders,
        pki,
        pki_public,
        policy_test,
        targets,
        wizard,
    )

    for module in (auth, clm, wizard, orders, certificates, alerts, policy_test, admin_users,
                   admin_domains, admin_policies, pki, admin_providers, admin_audit, couriers,
                   csr, http01, discovery, admin_notifications, admin_acme, bridges, targets):
        app.register_blueprint(module.bp)
    csrf.exempt(pki_public.bp)  # relying parties POST OCSP requests: nothing to forge
    app.register_blueprint(pki_public.bp)
    csrf.exempt(api.bp)  # the couriers' JSON API: bearer tokens instead of CSRF tokens
    app.register_blueprint(api.bp)
    csrf.exempt(acme.bp)  # the ACME server: every POST is a signed JWS with a nonce
    app.register_blueprint(acme.bp)


def _register_web_helpers(app: Flask) -> None:
    from app.web import errors, headers, sessions, templating

    errors.register_error_handlers(app)
    headers.register(app)
    templating.register_template_helpers(app)
    sessions.register(app)
    from app.blueprints import api

    api.install_fallback(app)  # JSON, not pages, for errors under /api/ (e.g. unknown paths)


def _register_cli(app: Flask) -> None:
    from app.cli import register_cli

    register_cli(app)

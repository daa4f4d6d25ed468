"""Certificate provisioning platform: the Flask application factory."""
from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask

from app.config import default_settings, ensure_secret_key, normalize_database_url
from app.extensions import csrf, db, htmx, login_manager, migrate


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the web application. The key-encryption key is never read here: only the
    worker decrypts private keys (see ``app/services/keyring.py``)."""
    app = Flask(__name__, instance_relative_config=True,
                instance_path=os.environ.get("INSTANCE_PATH") or None)
    _configure(app, test_config)
    _bind_extensions(app)
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
    ensure_secret_key(app.config, app.instance_path)
    if app.config["APP_ENV"] != "production":
        logging.basicConfig(level=logging.INFO)


def _bind_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (registers every model on the metadata)

    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir(), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


def _register_blueprints(app: Flask) -> None:
    from app.blueprints import (
        admin_audit,
        admin_domains,
        admin_policies,
        admin_providers,
        admin_users,
        alerts,
        api,
        auth,
        certificates,
        clm,
        couriers,
        csr,
        http01,
        orders,
        pki,
        policy_test,
        wizard,
    )

    for module in (auth, clm, wizard, orders, certificates, alerts, policy_test, admin_users,
                   admin_domains, admin_policies, pki, admin_providers, admin_audit, couriers,
                   csr, http01):
        app.register_blueprint(module.bp)
    csrf.exempt(api.bp)  # the couriers' JSON API: bearer tokens instead of CSRF tokens
    app.register_blueprint(api.bp)


def _register_web_helpers(app: Flask) -> None:
    from app.web import errors, templating

    errors.register_error_handlers(app)
    templating.register_template_helpers(app)
    from app.blueprints import api

    api.install_fallback(app)  # JSON, not pages, for errors under /api/ (e.g. unknown paths)


def _register_cli(app: Flask) -> None:
    from app.cli import register_cli

    register_cli(app)

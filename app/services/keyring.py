"""The key-encryption keyring, loaded only inside the worker (the back control plane).

Source: ``KEY_ENCRYPTION_KEYS`` ("kid:base64key[,older...]"); outside production, when that
is not set, ``instance/worker/key-encryption-keys`` (created with mode 0600 in a 0700
folder on first use; a file left at the older place ``instance/key-encryption-keys`` is
moved there). The web process never calls this module: ``wsgi.py`` refuses to start in
production with the key in its environment, and the start command keeps it out."""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from flask import current_app

from app.config import ConfigurationError, read_or_create_secret_file
from app.pki.key_encryption import KeyEncryptionKeyring

log = logging.getLogger(__name__)
WORKER_DIR = "worker"
KEYRING_NAME = "key-encryption-keys"


def kek_in_web_environment(environ: Mapping[str, str]) -> str | None:
    """Why the web server must not start with this environment, or None. In production
    the key-encryption key belongs to the worker alone (ideally its own OS user): a web
    process that holds it turns any request-handling bug into a way to every private key."""
    if environ.get("APP_ENV") == "production" and environ.get("KEY_ENCRYPTION_KEYS"):
        return ("KEY_ENCRYPTION_KEYS is set in the web server's environment. In production "
                "only the worker may hold the key-encryption key: remove the variable from "
                "the web server's environment and give it to the worker alone (run the "
                "worker under its own OS user; see docs/deployment.md).")
    return None


def worker_dir(instance_path: str) -> Path:
    """The worker's private folder (owner-only), created on first use."""
    path = Path(instance_path) / WORKER_DIR
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def keyring_file(instance_path: str) -> Path:
    path = worker_dir(instance_path) / KEYRING_NAME
    legacy = Path(instance_path) / KEYRING_NAME
    if legacy.exists() and not path.exists():
        os.replace(legacy, path)
        log.info("moved the development key-encryption key into %s", path.parent)
    return path


def load_keyring() -> KeyEncryptionKeyring:
    spec = os.environ.get("KEY_ENCRYPTION_KEYS") or current_app.config.get("KEY_ENCRYPTION_KEYS")
    if not spec:
        if current_app.config["APP_ENV"] == "production":
            raise ConfigurationError(
                "KEY_ENCRYPTION_KEYS must be set for the worker in production.")
        spec = read_or_create_secret_file(keyring_file(current_app.instance_path),
                                          KeyEncryptionKeyring.generate_spec)
    return KeyEncryptionKeyring.from_string(spec)

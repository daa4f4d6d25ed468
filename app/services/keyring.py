"""The key-encryption keyring, loaded only inside the worker (the back control plane).

Source: ``KEY_ENCRYPTION_KEYS`` ("kid:base64key[,older...]"); outside production, when that
is not set, ``instance/key-encryption-keys`` (created with mode 0600 on first use).
The web process never calls this module: a test starts the web app without the key."""
from __future__ import annotations

import os
from pathlib import Path

from flask import current_app

from app.config import ConfigurationError, read_or_create_secret_file
from app.pki.key_encryption import KeyEncryptionKeyring


def keyring_file(instance_path: str) -> Path:
    return Path(instance_path) / "key-encryption-keys"


def load_keyring() -> KeyEncryptionKeyring:
    spec = os.environ.get("KEY_ENCRYPTION_KEYS") or current_app.config.get("KEY_ENCRYPTION_KEYS")
    if not spec:
        if current_app.config["APP_ENV"] == "production":
            raise ConfigurationError(
                "KEY_ENCRYPTION_KEYS must be set for the worker in production.")
        spec = read_or_create_secret_file(keyring_file(current_app.instance_path),
                                          KeyEncryptionKeyring.generate_spec)
    return KeyEncryptionKeyring.from_string(spec)

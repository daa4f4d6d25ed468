"""Sealed secrets: the web seals to the worker's public key; only the worker (which can
unwrap the private key with the KEK) opens them, and only where they were sealed for."""
from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import WorkerKey
from app.services.worker_keys import (
    SealedSecretInvalid,
    WorkerKeyMissing,
    ensure_worker_key,
    open_sealed,
    seal_for_worker,
)


def test_sealing_needs_a_worker_key(app: Flask) -> None:
    with app.app_context(), pytest.raises(WorkerKeyMissing) as missing:
        seal_for_worker("s3cret", "provider:x:api_key")
    assert missing.value.status == 503 and "worker has started" in missing.value.message


def test_the_worker_key_is_made_once_and_wrapped_under_the_kek(app: Flask) -> None:
    with app.app_context():
        first = ensure_worker_key()
        assert ensure_worker_key().kid == first.kid
        assert db.session.scalar(select(func.count()).select_from(WorkerKey)) == 1
        assert first.private_key_encrypted.startswith("aes256gcm:")
        assert "PRIVATE KEY" not in first.private_key_encrypted


def test_seal_and_open_round_trip_bound_to_its_place(app: Flask, worker_key: None) -> None:
    with app.app_context():
        token = seal_for_worker("s3cret-value", "provider:a:api_key")
        assert "s3cret" not in token
        assert open_sealed(token, "provider:a:api_key") == "s3cret-value"
        with pytest.raises(SealedSecretInvalid):
            open_sealed(token, "provider:b:api_key")          # copied to another row
        with pytest.raises(SealedSecretInvalid):
            open_sealed(token[:-8] + "AAAAAAAA", "provider:a:api_key")   # tampered
        with pytest.raises(SealedSecretInvalid):
            open_sealed("not.a.jwe", "provider:a:api_key")


def test_the_web_without_the_kek_seals_but_cannot_open(app: Flask, test_settings: dict,
                                                       worker_key: None, tmp_path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEY_ENCRYPTION_KEYS", raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    web = create_app({**{k: v for k, v in test_settings.items()
                         if k != "KEY_ENCRYPTION_KEYS"}, "TESTING": True})
    with web.app_context():
        token = seal_for_worker("tsig-secret", "provider:a:tsig_secret")
        assert "tsig-secret" not in token
        # Without the worker's KEK the private key does not unwrap (a keyring made here
        # is another key): the web cannot read back what it sealed.
        with pytest.raises(Exception, match=r"(?i)key|decrypt|tag"):
            open_sealed(token, "provider:a:tsig_secret")
    with app.app_context():   # the worker opens it
        assert open_sealed(token, "provider:a:tsig_secret") == "tsig-secret"

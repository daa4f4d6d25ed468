"""Revoking a certificate of an external CA (pebble, a real ACME CA): the platform answers
``revocation_pending`` and the worker asks the CA; a CA refusal leaves the certificate
unrevoked with the CA's message on its page."""
from __future__ import annotations

import uuid

import pytest
from cryptography import x509
from flask import Flask

from app.extensions import db
from app.models import Certificate
from app.services import revocation
from app.services.provider_runtime import build_provider
from tests.builders import add_domain
from tests.conftest import login, make_user, run_jobs_until
from tests.interop.fixtures import create_acme_provider
from tests.interop.servers import Pebble
from tests.providers.acme_helpers import certificate_of, settle, submit

pytestmark = pytest.mark.interop


@pytest.fixture
def acme_certificate(app: Flask, worker_key: None, pebble: Pebble) -> str:
    make_user(app)
    add_domain(app, "example.test")
    provider_id = create_acme_provider(app, pebble)
    order = settle(app, submit(app, provider_id, ["revoke.example.test"]))
    assert order.status == "complete", order.error
    return str(certificate_of(app, order.id).id)


def _cert(app: Flask, certificate_id: str) -> Certificate:
    with app.app_context():
        cert = db.session.get(Certificate, uuid.UUID(certificate_id))
        db.session.expunge(cert)
        return cert


def test_an_acme_certificate_is_revoked_at_its_ca(app: Flask, acme_certificate: str) -> None:
    with app.app_context():
        result = revocation.revoke_certificate(
            db.session.get(Certificate, uuid.UUID(acme_certificate)), "superseded",
            actor_label="test")
    assert result.as_dict() == {"certificate_id": acme_certificate,
                                "status": "revocation_pending"}
    pending = _cert(app, acme_certificate)
    assert pending.revocation_pending == "superseded" and not pending.revoked
    run_jobs_until(app, lambda: not _cert(app, acme_certificate).revocation_pending)
    done = _cert(app, acme_certificate)
    assert done.revoked and done.revocation_reason == "superseded"
    assert done.revocation_error is None


def test_a_ca_refusal_leaves_it_unrevoked_with_the_message_on_its_page(
        app: Flask, client, acme_certificate: str) -> None:
    # Revoked at the CA behind the platform's back: the CA refuses a second revocation.
    with app.app_context():
        cert = db.session.get(Certificate, uuid.UUID(acme_certificate))
        build_provider(cert.order.provider, cert.order.id).revoke(
            x509.load_pem_x509_certificate(cert.certificate_pem.encode()), "unspecified")
        revocation.revoke_certificate(cert, "keyCompromise", actor_label="test")
    run_jobs_until(app, lambda: not _cert(app, acme_certificate).revocation_pending)
    refused = _cert(app, acme_certificate)
    assert not refused.revoked and refused.revocation_error
    login(client)
    page = client.get(f"/certificates/{acme_certificate}").get_data(as_text=True)
    assert "The CA did not revoke this certificate:" in page
    assert "Revoke certificate" in page   # it can be tried again

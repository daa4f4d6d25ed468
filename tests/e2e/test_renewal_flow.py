"""Renewal in a real browser, with the real worker process: a certificate with a
platform-made key renewed from its page (the new order followed to ``complete``, both
certificates linked), and a CSR order renewed through the upload page with a new CSR."""
from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask
from playwright.sync_api import Page, expect

from app.domain.request import CertificateRequest
from app.extensions import db
from app.models import Certificate, Order, User
from tests.api.conftest import make_csr, new_key
from tests.e2e.rq_worker import WorkerProcess
from tests.e2e.test_admin_pki_flow import log_in
from tests.e2e.test_wizard_flow import USER, active_local_pki, user_with_one_domain

pytestmark = pytest.mark.e2e
COMPLETE_TIMEOUT_MS = 30_000


def _submit(app: Flask, request: CertificateRequest, pathway: str,
            csr_pem: str | None = None) -> uuid.UUID:
    from app.services.orders import submit_order
    from app.services.requesters import requester_for_user

    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == USER))
        order, _ = submit_order(request, requester_for_user(user), pathway=pathway,
                                request_key=f"e2e:{uuid.uuid4().hex}", csr_pem=csr_pem)
        return order.id


def _certificate_of(app: Flask, order_id: uuid.UUID) -> str:
    """Wait (on the database) for the worker process to issue the order."""
    import time

    deadline = time.monotonic() + COMPLETE_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        with app.app_context():
            order = db.session.get(Order, order_id)
            if order.status == "complete":
                return str(order.certificate.id)
            assert order.status != "failed", order.error
        time.sleep(0.2)
    raise AssertionError("the order was not issued in time")


def _expect_complete(page: Page) -> None:
    expect(page.locator("#order-detail")).to_have_attribute("data-status", "complete",
                                                            timeout=COMPLETE_TIMEOUT_MS)


def test_renew_a_platform_key_certificate_and_a_csr_order(
        app: Flask, page: Page, worker_process: WorkerProcess) -> None:
    user_with_one_domain(app)
    active_local_pki(app, worker_process)
    platform = _certificate_of(app, _submit(app, CertificateRequest(
        common_name="www.example.com", algorithm="ec-256", digest="sha256",
        validity_days=60, key_usage=("digitalSignature",),
        extended_key_usage=("serverAuth",)), "wizard"))

    log_in(page, USER)
    page.goto(f"/certificates/{platform}")
    page.get_by_role("button", name="Renew", exact=True).click()
    expect(page.get_by_text("Renewal of www.example.com submitted.")).to_be_visible()
    expect(page.locator("[data-badge=renewal]")).to_be_visible()
    expect(page.locator("#renewal-of")).to_contain_text("www.example.com")
    _expect_complete(page)                      # followed by polling, without a reload
    page.locator("#certificate-link").click()
    renewed_url = page.url
    assert platform not in renewed_url
    expect(page.locator("#renewal-of a")).to_have_attribute("href",
                                                            f"/certificates/{platform}")
    page.goto(f"/certificates/{platform}")
    expect(page.locator("#renewed-by a")).to_have_attribute(
        "href", renewed_url.removeprefix(page.url.split("/certificates/")[0]))
    expect(page.locator("#renewal")).to_contain_text("Renewed")
    expect(page.locator("#certificate-detail")).to_have_attribute("data-status", "active")
    with app.app_context():
        old = db.session.get(Certificate, uuid.UUID(platform))
        new = db.session.get(Certificate, uuid.UUID(renewed_url.rsplit("/", 1)[1]))
        assert new.fingerprint_sha256 != old.fingerprint_sha256
        assert new.order.request["algorithm"] == "ec-256"
        assert new.order.pathway == "wizard" and new.order.renews_order_id == old.order_id

    # A CSR order: the upload page opens prefilled from the original; a new CSR is needed.
    from app.services.intake import parse_csr_input, request_from_csr
    from app.services.issuers import with_default_issuer

    first_csr = make_csr("api.example.com", ("api.example.com",))
    with app.app_context():
        parsed, _ = parse_csr_input(first_csr)
        request, _ = request_from_csr(parsed, {
            # SHA-256: the issuing CA is P-256, which signs with its curve's hash only.
            "digest": "sha256", "validity_days": 45, "key_usage": ["digitalSignature"],
            "extended_key_usage": ["serverAuth", "clientAuth"]})
        request = with_default_issuer(request)
    csr_cert = _certificate_of(app, _submit(app, request, "csr_upload", parsed.pem))

    page.goto(f"/certificates/{csr_cert}")
    page.get_by_role("button", name="Renew with a new CSR…").click()
    expect(page.locator("#renewal-note")).to_contain_text("api.example.com")
    key = new_key("ec-256")
    page.get_by_label("Paste the CSR (PEM)").fill(make_csr("api.example.com",
                                                           ("api.example.com",), key=key))
    page.get_by_role("button", name="Check CSR →").click()
    expect(page.locator("#renewal-note")).to_be_visible()
    expect(page.locator("#f-validity_days")).to_have_value("45")    # the original's options
    expect(page.locator("#f-digest")).to_have_value("sha256")
    page.get_by_role("button", name="Submit request").click()
    expect(page.locator("[data-badge=renewal]")).to_be_visible()
    _expect_complete(page)
    page.locator("#certificate-link").click()
    expect(page.locator("#renewal-of a")).to_have_attribute("href",
                                                            f"/certificates/{csr_cert}")
    with app.app_context():
        new = db.session.get(Certificate, uuid.UUID(page.url.rsplit("/", 1)[1]))
        assert new.order.pathway == "csr_upload" and new.order.csr_pem
        assert new.order.request["validity_days"] == 45
        assert new.order.request["action"] == "certificate.renew"
        spki = key.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        from cryptography import x509
        leaf = x509.load_pem_x509_certificate(new.certificate_pem.encode())
        assert leaf.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo) == spki

    # The Orders page: the renewals-only filter lists exactly the two renewals.
    page.goto("/orders/?renewals=1")
    expect(page.locator("#order-results tbody tr")).to_have_count(2)
    expect(page.locator("#order-results [data-badge=renewal]")).to_have_count(2)
    page.goto("/orders/")
    expect(page.locator("#order-results tbody tr")).to_have_count(4)

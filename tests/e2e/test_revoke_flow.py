"""Revoking in the browser: the owner opens the certificate page, picks a reason, types
the common name, accepts the confirmation naming the certificate, and the page shows it
revoked in place (htmx, no navigation). A wrong confirmation is an error next to the
field, and nothing is revoked."""
from __future__ import annotations

import time
import uuid

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, User
from app.services.intake import request_from_values
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from tests.builders import add_domain
from tests.conftest import make_user
from tests.e2e.test_admin_pki_flow import log_in

pytestmark = pytest.mark.e2e

OWNER = "owner@example.com"


def _issued(app: Flask, worker_process) -> str:
    """An intermediate and a certificate of OWNER, made by the session's worker.py."""
    from app.services import pki

    add_domain(app, "example.com")
    make_user(app, OWNER, role="user", domains=("example.com",))

    def wait(check, what: str) -> None:
        deadline = time.monotonic() + 60
        while not check():
            assert time.monotonic() < deadline, f"{what}\n{worker_process.tail()}"
            time.sleep(0.1)

    def active(ca_id: str) -> bool:
        with app.app_context():
            db.session.remove()
            return pki.get_ca(ca_id).status == "active"

    with app.app_context():
        root_id = str(pki.request_root(pki.CAParameters(common_name="E2E Root",
                                                        organization="E2E", country="DE",
                                                        algorithm="ec-256")).id)
    wait(lambda: active(root_id), "root not generated")
    with app.app_context():
        inter_id = str(pki.request_intermediate(pki.CAParameters(
            common_name="E2E Issuing", algorithm="ec-256", validity_days=730,
            organization="E2E", country="DE"), root_id).id)
    wait(lambda: active(inter_id), "intermediate not generated")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == OWNER))
        request, problems = request_from_values({
            "common_name": "shop.example.com", "sans": [], "algorithm": "ec-256",
            "digest": "sha256", "validity_days": "90", "key_usage": ["digitalSignature"],
            "extended_key_usage": ["serverAuth"], "issuer_id": inter_id})
        assert problems == []
        order, _ = submit_order(request, requester_for_user(user), pathway="wizard",
                                request_key=f"e2e:{uuid.uuid4()}")
        order_id = order.id

    def certificate() -> str | None:
        with app.app_context():
            db.session.remove()
            cert = db.session.scalar(select(Certificate).where(
                Certificate.order_id == order_id))
            return str(cert.id) if cert else None

    wait(lambda: certificate() is not None, "certificate not issued")
    return certificate() or ""


def test_the_owner_revokes_in_place(app: Flask, page: Page, worker_process) -> None:
    certificate_id = _issued(app, worker_process)
    log_in(page, OWNER)
    page.goto(f"/certificates/{certificate_id}")
    section = page.locator("#certificate-detail")
    expect(section).to_have_attribute("data-status", "active")
    page.get_by_label("Reason (RFC 5280)").select_option("keyCompromise")

    # A wrong confirmation: the field says what to type, nothing is revoked.
    page.get_by_label("Confirm").fill("www.example.com")
    dialogs: list[str] = []

    def accept(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.get_by_role("button", name="Revoke certificate").click()
    # The refusal has arrived (the field is marked invalid, its error shown) before the
    # next fill: the help text alone is there before the swap too.
    expect(page.get_by_label("Confirm")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#certificate-detail small.error")).to_contain_text(
        "Type the common name, shop.example.com, to confirm.")
    assert dialogs and dialogs[0].startswith("Revoke shop.example.com (serial ")
    expect(section).to_have_attribute("data-status", "active")

    url = page.url
    page.get_by_label("Confirm").fill("shop.example.com")
    page.get_by_role("button", name="Revoke certificate").click()
    expect(page.locator("#certificate-detail")).to_have_attribute("data-status", "revoked")
    expect(page.locator("#revoked-note")).to_contain_text("(keyCompromise)")
    expect(page.get_by_role("button", name="Revoke certificate")).to_have_count(0)
    assert page.url == url   # in place
    with app.app_context():
        cert = db.session.get(Certificate, uuid.UUID(certificate_id))
        assert cert.revoked and cert.revocation_reason == "keyCompromise"


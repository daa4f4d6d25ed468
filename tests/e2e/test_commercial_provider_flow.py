"""DigiCert CertCentral and GlobalSign Atlas from end to end in a real browser, against
their HTTPS stand-ins (GlobalSign's over mutual TLS): a PKI admin creates the provider in
Admin → Certificate Providers, tests the connection (run by the real worker, each step
shown), requests a certificate with it in the wizard (only the fields the provider
honours are offered), and watches the order go processing (waiting for validation) →
complete without a reload; the downloaded chain verifies against the stand-in's root."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.builders import add_domain
from tests.conftest import make_user
from tests.e2e.rq_worker import WorkerProcess
from tests.e2e.test_admin_pki_flow import is_htmx_post, log_in, open_admin_menu
from tests.e2e.test_wizard_flow import UUID, continue_to, draft_id, expect_step, open_wizard
from tests.pki.tooling import openssl
from tests.standins.ca import pem

pytestmark = [pytest.mark.e2e]

ADMIN = "pki-admin@example.com"
COMMON_NAME = "pending.example.test"      # the stand-ins wait for validation a few checks
STEPS = {"digicert": ["credentials", "organization"],
         "globalsign": ["login", "policy", "trustchain"]}
OPTION = {"digicert": "DigiCert (DigiCert)", "globalsign": "Atlas (GlobalSign)"}


def _fill_digicert(page: Page, server) -> None:
    page.locator("#name").fill("DigiCert")
    page.locator("#base_url").fill(server.base_url)
    page.locator("#organization_id").fill(str(server.organization_id))
    page.locator("#product").fill("ssl_basic")
    page.locator("#api_key").fill(server.api_key)
    page.locator("#poll_seconds").fill("1")
    page.locator("#ca_bundle").fill(server.tls.ca_pem)


def _fill_globalsign(page: Page, server) -> None:
    client = server.identity()
    page.locator("#name").fill("Atlas")
    page.locator("#base_url").fill(server.base_url)
    page.locator("#api_key").fill(server.api_key)
    page.locator("#api_secret").fill(server.api_secret)
    page.locator("#client_cert").fill(client.cert_pem)
    page.locator("#mtls_key").fill(client.key_pem)
    page.locator("#poll_seconds").fill("1")
    page.locator("#ca_bundle").fill(server.tls.ca_pem)


@pytest.mark.parametrize("kind", ["digicert", "globalsign"])
def test_commercial_provider_created_tested_and_used_for_an_order(
        app: Flask, page: Page, live_server: str, worker_process: WorkerProcess,
        worker_key: None, kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    server = request.getfixturevalue(kind)
    add_domain(app, "example.test")
    make_user(app, ADMIN, role="pki_admin")

    # -- Admin → Certificate Providers → New DigiCert / GlobalSign provider.
    log_in(page, ADMIN)
    open_admin_menu(page, "Certificate Providers")
    label = "New DigiCert provider" if kind == "digicert" else "New GlobalSign provider"
    page.get_by_role("button", name=label).click()
    (_fill_digicert if kind == "digicert" else _fill_globalsign)(page, server)
    page.get_by_role("button", name="Create provider").click()
    expect(page).to_have_url(re.compile(rf"/admin/providers/{UUID}$"))
    expect(page.locator(".flash-success")).to_contain_text("Created provider")
    assert server.api_key not in page.content() and "PRIVATE KEY" not in page.content()

    # -- Test connection, run by the worker; each step shown when done.
    test_section = page.locator("#provider-test")
    with page.expect_response(is_htmx_post("/test")) as queued:
        test_section.get_by_role("button", name="Test connection").click()
    assert queued.value.status == 200
    expect(page.locator('#provider-test[data-status="ok"]')).to_be_visible(timeout=30_000)
    expect(test_section.locator("li[data-step]")).to_have_count(len(STEPS[kind]))
    for step in STEPS[kind]:
        expect(test_section.locator(f'li[data-step="{step}"][data-ok="yes"]')).to_be_visible()
    expect(test_section.locator("#test-result")).to_contain_text("Connection OK")

    # -- The wizard: the provider is offered; only what it honours is asked for.
    open_wizard(page)
    draft = draft_id(page)
    page.get_by_label("Common name (CN)").fill(COMMON_NAME)
    continue_to(page, "names", draft)
    expect_step(page, "subject")
    continue_to(page, "subject", draft)
    expect_step(page, "crypto")
    provider = page.get_by_label("Certificate provider")
    expect(provider.locator("option")).to_have_text([OPTION[kind]])
    expect(page.locator("#provider-note")).to_contain_text("the key usages itself")
    expect(page.locator("#f-digest")).to_be_visible()           # honoured: offered
    expect(page.locator("#f-validity_days")).to_be_visible()
    expect(page.locator("#f-issuer_id")).to_have_count(0)
    expect(page.locator('input[name="key_usage"]')).to_have_count(0)   # decided by the CA
    continue_to(page, "crypto", draft)
    expect_step(page, "review")
    expect(page.locator('td[data-field="key_usage"]')).to_contain_text("set by the CA")

    # -- Submit: processing (waiting for validation) → complete, without a reload.
    page.locator("#submit-request").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(live_server)}/orders/{UUID}$"))
    detail = page.locator("#order-detail")
    expect(detail.locator("ol.timeline")).to_contain_text("Waiting for the CA",
                                                          timeout=30_000)
    expect(page.locator('#order-detail[data-status="complete"]')).to_be_visible(
        timeout=60_000)
    statuses = detail.locator("ol.timeline li strong").all_inner_texts()
    assert statuses[0] == "pending" and statuses[-1] == "complete" and "processing" in statuses
    facts = detail.locator("table.facts tr")
    expect(facts.filter(has=page.locator("th", has_text="Type")).locator("td")).to_have_text(
        "External CA")
    orders = [r for r in server.requests if r.method == "POST" and
              r.path.rstrip("/").endswith(("/order/certificate/ssl_basic", "/v2/certificates"))]
    assert len(orders) == 1                                       # ordered once

    # -- The certificate page: the chain verifies against the stand-in's root.
    detail.locator("#certificate-link").click()
    expect(page).to_have_url(re.compile(rf"/certificates/{UUID}$"))
    certificate = page.locator("#certificate-detail")
    with page.expect_download() as chain_download:
        certificate.get_by_role("button", name="Chain (PEM)", exact=True).click()
    chain_path = tmp_path / "chain.pem"
    chain_download.value.save_as(chain_path)
    with page.expect_download() as leaf_download:
        certificate.get_by_role("button", name="Certificate (PEM)", exact=True).click()
    leaf_path = tmp_path / "leaf.pem"
    leaf_download.value.save_as(leaf_path)
    root_path = tmp_path / "root.pem"
    root_path.write_text(pem(server.ca.root))
    verified = openssl("verify", "-CAfile", str(root_path), "-untrusted", str(chain_path),
                       str(leaf_path))
    assert verified.returncode == 0, verified.stderr


def _wait(done, message: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, message
        time.sleep(0.3)


@pytest.mark.parametrize("kind", ["digicert", "globalsign"])
def test_revoking_a_commercial_certificate_reaches_the_ca(
        app: Flask, page: Page, live_server: str, worker_process: WorkerProcess,
        worker_key: None, kind: str, request: pytest.FixtureRequest) -> None:
    """The Revoke form on the certificate page of a commercial CA's certificate: the
    worker calls the CA's revoke endpoint once, and the page shows it revoked."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Certificate, Order
    from tests.providers.acme_helpers import submit
    from tests.standins.fixtures import create_digicert_provider, create_globalsign_provider

    server = request.getfixturevalue(kind)
    add_domain(app, "example.test")
    make_user(app, ADMIN, role="pki_admin")
    create = create_digicert_provider if kind == "digicert" else create_globalsign_provider
    order_id = submit(app, create(app, server), ["www.example.test"], digest="sha256",
                      validity_days="30")

    def certificate() -> Certificate | None:
        with app.app_context():
            done = db.session.get(Order, order_id).status == "complete"
            cert = db.session.scalar(select(Certificate).where(
                Certificate.order_id == order_id)) if done else None
            if cert is not None:
                db.session.expunge(cert)
            db.session.remove()
            return cert

    _wait(lambda: certificate() is not None, "the order did not complete")
    cert = certificate()
    assert cert is not None
    serial = int(cert.serial_hex, 16)

    log_in(page, ADMIN)
    page.goto(f"/certificates/{cert.id}")
    page.get_by_label("Reason (RFC 5280)").select_option("keyCompromise")
    page.get_by_label("Confirm").fill("www.example.test")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke certificate").click()
    expect(page.locator("#revocation-pending, #revoked-note")).to_be_visible()
    _wait(lambda: serial in server.revoked_serials(), "the revocation did not reach the CA")
    revokes = [r for r in server.requests    # DigiCert: PUT …/revoke; Atlas: PATCH
               if r.method == ("PUT" if kind == "digicert" else "PATCH")]
    assert len(revokes) == 1
    assert int(revokes[0].path.rstrip("/").removesuffix("/revoke").rsplit("/", 1)[-1],
               16) == serial
    deadline = time.monotonic() + 30
    while not page.locator("#revoked-note").count():      # the worker stored the answer
        assert time.monotonic() < deadline, "the page never showed the revocation"
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("#certificate-detail")).to_have_attribute("data-status", "revoked")
    expect(page.locator("#revoked-note")).to_contain_text("(keyCompromise)")

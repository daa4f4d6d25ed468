"""An ACME provider from end to end in a real browser, against Debian's pebble: a PKI admin
creates the provider (EAB, the pebble listener CA as bundle), tests the connection (run
by the real worker, progress shown while it runs), requests a certificate with it in the
wizard (only the names and the key are asked for), watches the order go processing →
complete without a reload, and downloads the chain, which verifies against pebble's root.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.builders import add_domain
from tests.conftest import make_user
from tests.e2e.rq_worker import WorkerProcess
from tests.e2e.test_admin_pki_flow import is_htmx_post, log_in, open_admin_menu
from tests.e2e.test_wizard_flow import UUID, continue_to, draft_id, expect_step, open_wizard
from tests.interop.servers import Pebble
from tests.pki.tooling import openssl

pytestmark = [pytest.mark.e2e, pytest.mark.interop]

ADMIN = "pki-admin@example.com"
COMMON_NAME = "shop.example.test"
SCREENSHOT = "/tmp/e2e-acme-order.png"


def test_acme_provider_created_tested_and_used_for_an_order(
        app: Flask, page: Page, live_server: str, worker_process: WorkerProcess,
        worker_key: None, pebble: Pebble, tmp_path: Path) -> None:
    add_domain(app, "example.test")
    make_user(app, ADMIN, role="pki_admin")

    # -- Admin → Certificate Providers → New ACME provider.
    log_in(page, ADMIN)
    open_admin_menu(page, "Certificate Providers")
    expect(page.get_by_role("heading", name="Certificate Providers", level=1)).to_be_visible()
    expect(page.locator("article.empty")).to_contain_text("Only the Local PKI so far.")
    page.get_by_role("button", name="New ACME provider").click()
    page.locator("#name").fill("Pebble")
    page.get_by_label("Directory URL").fill(pebble.directory_url)
    page.get_by_label("Account e-mail").fill("pki@example.test")
    page.get_by_label("EAB key id (optional)").fill(pebble.eab_kid)
    page.get_by_label("EAB HMAC key (base64url)").fill(pebble.eab_hmac_key)
    page.locator('input[name="challenge"][value="http-01"]').check()
    assert pebble.tls is not None
    page.get_by_label("CA bundle (PEM, optional)").fill(pebble.tls.ca_pem)
    page.get_by_role("button", name="Create provider").click()
    expect(page).to_have_url(re.compile(rf"/admin/providers/{UUID}$"))
    expect(page.locator(".flash-success")).to_contain_text("Created provider 'Pebble'")
    expect(page.locator("#secrets")).to_have_text("eab_hmac_key: set")
    assert pebble.eab_hmac_key not in page.content()

    # -- Test connection: the worker runs it; the section polls until the steps are done.
    test_section = page.locator("#provider-test")
    with page.expect_response(is_htmx_post("/test")) as queued:
        test_section.get_by_role("button", name="Test connection").click()
    assert queued.value.status == 200
    expect(test_section).to_have_attribute("data-status", re.compile("queued|running|ok"))
    expect(page.locator('#provider-test[data-status="ok"]')).to_be_visible(timeout=30_000)
    expect(test_section.locator("li[data-step]")).to_have_count(3)
    expect(test_section.locator('li[data-step="account"]')).to_contain_text(
        "now registered")
    expect(test_section.locator("#test-result")).to_contain_text("Connection OK")
    assert test_section.get_attribute("hx-trigger") is None   # polling stopped

    # -- The wizard: choose Pebble on step 2; only the key is asked for.
    open_wizard(page)
    draft = draft_id(page)
    page.get_by_label("Common name (CN)").fill(COMMON_NAME)
    continue_to(page, "names", draft)
    expect_step(page, "subject")
    continue_to(page, "subject", draft)
    expect_step(page, "crypto")
    # No Local PKI CA exists here, so the ACME provider is the one offered (and chosen).
    provider = page.get_by_label("Certificate provider")
    expect(provider.locator("option")).to_have_text(["Pebble (ACME)"])
    expect(page.locator("#provider-note")).to_contain_text(
        "takes the names and the key only")
    for hidden in ("#f-digest", "#f-validity_days", "#f-issuer_id"):
        expect(page.locator(hidden)).to_have_count(0)
    expect(page.locator("#f-algorithm")).to_be_visible()
    continue_to(page, "crypto", draft)
    expect_step(page, "review")
    expect(page.locator('td[data-field="provider_id"]')).to_have_text("Pebble")
    expect(page.locator('td[data-field="validity_days"]')).to_contain_text("set by the CA")

    # -- Submit: processing (waiting for the CA) → complete, without a reload.
    page.locator("#submit-request").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(live_server)}/orders/{UUID}$"))
    detail = page.locator("#order-detail")
    expect(page.locator('#order-detail[data-status="complete"]')).to_be_visible(
        timeout=60_000)
    statuses = detail.locator("ol.timeline li strong").all_inner_texts()
    assert statuses[0] == "pending" and statuses[-1] == "complete"
    assert "processing" in statuses, statuses
    expect(detail.locator("ol.timeline")).to_contain_text("Waiting for the CA")
    facts = detail.locator("table.facts tr")
    expect(facts.filter(has=page.locator("th", has_text="Type")).locator("td")).to_have_text(
        "ACME CA")
    expect(facts.filter(has=page.locator("th", has_text="Provider")).locator("td")
           ).to_have_text("Pebble")
    expect(detail.locator("#lint-findings")).to_contain_text("recorded, not blocking")
    page.screenshot(path=SCREENSHOT, full_page=True)

    # -- The certificate page: download the chain and verify it against pebble's root.
    detail.locator("#certificate-link").click()
    expect(page).to_have_url(re.compile(rf"/certificates/{UUID}$"))
    certificate = page.locator("#certificate-detail")
    with page.expect_download() as chain_download:
        certificate.get_by_role("button", name="Chain (PEM)", exact=True).click()
    assert urlsplit(chain_download.value.url).path.endswith("/download/chain")
    chain_path = tmp_path / "chain.pem"
    chain_download.value.save_as(chain_path)
    with page.expect_download() as leaf_download:
        certificate.get_by_role("button", name="Certificate (PEM)", exact=True).click()
    leaf_path = tmp_path / "leaf.pem"
    leaf_download.value.save_as(leaf_path)
    root_path = tmp_path / "pebble-root.pem"
    root_path.write_text(pebble.root_pem())
    verified = openssl("verify", "-CAfile", str(root_path), "-untrusted", str(chain_path),
                       str(leaf_path))
    assert verified.returncode == 0, verified.stderr
    assert "Pebble Intermediate" in openssl("x509", "-noout", "-subject", "-in",
                                            str(chain_path)).stdout

"""A user's certificate order from end to end in a real browser: submitted through the
wizard, watched on its order page from ``pending`` to ``complete`` without a reload (an
htmx fragment that polls about once a second and stops once the order is terminal), then
the certificate's full chain and a one-time PKCS#12 export downloaded and checked, and the
order counted on the Orders page."""
from __future__ import annotations

import re
import subprocess
import time
import uuid
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from flask import Flask
from playwright.sync_api import Page, Request, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from app.extensions import db
from app.models import Order
from app.services import orders
from app.services.certificate_exports import EXPORT_FORMATS
from tests.e2e.rq_worker import FlushWatch, WorkerProcess
from tests.e2e.test_admin_pki_flow import is_htmx_post, is_poll, log_in
from tests.e2e.test_wizard_flow import (
    USER,
    UUID,
    active_local_pki,
    continue_to,
    count_page_loads,
    draft_id,
    expect_step,
    open_wizard,
    user_with_one_domain,
)

pytestmark = pytest.mark.e2e

ORDERS_SCREENSHOT = "/tmp/e2e-orders.png"
CERTIFICATE_SCREENSHOT = "/tmp/e2e-certificate.png"
COMMON_NAME = "www.example.com"
PASSPHRASE = "order flow export passphrase"  # at least 12 characters
COMPLETE_TIMEOUT_S = 20
STATUS_PATH = re.compile(rf"^/orders/({UUID})/status$")


# ---- helpers ------------------------------------------------------------------------------

def record_status_polls(page: Page) -> list[tuple[float, str]]:
    """(monotonic time, path) of every request to an order's status fragment."""
    polls: list[tuple[float, str]] = []

    def on_request(request: Request) -> None:
        path = urlsplit(request.url).path
        if STATUS_PATH.match(path):
            polls.append((time.monotonic(), path))

    page.on("request", on_request)
    return polls


def wait_for_complete(app: Flask, page: Page, worker: WorkerProcess, watch: FlushWatch,
                      order_id: str) -> None:
    """Wait (on the page, which polls by itself) for the order to be shown complete.

    If another test session flushed the shared Redis database while the worker was
    paused, the queued job is gone: only then is it handed over again, through the
    application's own idempotent enqueue."""
    detail = page.locator("#order-detail")
    complete = page.locator('#order-detail[data-status="complete"]')
    deadline = time.monotonic() + COMPLETE_TIMEOUT_S
    while True:
        try:
            complete.wait_for(timeout=1_000)
            return
        except PlaywrightTimeoutError:
            if time.monotonic() > deadline:
                raise
        status = detail.get_attribute("data-status")
        assert status in ("pending", "processing"), \
            f"order {order_id} is {status}: {detail.inner_text()}\n{worker.tail()}"
        if watch.flushed():
            with app.app_context():
                order = db.session.get(Order, uuid.UUID(order_id))
                if order is not None and order.status == "pending":
                    print(f"Redis test database flushed by another session: "
                          f"re-enqueued order {order_id}")
                    orders.enqueue_issue(order)
                db.session.remove()


def request_pkcs12_export(page: Page, watch: FlushWatch, certificate_url: str) -> str:
    """Ask for a PKCS#12 export on the certificate's export form and wait until the status
    page (which polls) says it is ready. Returns the status page URL.

    Requested once more only if the export stalled because another session flushed the
    shared Redis database before the worker took the job."""
    for attempt in range(2):
        if attempt:
            page.goto(certificate_url)
        page.get_by_role("button", name="Export private key…").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            f"Export the private key of {COMMON_NAME}")
        page.get_by_label(EXPORT_FORMATS["pkcs12"]).check()
        page.get_by_label("Passphrase to protect the exported key").fill(PASSPHRASE)
        page.get_by_label("Repeat the passphrase").fill(PASSPHRASE)
        page.get_by_role("button", name="Prepare export").click()
        expect(page).to_have_url(re.compile(rf"/certificates/exports/{UUID}$"))
        page.wait_for_load_state()
        settled = page.locator('#export-status:not([data-status="pending"])')
        settled.wait_for()
        status = settled.get_attribute("data-status")
        if status == "stalled" and watch.flushed():
            print("Redis test database flushed by another session: requested the export "
                  "again")
            continue
        assert status == "ready", page.locator("#export-status").inner_text()
        return page.url
    pytest.fail("the export stalled twice")


def pkcs12_info(path: Path) -> str:
    """``openssl pkcs12 -info`` of the file, keys unencrypted in the output."""
    result = subprocess.run(
        ["openssl", "pkcs12", "-info", "-nodes", "-passin", f"pass:{PASSPHRASE}",
         "-in", str(path)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def common_name(name: x509.Name) -> str:
    return name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value  # type: ignore[return-value]


# ---- the test -----------------------------------------------------------------------------

def test_order_is_issued_watched_downloaded_and_counted(
        app: Flask, page: Page, live_server: str, worker_process: WorkerProcess,
        tmp_path: Path) -> None:
    user_with_one_domain(app)
    active_local_pki(app, worker_process)

    # -- The wizard: the name, default subject, RSA 2048, review.
    log_in(page, USER)
    open_wizard(page)
    draft = draft_id(page)
    page.get_by_label("Common name (CN)").fill(COMMON_NAME)
    continue_to(page, "names", draft)
    expect_step(page, "subject")
    continue_to(page, "subject", draft)
    expect_step(page, "crypto")
    with page.expect_response(is_htmx_post(f"/request/{draft}/crypto")) as refreshed:
        page.locator("#f-algorithm").select_option("rsa-2048")
    assert refreshed.value.status == 200
    expect(page.locator("#f-algorithm")).to_have_value("rsa-2048")
    continue_to(page, "crypto", draft)
    expect_step(page, "review")
    expect(page.locator('#wizard-step td[data-field="common_name"]')).to_contain_text(
        COMMON_NAME)
    expect(page.locator("#submit-request")).to_be_enabled()

    # -- Submit while the worker is paused: the order page shows pending and polls.
    loads = count_page_loads(page)
    polls = record_status_polls(page)
    detail = page.locator("#order-detail")
    watch = worker_process.flush_watch()
    try:
        with worker_process.paused():
            page.locator("#submit-request").click()
            expect(page).to_have_url(re.compile(rf"{re.escape(live_server)}/orders/{UUID}$"))
            order_id = urlsplit(page.url).path.rsplit("/", 1)[-1]
            status_path = f"/orders/{order_id}/status"
            expect(detail).to_have_attribute("data-status", "pending")
            expect(detail).to_have_attribute("hx-get", status_path)
            expect(detail).to_have_attribute("hx-trigger", "every 1s")
            expect(detail.locator("h1")).to_contain_text(COMMON_NAME)
            expect(detail.locator("h1 .badge-pending")).to_have_text("pending")
            expect(detail).to_contain_text("Waiting for a worker to pick up the order")
            page.wait_for_load_state()
            loads_on_order_page = loads()
            for _ in range(2):  # two round trips while the job waits, each still pending
                with page.expect_response(is_poll(status_path)) as poll:
                    pass
                assert poll.value.status == 200
                expect(detail).to_have_attribute("data-status", "pending")
        wait_for_complete(app, page, worker_process, watch, order_id)
    finally:
        watch.close()

    # -- Complete, swapped in without a reload; the fragment no longer polls.
    assert loads() == loads_on_order_page, "the order page was reloaded while waiting"
    assert urlsplit(page.url).path == f"/orders/{order_id}"
    expect(detail.locator("h1 .badge-complete")).to_have_text("complete")
    expect(detail.locator("#certificate-link")).to_be_visible()
    expect(detail).not_to_contain_text("Waiting for a worker")
    expect(detail.locator("ol.timeline li strong")).to_have_text(
        ["pending", "processing", "complete"])
    assert detail.evaluate("e => e.hasAttribute('hx-trigger') || e.hasAttribute('hx-get')") \
        is False, "a terminal order must render without its poll trigger"
    our_polls = [at for at, path in polls if path == status_path]
    assert all(path == status_path for _, path in polls), polls
    assert len(our_polls) >= 3, our_polls  # two while pending, one that brought `complete`
    gaps = [b - a for a, b in pairwise(our_polls)]
    assert all(0.7 <= gap <= 2.5 for gap in gaps), f"polls not about 1 s apart: {gaps}"
    polled = len(polls)
    page.wait_for_timeout(3_000)  # the point here: time passing without another poll
    assert len(polls) == polled, \
        f"{len(polls) - polled} status request(s) after the order completed"
    assert loads() == loads_on_order_page

    # -- The certificate page: the full chain, leaf first.
    page.locator("#certificate-link").click()
    expect(page).to_have_url(re.compile(rf"/certificates/{UUID}$"))
    certificate_url = page.url
    certificate = page.locator("#certificate-detail")
    expect(certificate).to_have_attribute("data-status", "active")
    expect(certificate.locator("h1")).to_contain_text(COMMON_NAME)
    expect(certificate.get_by_role("link", name=order_id)).to_be_visible()
    expect(certificate.get_by_role("button", name="Export private key…")).to_be_visible()
    page.screenshot(path=CERTIFICATE_SCREENSHOT, full_page=True)

    with page.expect_download() as fullchain_download:
        certificate.get_by_role("button", name="Full chain (PEM)").click()
    download = fullchain_download.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".pem"), download.suggested_filename
    assert urlsplit(download.url).path.endswith("/download/fullchain")
    fullchain_path = tmp_path / download.suggested_filename
    download.save_as(fullchain_path)
    chain = x509.load_pem_x509_certificates(fullchain_path.read_bytes())
    assert len(chain) == 2, [c.subject.rfc4514_string() for c in chain]
    leaf, issuer = chain
    assert common_name(leaf.subject) == COMMON_NAME
    assert common_name(issuer.subject) == "Wizard Issuing CA"
    assert leaf.issuer == issuer.subject
    leaf.verify_directly_issued_by(issuer)
    key = leaf.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert COMMON_NAME in sans.get_values_for_type(x509.DNSName)
    expect(certificate).to_contain_text(leaf.fingerprint(hashes.SHA256()).hex(":").upper())

    # -- A PKCS#12 export, prepared by the worker, downloaded once.
    watch = worker_process.flush_watch()
    try:
        export_url = request_pkcs12_export(page, watch, certificate_url)
    finally:
        watch.close()
    export = page.locator("#export-status")
    expect(export).to_contain_text("can be downloaded once")
    download_button = export.get_by_role("button", name="Download PKCS#12 file")
    reloads: list[str] = []  # page loads; the download's own POST is a navigation too
    page.on("request", lambda r: reloads.append(r.url) if r.is_navigation_request()
            and r.method == "GET" and r.frame == page.main_frame else None)
    with page.expect_download() as p12_download:
        download_button.click()
    download = p12_download.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".p12"), download.suggested_filename
    p12_path = tmp_path / download.suggested_filename
    download.save_as(p12_path)

    info = pkcs12_info(p12_path)
    assert info.count("-----BEGIN PRIVATE KEY-----") == 1, info
    assert info.count("-----BEGIN CERTIFICATE-----") == 2, info  # the leaf and its issuer
    assert re.search(rf"subject=.*CN\s*=\s*{re.escape(COMMON_NAME)}", info), info
    bundle_key, bundle_cert, bundle_chain = pkcs12.load_key_and_certificates(
        p12_path.read_bytes(), PASSPHRASE.encode())
    assert bundle_cert == leaf
    assert bundle_chain == [issuer]
    assert bundle_key is not None and bundle_key.public_key() == leaf.public_key()

    # -- Downloaded once: the page stops offering it, without a reload.
    expect(export).to_have_attribute("data-status", "downloaded")
    expect(export).to_contain_text("Already downloaded on")
    expect(export.get_by_role("button", name="Download PKCS#12 file")).to_have_count(0)
    assert page.url == export_url and reloads == []

    # A second download is refused by the server too (tests/web/test_downloads.py).
    page.goto(export_url)
    expect(export.get_by_role("button", name="Download PKCS#12 file")).to_have_count(0)

    # -- CLM → Orders: counted as complete, listed with the requester.
    nav = page.locator("header ul.mainnav")
    nav.locator("summary").get_by_text("CLM", exact=True).click()
    nav.get_by_role("link", name="Orders", exact=True).click()
    expect(page).to_have_url(f"{live_server}/orders/")
    expect(page.get_by_role("heading", name="Orders", level=1)).to_be_visible()
    for status, expected in (("complete", 1), ("pending", 0), ("processing", 0),
                             ("failed", 0)):
        card = page.locator(f'#order-cards article.card[data-status="{status}"]')
        expect(card.locator("header")).to_have_text(status.capitalize())
        expect(card.locator("p.big")).to_have_attribute("data-count", str(expected))
        expect(card.locator("p.big")).to_have_text(str(expected))
    rows = page.locator("#order-results tbody tr")
    expect(rows).to_have_count(1)
    row = page.locator(f'#order-results tbody tr[data-order="{order_id}"]')
    expect(row.locator("td").nth(0)).to_have_text(COMMON_NAME)
    expect(row.locator("td").nth(1).locator(".badge-complete")).to_have_text("complete")
    expect(row.locator("td").nth(3)).to_have_text(USER)
    expect(row.get_by_role("link", name=COMMON_NAME)).to_have_attribute(
        "href", f"/orders/{order_id}")
    page.screenshot(path=ORDERS_SCREENSHOT, full_page=True)

"""Discovery in a real browser: a deployment admin imports a PEM bundle, scans Debian's
nginx and watches the certificate appear with its location while the page polls (no
reload), then opens the certificate and requests a replacement in the prefilled wizard."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.builders import add_domain
from tests.conftest import make_user
from tests.discovery.certs import pem
from tests.discovery.conftest import discovery_nginx, scan_pki  # noqa: F401 - fixtures
from tests.discovery.nginx import VHOSTS
from tests.e2e.rq_worker import WorkerProcess
from tests.e2e.test_admin_pki_flow import log_in
from tests.e2e.test_wizard_flow import UUID, expect_step

pytestmark = [pytest.mark.e2e, pytest.mark.interop]
ADMIN = "deployer@example.com"
IMPORT_SCREENSHOT = "/tmp/e2e-discovery-import.png"
SCAN_SCREENSHOT = "/tmp/e2e-discovery-scan.png"


def open_discovery(page: Page) -> None:
    nav = page.locator("header ul.mainnav")
    nav.locator("summary").get_by_text("CLM", exact=True).click()
    nav.get_by_role("link", name="Discovery").click()
    expect(page.get_by_role("heading", name="Discovery", level=1)).to_be_visible()


def test_import_scan_and_request_a_replacement(app: Flask, page: Page, tmp_path: Path,
                                               worker_process: WorkerProcess,
                                               discovery_nginx, scan_pki) -> None:  # noqa: F811
    make_user(app, ADMIN, role="deployment_admin")
    add_domain(app, "nginx.test")
    log_in(page, ADMIN)
    open_discovery(page)
    expect(page.locator("article.empty").first).to_contain_text("No scans yet")

    # Import: a bundle with the issuing CA and a duplicate.
    imported, _ = scan_pki.leaf("imported.nginx.test")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pem(imported, scan_pki.inter, imported))
    page.get_by_label("Certificate file").set_input_files(str(bundle))
    page.get_by_role("button", name="Import").click()
    results = page.locator("#import-results")
    expect(results).to_contain_text("1 certificate added, 1 already known, 1 kept as chain")
    expect(results.locator("tr[data-result=added]")).to_contain_text("imported.nginx.test")
    page.screenshot(path=IMPORT_SCREENSHOT, full_page=True)

    # Bad input on the scan form: shown at the field, nothing started.
    page.get_by_label("Endpoints to scan").fill("nginx.test:99999")
    page.get_by_role("button", name="Scan").click()
    expect(page.locator("#scan small.error")).to_contain_text("from 1 to 65535")

    # Scan nginx: the page polls and the certificate appears without a reload.
    target = discovery_nginx.endpoint(VHOSTS[0])
    plain = f"127.0.0.1:{discovery_nginx.http_port}"
    page.get_by_label("Endpoints to scan").fill(f"{target}\n{plain}")
    page.get_by_role("button", name="Scan").click()
    expect(page).to_have_url(re.compile(rf"/discovery/scans/{UUID}$"))
    page.wait_for_load_state("load")   # the scan page's own load is not a reload
    loads: list[str] = []
    page.on("load", lambda _: loads.append(page.url))
    row = page.locator(f'tr[data-endpoint="127.0.0.1:{discovery_nginx.tls_port}"]')
    expect(row).to_have_attribute("data-result", "ok")
    expect(row).to_contain_text(VHOSTS[0])
    expect(page.locator(f'tr[data-endpoint="{plain}"]')).to_have_attribute("data-result",
                                                                           "not_tls")
    expect(page.locator("#scan-results")).to_have_attribute("data-status", "complete")
    assert loads == []          # progress arrived by polling, not by reloading
    page.screenshot(path=SCAN_SCREENSHOT, full_page=True)

    # The certificate: discovered, with its location.
    row.get_by_role("link", name=VHOSTS[0]).click()
    expect(page.get_by_role("heading", name=VHOSTS[0], level=1)).to_be_visible()
    expect(page.locator("[data-field=source]")).to_have_text("Discovered")
    expect(page.locator("#certificate-locations")).to_contain_text(
        f"127.0.0.1:{discovery_nginx.tls_port}")
    expect(page.locator("#certificate-locations")).to_contain_text(VHOSTS[0])

    # Request a replacement: the wizard opens with its names and subject.
    page.get_by_role("button", name="Request a replacement").click()
    expect_step(page, "names")
    expect(page.locator("#f-common_name")).to_have_value(VHOSTS[0])
    page.locator("#continue").click()
    expect_step(page, "subject")
    expect(page.get_by_label("Organisation (O)")).to_have_value("Discovery Test")

    # The inventory lists it as discovered, with where and when it was seen.
    page.goto("/certificates/?source=discovered")
    listed = page.locator("#certificate-results tr", has_text=VHOSTS[0])
    expect(listed.locator("[data-field=locations]")).to_contain_text(
        f"127.0.0.1:{discovery_nginx.tls_port}")
    expect(listed.locator("[data-field=last-seen]")).to_contain_text("last seen")

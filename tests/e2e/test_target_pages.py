"""In the browser: create a bridge (secret shown once), a target system (a refused form
first, then edit and save unchanged), a certificate profile (refused, then added, then
edited) — and watch the deployment appear and turn ``succeeded`` with the probed serial,
without reloading the page, while the real worker issues and the bridge reports."""
from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.builders import add_domain
from tests.conftest import make_user
from tests.e2e.rq_worker import WorkerProcess
from tests.e2e.test_admin_pki_flow import log_in
from tests.e2e.test_wizard_flow import active_local_pki
from tests.targets.helpers import bridge_keypair

pytestmark = pytest.mark.e2e


def open_clm_menu(page: Page, item: str) -> None:
    nav = page.locator("header ul.mainnav")
    nav.locator("summary").get_by_text("CLM", exact=True).click()
    nav.get_by_role("link", name=item, exact=True).click()


def _report_as_bridge(app: Flask, client_id: str, secret: str) -> str:
    """What the bridge does after deploying: take the deployment, report success."""
    api = app.test_client()
    token = api.post("/api/v1/bridge/auth", json={"client_id": client_id,
                                                  "client_secret": secret,
                                                  "version": "1.0.0"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    item = api.get("/api/v1/bridge/deployments", headers=headers).get_json()["deployments"][0]
    serial = item["certificate"]["serial"]
    done = api.post(f"/api/v1/bridge/deployments/{item['id']}/report", headers=headers,
                    json={"status": "succeeded", "served_serial": serial,
                          "steps": [{"name": "write", "ok": True},
                                    {"name": "reload", "ok": True},
                                    {"name": "probe", "ok": True}]})
    assert done.status_code == 200, done.get_json()
    return serial.lstrip("0")


def test_bridges_targets_and_profiles_with_live_deployment_status(
        app: Flask, page: Page, worker_process: WorkerProcess) -> None:
    add_domain(app, "example.com")
    active_local_pki(app, worker_process)
    make_user(app, "deploy@example.com", role="deployment_admin")
    log_in(page, "deploy@example.com")

    open_clm_menu(page, "Bridges")
    expect(page.get_by_text("No bridges yet.")).to_be_visible()
    page.get_by_role("button", name="New bridge").click()
    page.get_by_label("Name").fill("dc1")
    page.get_by_label("Public key").fill("not a key")
    page.get_by_role("button", name="Create bridge").click()
    expect(page.locator("#public_key-error")).to_contain_text("not a PEM public key")
    page.get_by_label("Public key").fill(bridge_keypair()[1])
    page.get_by_role("button", name="Create bridge").click()
    expect(page.get_by_text("Copy the client secret now")).to_be_visible()
    client_id = page.locator("#bridge-client-id").inner_text()
    secret = page.locator("#bridge-client-secret").inner_text()
    page.get_by_role("button", name="Back to bridges").click()
    expect(page.locator("tbody tr").first).to_contain_text("no contact yet")

    open_clm_menu(page, "Target systems")
    page.get_by_role("button", name="New target system").click()
    page.get_by_label("Name", exact=True).fill("web-1")
    page.get_by_label("Full chain file").fill("etc/nginx/full.pem")
    page.get_by_label("Private key file").fill("/etc/nginx/tls/key.pem")
    page.get_by_label("Reload command").fill("systemctl reload nginx")
    page.get_by_label("TLS endpoint port").fill("8443")
    page.get_by_role("button", name="Create target system").click()
    expect(page.locator("#path_fullchain-error")).to_contain_text("absolute file path")
    page.get_by_label("Full chain file").fill("/etc/nginx/tls/full.pem")
    page.get_by_role("button", name="Create target system").click()
    expect(page.get_by_role("heading", name="web-1")).to_be_visible()
    expect(page.locator("#no-deployments")).to_be_visible()

    page.locator("#edit-target summary").click()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Nothing changed.")).to_be_visible()
    page.locator("#edit-target summary").click()
    page.get_by_label("TLS endpoint port").fill("70000")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#probe_port-error")).to_contain_text("1 to 65535")
    page.get_by_label("TLS endpoint port").fill("9443")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved target system 'web-1'.")).to_be_visible()

    page.locator("#add-profile summary").click()
    page.get_by_label("Profile name").fill("web")
    page.get_by_label("Common name").fill("web.example.org")
    page.get_by_role("button", name="Add profile").click()
    expect(page.locator("#common_name-error")).to_contain_text("example.org")
    page.get_by_label("Common name").fill("web.example.com")
    page.get_by_label("Validity (days)").fill("30")
    page.get_by_role("button", name="Add profile").click()
    expect(page.get_by_text("its first certificate is being ordered")).to_be_visible()

    # The worker issues; the deployment appears without a reload, waiting for the bridge.
    row = page.locator("#deployments tbody tr").first
    expect(row).to_have_attribute("data-status", "pending")
    expect(row).to_contain_text("waiting for the bridge")
    serial = _report_as_bridge(app, client_id, secret)
    expect(row).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#served-serial")).to_contain_text(serial)
    expect(row).to_contain_text("probe ✓")

    page.get_by_role("link", name="Edit").click()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Nothing changed.")).to_be_visible()
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Renew this many days before expiry").fill("10")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved profile 'web'.")).to_be_visible()
    expect(page.locator("#profiles")).to_contain_text("10 days before expiry")

    open_clm_menu(page, "Bridges")
    expect(page.locator("tbody tr").first).to_contain_text("online")
    expect(page.locator("tbody tr").first).to_contain_text("1.0.0")

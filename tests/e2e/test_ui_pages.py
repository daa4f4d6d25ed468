"""The first hour of a platform engineer, in a real browser, on the demo data the screenshot
script seeds (``scripts/screenshots.py``): a plain user's home shows only their own objects;
a soft warning shows on its order and certificate pages; the audit log filtered by action
and exported as CSV; at 390 px no list page scrolls sideways and the header folds; the
policy form adds a rule before the policy has a name; and the screenshots themselves."""
from __future__ import annotations

import csv
import io
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Order, User
from scripts.screenshots import Demo, seed_demo, take_screenshots
from tests.conftest import run_jobs
from tests.e2e.conftest import page_in_new_context

pytestmark = pytest.mark.e2e

NARROW = {"width": 390, "height": 844}
LIST_PAGES = ("/orders/", "/certificates/", "/admin/audit/", "/admin/policies/", "/admin/pki/")
OTHER_PAGES = ("/", "/certificates/alerts/", "/admin/domains/", "/admin/users/", "/request/",
               "/request/csr", "/policy-test/")


@pytest.fixture
def demo(app: Flask) -> Demo:
    return seed_demo(app, lambda: run_jobs(app))


@pytest.fixture
def narrow_page(browser: Browser, live_server: str,
                request: pytest.FixtureRequest) -> Iterator[Page]:
    yield from page_in_new_context(browser, live_server, request, viewport=NARROW)


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Welcome", level=1)).to_be_visible()


def _orders_of(app: Flask, email: str) -> set[str]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        ids = set(map(str, db.session.scalars(select(Order.id).where(
            Order.requested_by_user_id == user.id))))
        db.session.remove()
        return ids


def test_plain_users_home_shows_only_their_own_objects(app: Flask, page: Page,
                                                      demo: Demo) -> None:
    log_in(page, demo.user, demo.password)
    home = page.locator('[data-home="user"]')
    expect(home).to_be_visible()
    expect(page.locator('[data-home="platform"]')).to_have_count(0)
    shown = set(page.locator("#my-orders li").evaluate_all(
        "items => items.map(i => i.dataset.order)"))
    mine, everyone = _orders_of(app, demo.user), _orders_of(app, demo.admin)
    assert shown == mine and len(mine) == 4 and not shown & everyone
    expect(page.locator("#my-expiring li")).to_have_count(1)
    expect(page.locator("#my-expiring")).to_contain_text("grafana.example.com")
    # The soft policy warning of www and the 30-day expiry warning of grafana; the
    # acknowledged alert of legacy is not open.
    expect(page.locator("#my-alerts li")).to_have_count(2)
    expect(page.locator("#my-alerts")).to_contain_text("requires digest sha384")
    expect(page.locator("#my-alerts")).to_contain_text("grafana.example.com")
    text = page.locator("main").inner_text()
    for other in ("vpn.example.net", "Orders today", "Example Issuing CA", "Failed in the last"):
        assert other not in text, other
    # The admin's home, by contrast, is the platform's.
    page.context.clear_cookies()
    log_in(page, demo.admin, demo.password)
    expect(page.locator('[data-home="platform"]')).to_be_visible()
    expect(page.locator('#orders-today [data-status="failed"]')).to_have_attribute(
        "data-count", "1")
    expect(page.locator("#home-cas")).to_contain_text("Example Issuing CA 1")


def test_soft_warning_shows_on_the_order_and_certificate_pages(page: Page, demo: Demo) -> None:
    log_in(page, demo.user, demo.password)
    page.goto(f"/orders/{demo.alert_order_id}")
    order_alerts = page.locator("#order-alerts")
    expect(order_alerts.locator(".alert-item")).to_have_count(1)
    expect(order_alerts).to_contain_text("Policy 'TLS baseline' requires digest sha384")
    expect(order_alerts.locator('[data-type="policy_soft_fail"]')).to_be_visible()
    expect(page.locator("#order-detail")).to_contain_text("dev@example.com · Wizard")
    expect(page.locator("#order-detail")).to_contain_text(
        "TLS Web Server Authentication serverAuth")

    page.locator("#certificate-link").click()
    expect(page).to_have_url(re.compile(r"/certificates/[0-9a-f-]{36}$"))
    certificate_url = page.url
    cert_alerts = page.locator("#certificate-alerts")
    expect(cert_alerts).to_contain_text("Policy 'TLS baseline' requires digest sha384")
    expect(page.locator('td[data-field="extended_key_usage"]')).to_have_text(
        "TLS Web Server Authentication serverAuth, TLS Web Client Authentication clientAuth")
    # Acknowledged from where it is seen; back on the same page.
    cert_alerts.get_by_role("button", name="Acknowledge").click()
    expect(page).to_have_url(certificate_url)
    expect(page.locator("#certificate-alerts")).to_contain_text("Acknowledged")
    # The Alerts page links to the certificate.
    page.goto("/certificates/alerts/?show=all")
    link = page.locator('a[data-link="certificate"]', has_text="www.example.com")
    expect(link).to_have_attribute("href", urlsplit(certificate_url).path)


def test_audit_log_filtered_by_action_and_exported_as_csv(page: Page, demo: Demo,
                                                           tmp_path: Path) -> None:
    log_in(page, demo.admin, demo.password)
    page.goto("/admin/audit/")
    rows = page.locator("#audit-results tbody tr")
    expect(rows.first).to_be_visible()
    with page.expect_response(lambda r: "action=certificate.issue" in r.url):
        page.get_by_label("Action").select_option("certificate.issue")
    expect(page).to_have_url(re.compile(r"/admin/audit/\?.*action=certificate\.issue"))
    expect(rows).to_have_count(4)
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.action)")) == \
        {"certificate.issue"}
    expect(rows.first.locator("a[data-resource=certificate]")).to_be_visible()

    with page.expect_download() as exported:
        page.locator("#export-csv").click()
    download = exported.value
    assert download.suggested_filename.endswith(".csv")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    records = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(records) == 4 and {r["action"] for r in records} == {"certificate.issue"}
    assert {r["resource_type"] for r in records} == {"certificate"}
    # The filter is in the URL: a reload (or a bookmark) shows the same view.
    page.reload()
    expect(page.get_by_label("Action")).to_have_value("certificate.issue")
    expect(rows).to_have_count(4)


def test_at_390px_no_page_scrolls_sideways_and_the_header_folds(narrow_page: Page,
                                                                 demo: Demo) -> None:
    page = narrow_page
    log_in(page, demo.admin, demo.password)
    for path in LIST_PAGES:
        page.goto(path)
        expect(page.locator("main table tbody tr").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= NARROW["width"], f"{path} is {width}px wide at 390px"
    for path in (*OTHER_PAGES, f"/orders/{demo.alert_order_id}"):
        page.goto(path)
        page.wait_for_load_state()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= NARROW["width"], f"{path} is {width}px wide at 390px"
    # A wide table scrolls inside its container instead.
    page.goto("/admin/audit/")
    wrap = page.locator("#audit-results .table-wrap")
    assert wrap.evaluate("e => e.scrollWidth > e.clientWidth")
    # The header: the menu is folded behind a Menu button, which opens it.
    nav = page.locator("header ul.mainnav")
    expect(nav).to_be_hidden()
    page.get_by_text("Menu", exact=True).click()
    expect(nav).to_be_visible()
    nav.locator("summary").get_by_text("Admin", exact=True).click()
    # Wait for the load event: measured before the stylesheet applies, /admin/pki/ is 483px
    # wide (the unstyled page), which failed CI once.
    nav.get_by_role("link", name="Local PKI", exact=True).click()
    page.wait_for_url(re.compile(r"/admin/pki/$"), wait_until="load")
    expect(page.get_by_role("heading", name="Local PKI", level=1)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]


def test_add_rule_works_before_the_policy_has_a_name(page: Page, demo: Demo) -> None:
    log_in(page, demo.admin, demo.password)
    page.goto("/admin/policies/new")
    expect(page.locator(".rule-row")).to_have_count(1)
    page.get_by_role("button", name="+ Add rule").click()
    expect(page.locator(".rule-row")).to_have_count(2)
    expect(page.get_by_role("heading", name="New policy", level=1)).to_be_visible()


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", header[16:24])


def test_the_screenshot_script_makes_every_screenshot(browser: Browser, live_server: str,
                                                      demo: Demo, tmp_path: Path) -> None:
    written = take_screenshots(browser, live_server, demo, tmp_path)
    names = sorted(p.name for p in written)
    assert names == sorted(f"{page}-{width}.png" for page in (
        "home-user", "home-admin", "order-alert", "audit-log") for width in (1366, 390))
    for path in written:
        width, height = _png_size(path)
        assert width == int(path.stem.rsplit("-", 1)[1]) and height >= 600, (path, width)


@pytest.mark.parametrize("width", [1366, 390])
def test_step_pills_keep_their_distance(app: Flask, browser: Browser, live_server: str,
                                        request: pytest.FixtureRequest, width: int) -> None:
    from tests.builders import add_domain
    from tests.conftest import TEST_PASSWORD, make_user

    add_domain(app, "example.com")
    make_user(app, "pills@example.com", role="user", domains=("example.com",))
    for page in page_in_new_context(browser, live_server, request,
                                    viewport={"width": width, "height": 900}):
        log_in(page, "pills@example.com", TEST_PASSWORD)
        page.goto("/request/")
        pills = page.locator("nav.progress-steps").bounding_box()
        heading = page.locator("#wizard-step h2").bounding_box()
        title = page.get_by_role("heading", name="Request New Certificate").bounding_box()
        assert heading["y"] - (pills["y"] + pills["height"]) >= 12, (pills, heading)
        assert pills["y"] - (title["y"] + title["height"]) >= 8, (title, pills)

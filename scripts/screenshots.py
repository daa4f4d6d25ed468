"""Screenshots for ``docs/screenshots/``: the home page of a plain user and of an admin, an
order page with a policy alert, and the audit log, each at 1366 px and at 390 px wide.

    .venv/bin/python -m scripts.screenshots [OUT_DIR]        # default: docs/screenshots

Builds a throwaway platform (SQLite in a temporary folder; the Redis at ``REDIS_URL``,
default ``redis://127.0.0.1:6379/0``, on a queue of its own), seeds demo data through the
services, runs the jobs with the real worker class, serves the app on a free loopback port
and drives Debian's chromium. ``tests/e2e/test_ui_pages.py`` runs the same
:func:`seed_demo` and :func:`take_screenshots` against the test session's app, so the
script cannot rot unnoticed.
"""
from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
ADMIN = "admin@example.com"
USER = "dev@example.com"
WIDTHS = (1366, 390)
SETTLE_TIMEOUT_S = 60
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass(frozen=True)
class Demo:
    admin: str
    user: str
    password: str
    alert_order_id: str          # an issued order whose soft warning shows as an alert


def settle(app: Flask, run_jobs: Callable[[], None], timeout: float = SETTLE_TIMEOUT_S) -> None:
    """Run queued jobs until no CA or order is still waiting (another worker may be
    taking them too: then this waits for the database to say so)."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import CertificateAuthority, Order

    deadline = time.monotonic() + timeout
    while True:
        run_jobs()
        with app.app_context():
            waiting = db.session.scalar(select(func.count(Order.id)).where(
                Order.status.in_(("pending", "processing")))) or 0
            waiting += db.session.scalar(select(func.count(CertificateAuthority.id)).where(
                CertificateAuthority.status == "pending")) or 0
            db.session.remove()
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{waiting} CA(s)/order(s) still waiting after {timeout}s")
        time.sleep(0.1)


def seed_demo(app: Flask, run_jobs: Callable[[], None]) -> Demo:
    """Domains, an admin and a developer, a root and an intermediate, a policy with a soft
    rule, issued orders (one with a warning), and a failure, all through the services."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import PolicyRecord, User
    from app.services import alerts, domains, expiry, pki, policies, users
    from app.services.intake import request_from_values
    from app.services.orders import submit_order
    from app.services.requesters import requester_for_user

    with app.app_context():
        example = domains.add_domain("example.com")
        domains.add_domain("example.net")
        domains.add_domain("10.20.0.0/16")
        users.create_user(ADMIN, role="super_admin", password=PASSWORD)
        users.create_user(USER, role="user", password=PASSWORD, domain_ids=[example.id])
        root = pki.request_root(pki.CAParameters(
            common_name="Example Root CA", organization="Example Ltd", country="GB",
            algorithm="ec-384", digest="sha384", validity_days=3650))
        root_id = root.id
    settle(app, run_jobs)
    with app.app_context():
        issuing = pki.request_intermediate(pki.CAParameters(
            # RSA: its leaves may use SHA-256 or SHA-384, so the demo's soft SHA-384 policy
            # can be missed (an ECDSA issuer signs with its curve's hash only).
            common_name="Example Issuing CA 1", organization="Example Ltd", country="GB",
            algorithm="rsa-3072", digest="sha384", validity_days=1825), root_id)
        issuer_id = str(issuing.id)
        policy = {"name": "TLS baseline", "enabled": True,
                  "description": "Every TLS certificate under example.com carries our name "
                                 "and prefers SHA-384; ask #pki-help for exceptions.",
                  "matching_criteria": {"actions": ["certificate.generate",
                                                    "certificate.renew"],
                                        "domains": ["*.example.com"]},
                  "rules": [{"action": "enforce_values", "fail": "hard",
                             "values": {"organization": "Example Ltd"}},
                            {"action": "enforce_digest", "fail": "soft",
                             "values": {"digest": "sha384"}}]}
        policies.create_policy(policy)
    settle(app, run_jobs)

    def order(email: str, cn: str, sans: list[str], digest: str = "sha384",
              days: int = 365) -> str:
        with app.app_context():
            who = db.session.scalar(select(User).where(User.email == email))
            request, _ = request_from_values({
                "common_name": cn, "sans": sans, "algorithm": "ec-256", "digest": digest,
                "validity_days": str(days), "key_usage": ["digitalSignature"],
                "extended_key_usage": ["serverAuth", "clientAuth"], "issuer_id": issuer_id})
            made, _ = submit_order(request, requester_for_user(who), pathway="wizard",
                                   request_key=f"demo:{uuid.uuid4()}")
            return str(made.id)

    order(USER, "api.example.com", ["api-internal.example.com"])
    order(USER, "grafana.example.com", [], days=25)
    alert_order = order(USER, "www.example.com", ["example.com"], digest="sha256")
    order(ADMIN, "vpn.example.net", ["10.20.0.1"], days=90)
    legacy = order(USER, "legacy.example.com", [], days=730)
    with app.app_context():
        # Policies may tighten between submit and issuance: the worker judges again.
        record = db.session.scalar(select(PolicyRecord))
        document = json.loads(json.dumps(record.document()))   # a copy, not the row's lists
        document["rules"].append({"action": "enforce_max_validity", "fail": "hard",
                                  "values": {"max_days": 397}})
        policies.update_policy(record, document)
    settle(app, run_jobs)
    with app.app_context():  # one alert already seen and acknowledged by its owner
        dev = db.session.scalar(select(User).where(User.email == USER))
        seen = alerts.alerts_for(order_id=uuid.UUID(legacy))
        if seen:
            alerts.acknowledge(seen[0].id, dev)
        # The daily expiry scan has run: grafana (25 days) carries its 30-day warning. Run
        # here rather than left to the scheduler, so the demo is the same whenever it is seen.
        expiry.run_scan()
    return Demo(ADMIN, USER, PASSWORD, alert_order)


# ---- the screenshots ----------------------------------------------------------------------

def _log_in(page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def take_screenshots(browser, base_url: str, demo: Demo, out_dir: Path) -> list[Path]:
    """Eight PNGs (four pages at two widths) in ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = [("home-user", demo.user, "/"), ("home-admin", demo.admin, "/"),
             ("order-alert", demo.user, f"/orders/{demo.alert_order_id}"),
             ("audit-log", demo.admin, "/admin/audit/")]
    written = []
    for width in WIDTHS:
        for name, who, path in shots:
            context = browser.new_context(base_url=base_url,
                                          viewport={"width": width, "height": 900})
            try:
                page = context.new_page()
                _log_in(page, who, demo.password)
                page.goto(path)
                page.wait_for_load_state("networkidle")
                target = out_dir / f"{name}-{width}.png"
                page.screenshot(path=str(target), full_page=True)
                written.append(target)
            finally:
                context.close()
    return written


# ---- standalone run -----------------------------------------------------------------------

@contextmanager
def _throwaway_platform() -> Iterator[tuple[Flask, Callable[[], None], str]]:
    import os

    from flask_migrate import upgrade
    from rq import Queue
    from werkzeug.serving import make_server

    from app import create_app
    from app.jobs.queue import redis_connection
    from app.jobs.worker import build_worker
    from app.pki.key_encryption import KeyEncryptionKeyring

    with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
        os.environ["INSTANCE_PATH"] = tmp
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'demo.db'}",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "RQ_QUEUE": f"screenshots-{uuid.uuid4().hex[:8]}",
            "SECRET_KEY": uuid.uuid4().hex * 2,
            "KEY_ENCRYPTION_KEYS": KeyEncryptionKeyring.generate_spec("demo"),
        })
        with app.app_context():
            upgrade()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield (app, lambda: build_worker(app).work(burst=True),
                   f"http://127.0.0.1:{server.server_port}")
        finally:
            server.shutdown()
            with app.app_context():
                Queue(app.config["RQ_QUEUE"], connection=redis_connection()).empty()


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    out_dir = Path(argv[0]) if argv else REPO / "docs" / "screenshots"
    with _throwaway_platform() as (app, run_jobs, base_url):
        demo = seed_demo(app, run_jobs)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)
            try:
                for path in take_screenshots(browser, base_url, demo, out_dir):
                    print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

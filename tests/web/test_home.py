"""The home page per role: a plain user sees only their own orders, expiring certificates
and open alerts; admin roles see the platform's counts. Wizard placeholders use one of the
user's own domains."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Certificate, Order, User
from app.models.base import utcnow
from app.services.intake import request_from_values
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from tests.builders import add_domain, add_policy, issuing_ca
from tests.conftest import login, make_user

ALICE, BOB = "alice@example.com", "bob@example.com"


def submit(app, email: str, cn: str, issuer: str, digest: str = "sha256") -> str:
    values = {"common_name": cn, "algorithm": "ec-256", "digest": digest,
              "validity_days": "20", "key_usage": ["digitalSignature"],
              "extended_key_usage": ["serverAuth"], "issuer_id": issuer}
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        request, _ = request_from_values(values)
        order, _ = submit_order(request, requester_for_user(user), pathway="wizard",
                                request_key=f"t:{uuid.uuid4()}")
        return str(order.id)


@pytest.fixture
def two_users(app, jobs) -> dict[str, str]:
    add_domain(app, "alice.test")
    add_domain(app, "bob.test")
    make_user(app)
    make_user(app, ALICE, role="user", domains=("alice.test",))
    make_user(app, BOB, role="user", domains=("bob.test",))
    add_policy(app, "Prefer SHA-384", ["*.alice.test", "*.bob.test"], [
        {"action": "enforce_digest", "fail": "soft", "values": {"digest": "sha384"}}])
    # RSA: its leaves may use SHA-256 or SHA-384 (an ECDSA issuer signs with its curve's
    # hash only), so the soft policy can be met by some orders and missed by others.
    issuer = issuing_ca(app, jobs, algorithm="rsa-2048")
    ids = {"alice_done": submit(app, ALICE, "www.alice.test", issuer),
           "bob_done": submit(app, BOB, "www.bob.test", issuer)}
    jobs()  # both issued (20 days: expiring soon), each with a soft-warning alert
    ids["alice_pending"] = submit(app, ALICE, "api.alice.test", issuer, digest="sha384")
    ids["bob_pending"] = submit(app, BOB, "api.bob.test", issuer, digest="sha384")
    return ids


def _home(app, email: str) -> str:
    client = app.test_client()
    login(client, email)
    return client.get("/").get_data(as_text=True)


def test_plain_user_sees_only_their_own_objects(app, two_users) -> None:
    home = _home(app, ALICE)
    assert 'data-home="user"' in home and 'data-home="platform"' not in home
    assert "www.alice.test" in home and "api.alice.test" in home
    assert "bob.test" not in home
    for key in ("alice_done", "alice_pending"):
        assert f'href="/orders/{two_users[key]}"' in home
    for key in ("bob_done", "bob_pending"):
        assert two_users[key] not in home
    expiring = home.split('id="my-expiring"')[1].split("</ul>")[0]
    assert "www.alice.test" in expiring and "days left" in expiring
    alerts = home.split('id="my-alerts"')[1].split("</ul>")[0]
    assert "www.alice.test" in alerts and "requires digest sha384" in alerts
    # No platform-wide numbers at all.
    for platform_only in ("Orders today", "Failed in the last 24 hours", "Certificate authorities",
                          "Test Issuing"):
        assert platform_only not in home


def test_admin_sees_the_platform_counts(app, two_users, jobs) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.email == BOB).values(enabled=False))
        db.session.commit()
    jobs()  # Bob's pending order fails: his account is disabled
    home = _home(app, "admin@example.com")
    assert 'data-home="platform"' in home

    def count(section: str, status: str | None = None) -> int:
        part = home.split(f'id="{section}"')[1].split("</article>")[0]
        pattern = rf'data-status="{status}" data-count="(\d+)"' if status \
            else r'data-count="(\d+)"'
        return int(re.search(pattern, part).group(1))

    assert count("orders-today", "complete") == 3 and count("orders-today", "failed") == 1
    assert count("platform-expiring") == 3
    assert count("platform-failed") == 1
    assert count("platform-alerts") == 2     # the two soft warnings (digest sha256)
    assert "Test Root" in home and "Test Issuing" in home      # CAs and their expiry
    failures = home.split('id="recent-failures"')[1].split("</ul>")[0]
    assert "api.bob.test" in failures and "disabled" in failures


def test_expired_and_revoked_certificates_are_not_expiring_soon(app, two_users) -> None:
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(
            Certificate.common_name == "www.alice.test"))
        cert.not_after = utcnow() - timedelta(days=1)
        db.session.commit()
    home = _home(app, ALICE)
    assert "None of your certificates expires in the next 30 days" in home


def test_user_without_domains_is_told_what_to_do(app) -> None:
    make_user(app, "lonely@example.com", role="user")
    home = _home(app, "lonely@example.com")
    assert 'id="no-domains"' in home and "No orders yet" in home


def test_wizard_placeholders_use_the_users_own_domain(app, client) -> None:
    add_domain(app, "aaa.test")
    add_domain(app, "corp.test")
    make_user(app, "carol@example.com", role="user", domains=("corp.test",))
    login(client, "carol@example.com")
    page = client.get("/request/", follow_redirects=True).get_data(as_text=True)
    assert 'placeholder="www.corp.test"' in page
    assert 'placeholder="api.corp.test, 10.0.0.5 or ops@corp.test"' in page
    assert "www.example.com" not in page and "ops@example.com" not in page


def test_orders_of_other_users_do_not_leak_into_order_counts(app, two_users) -> None:
    with app.app_context():
        assert db.session.scalar(select(Order).where(Order.common_name == "www.bob.test"))
    assert "www.bob.test" not in _home(app, ALICE)

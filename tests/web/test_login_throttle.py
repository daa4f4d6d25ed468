"""Login throttling by (account, client address) with growing delays: whoever fails from
one address waits longer and longer, and nobody else — not the account's owner at
another address, not other accounts at the same address — is locked out by it.
X-Forwarded-For counts only behind TRUSTED_PROXIES."""
from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import AuditEvent
from tests.conftest import TEST_PASSWORD, csrf_token, make_user

OWNER = "alice@example.com"
OWNER_ADDRESS = "198.51.100.7"
STRANGER_ADDRESS = "203.0.113.66"


def _browser(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _try(client: FlaskClient, email: str, password: str, **headers: str):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token}, headers=headers)


def _rewind_failures(app: Flask, seconds: int) -> None:
    """Make the recorded failures older, as if the wait had passed."""
    with app.app_context():
        for event in db.session.scalars(select(AuditEvent).where(
                AuditEvent.outcome == "failure")):
            event.timestamp -= timedelta(seconds=seconds)
        db.session.commit()


def test_a_strangers_failures_never_lock_out_the_owner(app) -> None:
    make_user(app, OWNER, role="user")
    stranger = _browser(app, STRANGER_ADDRESS)
    codes = [_try(stranger, OWNER, f"guess number {n}").status_code for n in range(30)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    # The stranger, even with the right password, waits.
    assert _try(stranger, OWNER, TEST_PASSWORD).status_code == 429
    # The owner, from their own address, logs in at once.
    owner = _browser(app, OWNER_ADDRESS)
    assert _try(owner, OWNER, TEST_PASSWORD).status_code == 302
    assert owner.get("/").status_code == 200


def test_strangers_at_many_addresses_do_not_lock_out_the_owner(app) -> None:
    make_user(app, OWNER, role="user")
    for n in range(8):
        stranger = _browser(app, f"203.0.113.{n + 1}")
        for attempt in range(6):
            _try(stranger, OWNER, f"guess {attempt}")
    assert _try(_browser(app, OWNER_ADDRESS), OWNER, TEST_PASSWORD).status_code == 302


def test_failures_on_one_account_do_not_delay_other_accounts_at_that_address(app) -> None:
    """Everyone behind one proxy or NAT shares an address: no address-wide lock."""
    make_user(app, OWNER, role="user")
    make_user(app, "bob@example.com", role="user")
    shared = _browser(app, "192.0.2.10")
    for n in range(10):
        _try(shared, f"nobody{n}@example.com", "wrong password")
        _try(shared, OWNER, "wrong password")
    colleague = _browser(app, "192.0.2.10")
    assert _try(colleague, "bob@example.com", TEST_PASSWORD).status_code == 302


def test_the_delay_grows_with_each_failure_after_the_wait(app) -> None:
    make_user(app, OWNER, role="user")
    client = _browser(app, STRANGER_ADDRESS)
    for _ in range(5):
        assert _try(client, OWNER, "wrong password").status_code == 401
    waits = []
    for _ in range(4):
        refused = _try(client, OWNER, "wrong password")
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        _rewind_failures(app, waits[-1] + 1)
        assert _try(client, OWNER, "wrong password").status_code == 401  # one more guess
    assert waits[0] <= 5 and all(b > a for a, b in pairwise(waits))
    assert waits[-1] >= 30


def test_refused_attempts_during_the_wait_are_not_recorded(app) -> None:
    make_user(app, OWNER, role="user")
    client = _browser(app, STRANGER_ADDRESS)
    for _ in range(5):
        _try(client, OWNER, "wrong password")
    for _ in range(10):
        assert _try(client, OWNER, "wrong password").status_code == 429
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "auth.login")) == 5


def test_a_success_resets_the_pair(app) -> None:
    make_user(app, OWNER, role="user")
    client = _browser(app, OWNER_ADDRESS)
    for _ in range(4):
        _try(client, OWNER, "wrong password")
    assert _try(client, OWNER, TEST_PASSWORD).status_code == 302
    client = _browser(app, OWNER_ADDRESS)
    for _ in range(4):
        assert _try(client, OWNER, "wrong password").status_code == 401
    assert _try(client, OWNER, TEST_PASSWORD).status_code == 302


def test_a_spoofed_x_forwarded_for_is_ignored_without_trusted_proxies(app) -> None:
    make_user(app, OWNER, role="user")
    client = _browser(app, STRANGER_ADDRESS)
    codes = [_try(client, OWNER, "wrong", **{"X-Forwarded-For": f"10.0.0.{n}"}).status_code
             for n in range(7)]
    assert codes[-1] == 429  # rotating the header does not reset the count
    with app.app_context():
        addresses = set(db.session.scalars(select(AuditEvent.source_ip).where(
            AuditEvent.action == "auth.login")))
    assert addresses == {STRANGER_ADDRESS}


def test_behind_a_trusted_proxy_the_forwarded_address_counts(app, test_settings) -> None:
    proxied = create_app({**test_settings, "TESTING": True, "TRUSTED_PROXIES": 1})
    make_user(app, OWNER, role="user")
    proxy = _browser(proxied, "10.1.1.1")
    # The client claims an address; our proxy appends the one it saw (the last entry).
    forwarded = {"X-Forwarded-For": f"1.2.3.4, {STRANGER_ADDRESS}"}
    for _ in range(6):
        _try(proxy, OWNER, "wrong password", **forwarded)
    assert _try(proxy, OWNER, TEST_PASSWORD, **forwarded).status_code == 429
    with app.app_context():
        addresses = set(db.session.scalars(select(AuditEvent.source_ip).where(
            AuditEvent.action == "auth.login")))
    assert addresses == {STRANGER_ADDRESS}
    # Another client behind the same proxy is not affected.
    owner = {"X-Forwarded-For": OWNER_ADDRESS}
    assert _try(proxy, OWNER, TEST_PASSWORD, **owner).status_code == 302

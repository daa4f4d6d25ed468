"""Admin → ACME Servers: who may open it, creating/editing servers (errors write nothing),
pre-creating accounts with EAB credentials shown once, disabling."""
from __future__ import annotations

import re

from app.models import AcmeAccount, AcmeServer
from tests.builders import add_domain, count, issuing_ca
from tests.conftest import login, make_user, post

SERVER = {"name": "Fleet ACME", "default_days": "90", "max_days": "397",
          "allowed_algorithms": ["ec-256", "rsa-2048"], "digest": "sha256",
          "terms_of_service_url": "", "orders_per_hour": "300"}


def _admin(app, client, role="deployment_admin"):
    make_user(app, f"{role}@example.com", role=role)
    login(client, f"{role}@example.com")
    return client


def test_only_deployment_and_super_admins_open_it(app, client) -> None:
    for role, allowed in (("user", False), ("pki_admin", False), ("policy_admin", False),
                          ("deployment_admin", True), ("super_admin", True)):
        c = app.test_client()
        make_user(app, f"{role}@example.com", role=role)
        login(c, f"{role}@example.com")
        status = c.get("/admin/acme/").status_code
        assert (status == 200) is allowed, (role, status)


def test_create_edit_and_refusals(app, client, jobs) -> None:
    issuer = issuing_ca(app, jobs)
    _admin(app, client)
    assert "No ACME servers yet" in client.get("/admin/acme/").get_data(as_text=True)
    bad = post(client, "/admin/acme/new", {**SERVER, "issuer": issuer, "max_days": "900"})
    assert bad.status_code == 422 and "1 to 825 days" in bad.get_data(as_text=True)
    bad = post(client, "/admin/acme/new", {**SERVER, "issuer": issuer, "default_days": "500"})
    assert bad.status_code == 422 and "Default validity" in bad.get_data(as_text=True)
    bad = post(client, "/admin/acme/new", {**SERVER, "issuer": "", "name": ""})
    assert bad.status_code == 422
    assert count(app, AcmeServer) == 0
    created = post(client, "/admin/acme/new", {**SERVER, "issuer": issuer})
    assert created.status_code == 303
    edit_url = created.headers["Location"]
    page = client.get(edit_url).get_data(as_text=True)
    assert re.search(r"https?://[^<]+/acme/[0-9a-f-]{36}/directory", page)
    unchanged = post(client, edit_url, {**SERVER, "issuer": issuer})
    assert unchanged.status_code == 303
    changed = post(client, edit_url, {**SERVER, "issuer": issuer, "name": "Renamed ACME"})
    assert changed.status_code == 303
    with app.app_context():
        server = AcmeServer.query.one()
        assert server.name == "Renamed ACME" and server.allowed_algorithms == ["ec-256",
                                                                               "rsa-2048"]
    dup = post(client, "/admin/acme/new", {**SERVER, "issuer": issuer, "name": "renamed acme"})
    assert dup.status_code == 422 and count(app, AcmeServer) == 1


def test_accounts_credentials_shown_once_and_disable(app, client, jobs) -> None:
    add_domain(app, "example.com")
    issuer = issuing_ca(app, jobs)
    _admin(app, client, "super_admin")
    edit_url = post(client, "/admin/acme/new", {**SERVER, "issuer": issuer}).headers["Location"]
    bad = post(client, f"{edit_url}/accounts/new", {"name": "web", "email": "ops@example.com",
                                                    "bindings": "nowhere.test"})
    assert bad.status_code == 422 and "not a registered domain" in bad.get_data(as_text=True)
    bad = post(client, f"{edit_url}/accounts/new", {"name": "web", "email": "ops@example.com",
                                                    "bindings": "example.com:everything"})
    assert bad.status_code == 422 and count(app, AcmeAccount) == 0
    made = post(client, f"{edit_url}/accounts/new", {
        "name": "web", "email": "ops@example.com", "bindings": "example.com:wildcard"})
    assert made.status_code == 201 and made.headers["Cache-Control"].startswith("no-store")
    assert made.mimetype == "text/html"
    html = made.get_data(as_text=True)
    hmac_key = re.search(r'id="eab-hmac-key">([^<]+)<', html).group(1)
    kid = re.search(r'id="eab-kid">([^<]+)<', html).group(1)
    # The certbot line pastes as is, whatever the values start with.
    assert f"--eab-kid={kid} --eab-hmac-key={hmac_key} " in html
    assert hmac_key not in client.get(edit_url).get_data(as_text=True)
    with app.app_context():
        account = AcmeAccount.query.one()
        assert account.eab_hmac_encrypted and hmac_key not in account.eab_hmac_encrypted
        account_id = account.id
    post(client, f"{edit_url}/accounts/{account_id}/enabled", {"enabled": "0"})
    with app.app_context():
        assert AcmeAccount.query.one().enabled is False
    audit = client.get("/admin/audit/").get_data(as_text=True)
    assert "acme_account.create" in audit and "web (Fleet ACME)" in audit
    assert f'href="{edit_url}"' in audit
    assert client.get(edit_url.replace(edit_url.rsplit("/", 1)[1],
                                       "00000000-0000-4000-8000-000000000000")
                      ).status_code == 404


def test_eab_credentials_never_start_with_a_dash() -> None:
    """certbot (argparse) reads ``--eab-hmac-key -xyz`` as a missing value: the generator
    draws again when the base64url text would start with '-' (one draw in 64)."""
    from app.services.acme_admin import b64url, cli_safe_random

    dashed = bytes([0xF8]) + bytes(31)          # base64url "-A…": 0xF8 >> 2 == 62 == '-'
    plain = bytes([0x04]) + bytes(31)
    draws = iter([dashed, dashed, plain])
    asked = []

    def draw(size: int) -> bytes:
        asked.append(size)
        return next(draws)

    assert b64url(dashed).startswith("-")
    assert cli_safe_random(32, draw) == plain
    assert asked == [32, 32, 32]

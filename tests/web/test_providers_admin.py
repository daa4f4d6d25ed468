"""Admin → Certificate Providers: list, create, edit (and save unchanged), activate,
delete (refused while orders reference it), secrets write-only, the outbound check at
save, the connection test queued for the worker with its progress, access by role."""
from __future__ import annotations

import re
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Order, Provider
from app.services.provider_runtime import run_connection_test
from app.services.worker_keys import open_sealed
from tests.builders import LOCAL_PKI_ID
from tests.conftest import login, make_user, post

EAB_KEY = "c2VjcmV0LWVhYi1obWFjLWtleS1mb3ItdGVzdHMtMDEyMw"
FORM = {"name": "Let's Encrypt staging", "directory_url": "https://127.0.0.1:14000/dir",
        "account_email": "pki@example.com", "eab_kid": "kid-1", "eab_hmac_key": EAB_KEY,
        "challenge": "http-01", "tsig_algorithm": "hmac-sha256", "active": "y"}


@pytest.fixture
def pki_client(app: Flask, client: FlaskClient, worker_key: None) -> FlaskClient:
    make_user(app, "pki@example.com", role="pki_admin")
    login(client, "pki@example.com")
    return client


def _providers(app: Flask) -> list[Provider]:
    with app.app_context():
        rows = list(db.session.scalars(select(Provider).order_by(Provider.created_at)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _create(client: FlaskClient, **changes: str) -> str:
    response = post(client, "/admin/providers/new", {**FORM, **changes})
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    return response.headers["Location"].rsplit("/", 1)[-1]


def test_list_shows_the_seeded_local_pki_and_the_empty_state(pki_client: FlaskClient) -> None:
    html = pki_client.get("/admin/providers/").get_data(as_text=True)
    assert f'id="provider-{LOCAL_PKI_ID}"' in html and "Local PKI" in html
    assert "Only the Local PKI so far." in html and "flask providers create" in html
    assert 'href="/admin/providers/"' in pki_client.get("/").get_data(as_text=True)


def test_create_seals_the_secret_and_never_shows_it(app: Flask,
                                                    pki_client: FlaskClient) -> None:
    provider_id = _create(pki_client)
    created = next(p for p in _providers(app) if not p.is_builtin)
    assert str(created.id) == provider_id and created.type == "acme" and created.active
    assert created.config["eab_kid"] == "kid-1" and created.config["challenge"] == "http-01"
    sealed = created.secrets["eab_hmac_key"]
    assert EAB_KEY not in sealed and sealed.count(".") == 4          # a compact JWE
    with app.app_context():   # only the worker opens it, bound to this provider and field
        assert open_sealed(sealed, f"provider:{provider_id}:eab_hmac_key") == EAB_KEY
        audit = db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "provider.create"))
        assert audit.details["secrets_set"] == ["eab_hmac_key"]
        assert EAB_KEY not in str(audit.details)
    page = pki_client.get(f"/admin/providers/{provider_id}").get_data(as_text=True)
    assert EAB_KEY not in page and "<code>eab_hmac_key</code>: set" in page
    assert "Stored — type a new key to replace it." in page
    assert 'name="eab_hmac_key" type="password" value=""' in page \
        or re.search(r'<input[^>]*name="eab_hmac_key"[^>]*type="password"', page)


def test_edit_keeps_a_secret_left_empty_and_replaces_a_typed_one(
        app: Flask, pki_client: FlaskClient) -> None:
    provider_id = _create(pki_client)
    before = next(p for p in _providers(app) if str(p.id) == provider_id)
    response = post(pki_client, f"/admin/providers/{provider_id}",
                    {**FORM, "eab_hmac_key": ""})
    assert response.status_code == 303
    page = pki_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing changed." in page
    after = next(p for p in _providers(app) if str(p.id) == provider_id)
    assert after.secrets == before.secrets and after.updated_at == before.updated_at
    post(pki_client, f"/admin/providers/{provider_id}",
         {**FORM, "name": "LE", "eab_hmac_key": "bmV3LWtleQ"})
    changed = next(p for p in _providers(app) if str(p.id) == provider_id)
    assert changed.name == "LE" and changed.secrets != before.secrets
    with app.app_context():
        assert open_sealed(changed.secrets["eab_hmac_key"],
                           f"provider:{provider_id}:eab_hmac_key") == "bmV3LWtleQ"


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"directory_url": "https://169.254.169.254/latest"}, "directory_url", "metadata"),
    ({"directory_url": "https://10.0.0.8/dir"}, "directory_url", "private"),
    ({"directory_url": "http://acme.example.com/dir"}, "directory_url", "Only https://"),
    ({"directory_url": "not a url"}, "directory_url", "absolute https:// URL"),
    ({"eab_hmac_key": ""}, "eab_hmac_key", "needs its HMAC key"),
    ({"eab_kid": ""}, "eab_kid", "needs its key id"),
    ({"account_email": "nobody"}, "account_email", "not an e-mail"),
    ({"challenge": "dns-01"}, "dns_server", "HOST:PORT"),
    ({"challenge": "dns-01", "dns_server": "10.1.1.1:53", "dns_zone": "example.com",
      "tsig_name": "k", "tsig_secret": "c2VjcmV0"}, "dns_server", "private"),
    ({"challenge": "dns-01", "dns_server": "127.0.0.1:53", "dns_zone": "example.com",
      "tsig_name": "k"}, "tsig_secret", "needs the TSIG secret"),
    ({"ca_bundle": "not pem"}, "ca_bundle", "PEM certificates"),
    ({"name": ""}, "name", "Give the provider a name"),
    ({"name": "Local PKI"}, "name", "already exists"),
])
def test_bad_input_is_refused_and_changes_nothing(app: Flask, pki_client: FlaskClient,
                                                  changes: dict, field: str,
                                                  message: str) -> None:
    response = post(pki_client, "/admin/providers/new", {**FORM, **changes})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'id="{field}-error">[^<]*{re.escape(message)}', html), html[-4000:]
    assert len(_providers(app)) == 1
    assert EAB_KEY not in html   # a secret is not echoed back on an error page


def test_edit_error_changes_nothing(app: Flask, pki_client: FlaskClient) -> None:
    provider_id = _create(pki_client)
    before = next(p for p in _providers(app) if str(p.id) == provider_id)
    response = post(pki_client, f"/admin/providers/{provider_id}",
                    {**FORM, "directory_url": "https://127.0.0.1:9/new", "name": "x" * 101})
    assert response.status_code == 422
    after = next(p for p in _providers(app) if str(p.id) == provider_id)
    assert (after.name, after.config) == (before.name, before.config)


def test_changing_the_directory_forgets_the_account(app: Flask,
                                                    pki_client: FlaskClient) -> None:
    provider_id = _create(pki_client)
    with app.app_context():
        row = db.session.get(Provider, uuid.UUID(provider_id))
        row.account_url, row.account_key_encrypted = "https://ca/acct/1", "aes256gcm:x"
        db.session.commit()
    post(pki_client, f"/admin/providers/{provider_id}",
         {**FORM, "directory_url": "https://127.0.0.1:14001/dir"})
    changed = next(p for p in _providers(app) if str(p.id) == provider_id)
    assert changed.account_url is None and changed.account_key_encrypted is None


def test_the_local_pki_edits_only_its_name_and_switch(app: Flask,
                                                      pki_client: FlaskClient) -> None:
    page = pki_client.get(f"/admin/providers/{LOCAL_PKI_ID}").get_data(as_text=True)
    assert 'name="directory_url"' not in page and "Roots and intermediates" not in page
    assert "Local PKI roots and intermediates" in page and ">Delete<" not in page
    post(pki_client, f"/admin/providers/{LOCAL_PKI_ID}", {"name": "Internal CA"})
    local = next(p for p in _providers(app) if p.is_builtin)
    assert local.name == "Internal CA" and not local.active
    refused = post(pki_client, f"/admin/providers/{LOCAL_PKI_ID}/delete",
                   follow_redirects=True)
    assert "cannot be deleted" in refused.get_data(as_text=True)
    assert len(_providers(app)) == 1


def test_activate_deactivate_and_delete(app: Flask, pki_client: FlaskClient) -> None:
    provider_id = _create(pki_client)
    post(pki_client, f"/admin/providers/{provider_id}/active", {"active": "0"})
    assert not next(p for p in _providers(app) if str(p.id) == provider_id).active
    post(pki_client, f"/admin/providers/{provider_id}/active", {"active": "1"})
    assert next(p for p in _providers(app) if str(p.id) == provider_id).active
    with app.app_context():   # an order references it: delete is refused
        db.session.add(Order(type="acme", pathway="wizard", common_name="a.example.com",
                             request={}, provider_id=uuid.UUID(provider_id),
                             requested_by_label="x", status="failed"))
        db.session.commit()
    page = post(pki_client, f"/admin/providers/{provider_id}/delete",
                follow_redirects=True).get_data(as_text=True)
    assert "1 order references" in page and "deactivate it instead" in page
    assert len(_providers(app)) == 2
    with app.app_context():
        db.session.execute(Order.__table__.delete())
        db.session.commit()
    response = post(pki_client, f"/admin/providers/{provider_id}/delete")
    assert response.status_code == 303
    assert len(_providers(app)) == 1


def test_unknown_or_mangled_ids_are_404(pki_client: FlaskClient) -> None:
    for path in (f"/admin/providers/{uuid.uuid4()}", "/admin/providers/not-a-uuid",
                 f"/admin/providers/{uuid.uuid4()}/test"):
        assert pki_client.get(path).status_code == 404
    assert post(pki_client, f"/admin/providers/{uuid.uuid4()}/delete").status_code == 404
    fragment = pki_client.get(f"/admin/providers/{uuid.uuid4()}",
                              headers={"HX-Request": "true"})
    assert fragment.status_code == 404 and 'data-code="provider.not_found"' in \
        fragment.get_data(as_text=True)


@pytest.mark.parametrize("role", ["user", "policy_admin", "deployment_admin"])
def test_other_roles_may_not_manage_providers(app: Flask, client: FlaskClient,
                                              role: str) -> None:
    make_user(app, f"{role}@example.com", role=role)
    login(client, f"{role}@example.com")
    assert client.get("/admin/providers/").status_code == 403
    assert post(client, "/admin/providers/new", FORM).status_code == 403
    assert "/admin/providers/" not in client.get("/").get_data(as_text=True)


def test_connection_test_is_queued_and_its_progress_polled(app: Flask,
                                                           pki_client: FlaskClient) -> None:
    provider_id = _create(pki_client, directory_url="https://127.0.0.1:9/dir")
    htmx = {"HX-Request": "true"}
    fragment = post(pki_client, f"/admin/providers/{provider_id}/test", headers=htmx)
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and 'data-status="queued"' in html
    assert 'hx-trigger="every 1s"' in html and "Waiting for a worker" in html
    with app.app_context():   # what the worker's job does
        assert run_connection_test(provider_id) == "failed"
    done = pki_client.get(f"/admin/providers/{provider_id}/test", headers=htmx)
    html = done.get_data(as_text=True)
    assert 'data-status="failed"' in html and "hx-trigger" not in html   # polling stops
    assert 'data-ok="no"' in html and "could not be reached" in html
    assert ">Test connection<" in html
    page = pki_client.get(f"/admin/providers/{provider_id}").get_data(as_text=True)
    assert 'id="test-result"' in page


def test_http01_answers_come_from_the_database(app: Flask, client: FlaskClient,
                                               worker_key: None) -> None:
    from app.models import ProviderChallenge

    token = "tok_" + "a" * 40
    with app.app_context():
        db.session.add(ProviderChallenge(token=token, key_authorization=f"{token}.thumb",
                                         identifier="www.example.com",
                                         provider_id=LOCAL_PKI_ID))
        db.session.commit()
    answer = client.get(f"/.well-known/acme-challenge/{token}")
    assert answer.status_code == 200 and answer.get_data(as_text=True) == f"{token}.thumb"
    assert answer.headers["Cache-Control"] == "no-store"
    assert client.get("/.well-known/acme-challenge/" + "b" * 40).status_code == 404
    assert client.get("/.well-known/acme-challenge/bad!token").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ProviderChallenge)) == 1

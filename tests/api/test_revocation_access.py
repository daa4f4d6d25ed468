"""Who may revoke (SPEC 10): the owner (a user on the certificate page, a courier through
the API), pki_admin and super_admin for any certificate; another user or courier gets 404,
the other admin roles (who may see every certificate) 403. Every revocation is audited
with its reason; a refused one changes nothing. Certificates are issued by the real
worker."""
from __future__ import annotations

import json
import re
import uuid

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Certificate
from tests.api.conftest import API, bearer, make_courier, make_csr, token_for
from tests.conftest import login, make_user
from tests.web.test_certificates import issue

OWNER, OTHER = "owner@example.com", "other@example.com"
ROLES_THAT_MAY = ("pki_admin", "super_admin")
ROLES_THAT_SEE_BUT_MAY_NOT = ("policy_admin", "deployment_admin")


def _cert(app: Flask, certificate_id: str) -> Certificate:
    with app.app_context():
        cert = db.session.get(Certificate, uuid.UUID(certificate_id))
        db.session.expunge(cert)
        return cert


def _revoke_events(app: Flask, certificate_id: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "certificate.revoke",
            AuditEvent.resource_id == certificate_id).order_by(AuditEvent.id)))
        db.session.expunge_all()
        return rows


def _csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the certificate page"
    return match.group(1)


def _page_revoke(client, certificate_id: str, reason: str, confirm: str, htmx: bool = True):
    page = client.get(f"/certificates/{certificate_id}")
    token = _csrf_of(page.get_data(as_text=True)) if page.status_code == 200 else \
        _csrf_of(client.get("/").get_data(as_text=True))
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(f"/certificates/{certificate_id}/revoke", headers=headers,
                       data={"reason": reason, "confirm": confirm, "csrf_token": token})


@pytest.fixture
def owned(app: Flask, pki, jobs) -> str:
    make_user(app, OWNER, role="user", domains=("example.com",))
    make_user(app, OTHER, role="user", domains=("example.com",))
    return issue(app, jobs, pki, OWNER)


# ---- the certificate page ----------------------------------------------------------------

def test_the_owner_revokes_on_the_page_with_a_confirmation_naming_it(app, client, owned,
                                                                     jobs) -> None:
    login(client, OWNER)
    page = client.get(f"/certificates/{owned}").get_data(as_text=True)
    assert "Revoke certificate" in page
    assert 'data-confirm="Revoke www.example.com (serial' in page
    # The confirmation must name the certificate: nothing changes otherwise.
    wrong = _page_revoke(client, owned, "keyCompromise", "api.example.com")
    assert wrong.status_code == 422
    assert "Type the common name, www.example.com, to confirm." in wrong.get_data(as_text=True)
    assert not _cert(app, owned).revoked and _revoke_events(app, owned) == []
    # An unknown reason (a forged form) is refused the same way.
    odd = _page_revoke(client, owned, "certificateHold", "www.example.com")
    assert odd.status_code == 422 and "Unknown revocation reason" in odd.get_data(as_text=True)
    assert not _cert(app, owned).revoked

    done = _page_revoke(client, owned, "keyCompromise", "www.example.com")
    assert done.status_code == 200
    section = done.get_data(as_text=True)
    assert section.lstrip().startswith('<section id="certificate-detail" data-status="revoked"')
    assert "(keyCompromise). Revocation is final." in section
    assert "Revoke certificate" not in section
    cert = _cert(app, owned)
    assert cert.revoked and cert.revocation_reason == "keyCompromise" and cert.revoked_at
    [event] = _revoke_events(app, owned)
    assert (event.actor_label, event.outcome) == (OWNER, "success")
    assert event.details["reason"] == "keyCompromise"
    assert event.details["serial"] == cert.serial_hex
    # Final: a second revocation is refused and audited nothing more.
    again = _page_revoke(client, owned, "superseded", "www.example.com")
    assert again.status_code == 422 and "Revoke certificate" not in again.get_data(as_text=True)
    assert "Revoked on" in again.get_data(as_text=True)
    assert len(_revoke_events(app, owned)) == 1


def test_without_htmx_the_revocation_redirects_back_to_the_page(app, client, owned) -> None:
    login(client, OWNER)
    response = _page_revoke(client, owned, "superseded", "WWW.EXAMPLE.COM", htmx=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/certificates/{owned}")
    assert _cert(app, owned).revocation_reason == "superseded"


def test_another_user_gets_404_and_changes_nothing(app, client, owned) -> None:
    login(client, OTHER)
    assert client.get(f"/certificates/{owned}").status_code == 404
    response = _page_revoke(client, owned, "keyCompromise", "www.example.com")
    assert response.status_code == 404
    assert not _cert(app, owned).revoked and _revoke_events(app, owned) == []


@pytest.mark.parametrize("role", ROLES_THAT_MAY)
def test_pki_and_super_admins_revoke_any_certificate(app, client, owned, role) -> None:
    email = f"{role}@example.com"
    make_user(app, email, role=role)
    login(client, email)
    response = _page_revoke(client, owned, "cessationOfOperation", "www.example.com")
    assert response.status_code == 200
    assert _cert(app, owned).revocation_reason == "cessationOfOperation"
    [event] = _revoke_events(app, owned)
    assert event.actor_label == email


@pytest.mark.parametrize("role", ROLES_THAT_SEE_BUT_MAY_NOT)
def test_other_admin_roles_see_the_certificate_but_may_not_revoke(app, client, owned,
                                                                  role) -> None:
    email = f"{role}@example.com"
    make_user(app, email, role=role)
    login(client, email)
    page = client.get(f"/certificates/{owned}").get_data(as_text=True)
    assert "Revoke certificate" not in page
    assert "Only the owner, a PKI admin or a super admin may revoke" in page
    response = _page_revoke(client, owned, "keyCompromise", "www.example.com")
    assert response.status_code == 403
    assert not _cert(app, owned).revoked and _revoke_events(app, owned) == []


# ---- the courier API -----------------------------------------------------------------------

def _courier_certificate(app: Flask, client, jobs, creds) -> str:
    token = token_for(client, creds)
    body = {"csr": make_csr("www.example.com", ("www.example.com",))}
    response = client.post(f"{API}/certificates", json=body, headers=bearer(token))
    assert response.status_code == 202, response.get_json()
    order_id = response.get_json()["order_id"]
    jobs()
    order = client.get(f"{API}/orders/{order_id}", headers=bearer(token)).get_json()
    assert order["status"] == "complete", order
    return order["certificate_id"]


def test_the_courier_revokes_its_certificate_through_the_api(app, client, pki, jobs) -> None:
    creds = make_courier(app, "edge-proxy")
    certificate_id = _courier_certificate(app, client, jobs, creds)
    token = token_for(client, creds)
    url = f"{API}/certificates/{certificate_id}/revoke"
    bad = client.post(url, json={"reason": "certificateHold"}, headers=bearer(token))
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "revocation.reason"
    odd = client.post(url, json={"reason": "keyCompromise", "extra": 1}, headers=bearer(token))
    assert odd.status_code == 422
    assert not _cert(app, certificate_id).revoked

    response = client.post(url, json={"reason": "keyCompromise"}, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["certificate_id"] == certificate_id and body["status"] == "revoked"
    assert body["reason"] == "keyCompromise" and body["revoked_at"].endswith("Z")
    assert client.get(f"{API}/certificates/{certificate_id}",
                      headers=bearer(token)).get_json()["status"] == "revoked"
    [event] = _revoke_events(app, certificate_id)
    assert event.actor_label == "courier edge-proxy"
    again = client.post(url, json={"reason": "keyCompromise"}, headers=bearer(token))
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "certificate.already_revoked"


def test_another_courier_and_a_users_certificate_give_404(app, client, owned, jobs) -> None:
    creds = make_courier(app, "edge-proxy")
    theirs = _courier_certificate(app, client, jobs, creds)
    intruder = make_courier(app, "intruder")
    token = token_for(client, intruder)
    for certificate_id in (theirs, owned, str(uuid.uuid4()), "not-a-uuid"):
        response = client.post(f"{API}/certificates/{certificate_id}/revoke",
                               json={"reason": "keyCompromise"}, headers=bearer(token))
        assert response.status_code == 404, certificate_id
        assert response.get_json()["error"]["code"] == "certificate.not_found"
    assert not _cert(app, theirs).revoked and not _cert(app, owned).revoked
    assert _revoke_events(app, theirs) == [] and _revoke_events(app, owned) == []
    no_token = client.post(f"{API}/certificates/{theirs}/revoke", json={"reason": "superseded"})
    assert no_token.status_code == 401


# ---- the CLI -------------------------------------------------------------------------------

def test_the_cli_revokes_with_the_same_json(app, owned) -> None:
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["certificates", "revoke", owned, "--reason", "nope",
                                  "--json"])
    assert refused.exit_code == 2 and "revocation.reason" in refused.output
    result = runner.invoke(args=["certificates", "revoke", owned, "--reason",
                                 "affiliationChanged", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["status"] == "revoked" and body["reason"] == "affiliationChanged"
    assert set(body) == {"certificate_id", "status", "revoked_at", "reason"}
    [event] = _revoke_events(app, owned)
    assert event.actor_label == "cli"

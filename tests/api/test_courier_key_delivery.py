"""A courier's platform-made key is kept only as the JWE to the courier's public key (never
also under the KEK), returned by the first order response after issuance, then gone:
later responses say ``delivered``; unfetched for 24 hours it is deleted (``expired``)."""
from __future__ import annotations

from datetime import timedelta

from jwcrypto import jwe, jwk
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate
from app.services.sweeper import sweep
from tests.api.conftest import bearer, make_courier, token_for
from tests.conftest import login, make_user, post

API = "/api/v1/courier"


def _issue(app, client, jobs, name: str = "keyless"):
    creds = make_courier(app, name)
    token = token_for(client, creds)
    response = client.post(f"{API}/certificates", headers=bearer(token),
                           json={"common_name": "svc.example.com", "algorithm": "ec-256"})
    assert response.status_code == 202, response.get_json()
    jobs()
    return creds, token, response.get_json()["status_url"]


def _certificate(app) -> Certificate:
    with app.app_context():
        row = db.session.scalar(select(Certificate))
        db.session.expunge(row)
        return row


def _age_certificate(app, by: timedelta) -> None:
    with app.app_context():
        row = db.session.scalar(select(Certificate))
        row.created_at -= by
        db.session.commit()


def test_the_key_is_stored_only_as_the_jwe_and_handed_out_once(app, client, jobs, pki) -> None:
    creds, token, status_url = _issue(app, client, jobs)
    stored = _certificate(app)
    assert stored.encrypted_private_key is None and not stored.has_key  # no KEK copy
    assert stored.key_jwe and stored.key_status == "pending"

    first = client.get(status_url, headers=bearer(token)).get_json()
    assert first["key_status"] == "included"
    message = jwe.JWE()
    message.deserialize(first["private_key_jwe"], key=jwk.JWK.from_pem(creds.private_key_pem))
    assert message.payload.startswith(b"-----BEGIN PRIVATE KEY-----")

    again = client.get(status_url, headers=bearer(token)).get_json()
    assert again["key_status"] == "delivered" and again["private_key_jwe"] is None
    assert again["certificate_pem"] == first["certificate_pem"]
    gone = _certificate(app)
    assert gone.key_jwe is None and gone.key_status == "delivered" and gone.key_delivered_at
    assert gone.encrypted_private_key is None


def test_an_unfetched_key_expires_after_a_day(app, client, jobs, pki) -> None:
    _, token, status_url = _issue(app, client, jobs)
    _age_certificate(app, timedelta(hours=24, seconds=1))
    order = client.get(status_url, headers=bearer(token)).get_json()
    assert order["status"] == "complete"
    assert order["key_status"] == "expired" and order["private_key_jwe"] is None
    assert _certificate(app).key_jwe is None


def test_the_sweeper_deletes_expired_keys_nobody_asked_for(app, client, jobs, pki) -> None:
    _, token, status_url = _issue(app, client, jobs)
    with app.app_context():
        assert sweep().keys_expired == 0
    _age_certificate(app, timedelta(hours=23, minutes=59))
    with app.app_context():
        assert sweep().keys_expired == 0
    _age_certificate(app, timedelta(minutes=2))
    with app.app_context():
        assert sweep().keys_expired == 1
    row = _certificate(app)
    assert row.key_jwe is None and row.key_status == "expired"
    assert client.get(status_url, headers=bearer(token)).get_json()["key_status"] == "expired"


def test_a_key_within_the_day_is_still_handed_out(app, client, jobs, pki) -> None:
    _, token, status_url = _issue(app, client, jobs)
    _age_certificate(app, timedelta(hours=23, minutes=59))
    order = client.get(status_url, headers=bearer(token)).get_json()
    assert order["key_status"] == "included" and order["private_key_jwe"]


def test_another_courier_never_gets_the_key(app, client, jobs, pki) -> None:
    _, token, status_url = _issue(app, client, jobs)
    other = token_for(client, make_courier(app, "nosy"))
    assert client.get(status_url, headers=bearer(other)).status_code == 404
    assert client.get(status_url, headers=bearer(token)).get_json()["key_status"] == "included"


def test_the_inventory_says_the_key_went_to_the_courier(app, client, jobs, pki) -> None:
    _issue(app, client, jobs)
    make_user(app)
    web = app.test_client()
    login(web)
    certificate_id = _certificate(app).id
    page = web.get(f"/certificates/{certificate_id}").get_data(as_text=True)
    assert 'id="key-with-courier"' in page and "Export private key" not in page
    refused = post(web, f"/certificates/{certificate_id}/export",
                   {"format": "pkcs8", "passphrase": "a long enough passphrase",
                    "confirm": "a long enough passphrase"})
    assert refused.status_code == 422
    from app.services.certificate_exports import NO_KEY_MESSAGE

    assert NO_KEY_MESSAGE in refused.get_data(as_text=True)

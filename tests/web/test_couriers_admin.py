"""CLM → Couriers: create (secret shown once, stored hashed), edit, enable/disable,
rotate the secret, delete; bad input is refused with a message and changes nothing."""
from __future__ import annotations

import re
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import AuditEvent, Courier, Domain, Order
from app.services import couriers
from app.services.couriers import CourierAuthFailed
from tests.builders import LOCAL_PKI_ID, add_domain
from tests.conftest import login, make_user, post


def _pem(key) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


P256 = _pem(ec.generate_private_key(ec.SECP256R1()))
P384 = _pem(ec.generate_private_key(ec.SECP384R1()))
X25519 = _pem(x25519.X25519PrivateKey.generate())
RSA = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _credentials(html: str) -> dict[str, str]:
    found = {key: re.search(rf'id="courier-{key}">([^<]+)<', html)
             for key in ("uuid", "client-id", "client-secret")}
    assert all(found.values()), html[:2000]
    return {key: match.group(1) for key, match in found.items()}


def _make(app, name: str = "deployer", domains: tuple[str, ...] = ("example.com",),
          public_key: str | None = None) -> tuple[str, str]:
    with app.app_context():
        ids = [db.session.scalar(select(Domain.id).where(Domain.name == d)) for d in domains]
        courier, secret = couriers.create_courier(name, ids, public_key_pem=public_key)
        return str(courier.id), secret


def _snapshot(app, courier_id: str) -> dict[str, object] | None:
    with app.app_context():
        courier = db.session.get(Courier, uuid.UUID(courier_id))
        if courier is None:
            return None
        return {"name": courier.name, "enabled": courier.enabled,
                "domains": [d.name for d in courier.domains],
                "key": courier.encryption_public_key_pem, "hash": courier.secret_hash,
                "generation": courier.token_generation}


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Courier))


def _authenticate(app, courier_id: str, client_id: str, secret: str) -> str:
    with app.app_context():
        token, _ = couriers.authenticate(courier_id, client_id, secret)
        return token


def _client_id(app, courier_id: str) -> str:
    with app.app_context():
        return db.session.get(Courier, uuid.UUID(courier_id)).client_id


@pytest.fixture
def deploy_client(app, client):
    make_user(app, "deploy@example.com", role="deployment_admin")
    login(client, "deploy@example.com")
    return client


def test_empty_state_explains_couriers(deploy_client) -> None:
    html = deploy_client.get("/couriers/").get_data(as_text=True)
    assert "No couriers yet" in html and "JSON API" in html
    assert 'href="/couriers/"' in html  # the CLM menu entry


def test_menu_entry_only_for_deployment_roles(app, client) -> None:
    make_user(app, "pki@example.com", role="pki_admin")
    login(client, "pki@example.com")
    assert 'href="/couriers/"' not in client.get("/").get_data(as_text=True)


def test_create_shows_the_secret_once_and_stores_only_a_hash(app, deploy_client) -> None:
    domain_id = add_domain(app, "example.com")
    add_domain(app, "other.org")
    response = post(deploy_client, "/couriers/new", {
        "name": "web-01 deployer", "domains": [domain_id], "public_key": P256})
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    html = response.get_data(as_text=True)
    creds = _credentials(html)
    secret = creds["client-secret"]
    assert "shown only once" in html
    assert "/api/v1/courier/auth" in html and "courier/" in html and "README" in html
    assert f'"client_secret": "{secret}"' in html  # the curl snippet

    with app.app_context():
        courier = db.session.get(Courier, uuid.UUID(creds["uuid"]))
        assert courier.name == "web-01 deployer" and courier.enabled
        assert courier.client_id == creds["client-id"]
        assert [d.name for d in courier.domains] == ["example.com"]
        assert courier.encryption_public_key_pem.strip() == P256.strip()
        row = db.session.execute(text("SELECT * FROM couriers")).one()
        assert all(secret not in str(value) for value in row)
        event = db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "courier.create"))
        assert event.resource_id == creds["uuid"] and secret not in str(event.details)

    assert _authenticate(app, creds["uuid"], creds["client-id"], secret)
    detail = deploy_client.get(f"/couriers/{creds['uuid']}").get_data(as_text=True)
    listing = deploy_client.get("/couriers/").get_data(as_text=True)
    assert secret not in detail and secret not in listing
    assert creds["uuid"] in listing and "web-01 deployer" in listing


def test_create_accepts_an_x25519_key_and_no_key(app, deploy_client) -> None:
    domain_id = add_domain(app, "example.com")
    for name, key in (("x", X25519), ("none", "")):
        response = post(deploy_client, "/couriers/new",
                        {"name": name, "domains": [domain_id], "public_key": key})
        assert response.status_code == 200, response.get_data(as_text=True)
    with app.app_context():
        keys = {c.name: c.encryption_public_key_pem for c in couriers.list_couriers()}
    assert keys["none"] is None and "BEGIN PUBLIC KEY" in keys["x"]


@pytest.mark.parametrize(("form", "message"), [
    ({"name": "new"}, "Choose at least one allowed domain"),
    ({"name": "new", "domains": ["999999"]}, "must be a registered domain"),
    ({"name": "new", "domains": ["abc"]}, "Invalid choice"),
    ({"name": "", "domains": ["{domain}"]}, "Give the courier a name"),
    ({"name": "Existing", "domains": ["{domain}"]}, "already exists"),
    ({"name": "new", "domains": ["{domain}"], "public_key": "not a key"},
     "not a PEM public key"),
    ({"name": "new", "domains": ["{domain}"], "public_key": RSA},
     "must be an EC P-256 or X25519 public key"),
    ({"name": "new", "domains": ["{domain}"], "public_key": P384},
     "must be an EC P-256 or X25519 public key"),
], ids=["no-domains", "unregistered-domain", "non-numeric-domain", "no-name", "duplicate",
        "garbage-key", "rsa-key", "p384-key"])
def test_bad_create_input_is_refused_and_writes_nothing(app, deploy_client, form: dict,
                                                       message: str) -> None:
    domain_id = add_domain(app, "example.com")
    _make(app, "existing")
    form = {k: [str(domain_id) if v == "{domain}" else v for v in val]
            if isinstance(val, list) else val for k, val in form.items()}
    with app.app_context():
        events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = post(deploy_client, "/couriers/new", form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert "courier-client-secret" not in html
    assert _count(app) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_edit_changes_name_domains_and_key(app, deploy_client) -> None:
    add_domain(app, "example.com")
    other = add_domain(app, "other.org")
    courier_id, _ = _make(app)
    page = deploy_client.get(f"/couriers/{courier_id}").get_data(as_text=True)
    assert courier_id in page and "deployer" in page
    response = post(deploy_client, f"/couriers/{courier_id}", {
        "name": "renamed", "domains": [other], "public_key": X25519, "enabled": "y"})
    assert response.status_code == 302
    after = _snapshot(app, courier_id)
    assert after["name"] == "renamed" and after["domains"] == ["other.org"]
    assert "BEGIN PUBLIC KEY" in after["key"] and after["enabled"] is True


@pytest.mark.parametrize(("form", "message"), [
    ({"name": "deployer"}, "Choose at least one allowed domain"),
    ({"name": "renamed", "domains": ["999999"]}, "must be a registered domain"),
    ({"name": "Taken", "domains": ["{domain}"]}, "already exists"),
    ({"name": "renamed", "domains": ["{domain}"], "public_key": "-----BEGIN PUBLIC KEY-----"},
     "not a PEM public key"),
    ({"name": "renamed", "domains": ["{domain}"], "public_key": RSA}, "EC P-256 or X25519"),
    ({"name": "renamed", "domains": ["{domain}"], "public_key": P384}, "EC P-256 or X25519"),
], ids=["no-domains", "unregistered-domain", "duplicate", "garbage-key", "rsa-key",
        "p384-key"])
def test_bad_edit_input_is_refused_and_changes_nothing(app, deploy_client, form: dict,
                                                      message: str) -> None:
    add_domain(app, "example.com")
    other = add_domain(app, "other.org")
    courier_id, _ = _make(app, public_key=P256)
    _make(app, "taken")
    before = _snapshot(app, courier_id)
    form = {k: [str(other) if v == "{domain}" else v for v in val]
            if isinstance(val, list) else val for k, val in form.items()}
    response = post(deploy_client, f"/couriers/{courier_id}", {**form, "enabled": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert "<h1>deployer</h1>" in html
    assert _snapshot(app, courier_id) == before


def test_disable_and_enable_bump_the_token_generation(app, deploy_client) -> None:
    add_domain(app, "example.com")
    courier_id, secret = _make(app)
    client_id = _client_id(app, courier_id)
    token = _authenticate(app, courier_id, client_id, secret)

    response = post(deploy_client, f"/couriers/{courier_id}/enabled", {"enabled": "0"})
    assert response.status_code == 302
    disabled = _snapshot(app, courier_id)
    assert disabled["enabled"] is False and disabled["generation"] == 1
    with app.app_context(), pytest.raises(CourierAuthFailed):
        couriers.authenticate(courier_id, client_id, secret)
    with app.app_context(), pytest.raises(CourierAuthFailed):
        couriers.courier_for_token(token)
    assert "disabled" in deploy_client.get("/couriers/").get_data(as_text=True)

    response = post(deploy_client, f"/couriers/{courier_id}/enabled",
                    {"enabled": "1", "back": "detail"})
    assert response.headers["Location"].endswith(f"/couriers/{courier_id}")
    enabled = _snapshot(app, courier_id)
    assert enabled["enabled"] is True and enabled["generation"] == 2
    assert _authenticate(app, courier_id, client_id, secret)
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.action.in_(["courier.disable", "courier.enable"]))
            .order_by(AuditEvent.id)))
    assert actions == ["courier.disable", "courier.enable"]


def test_the_edit_form_can_disable_too(app, deploy_client) -> None:
    domain_id = add_domain(app, "example.com")
    courier_id, _ = _make(app)
    response = post(deploy_client, f"/couriers/{courier_id}",
                    {"name": "deployer", "domains": [domain_id], "enabled": ""})
    assert response.status_code == 302
    after = _snapshot(app, courier_id)
    assert after["enabled"] is False and after["generation"] == 1


def test_rotate_shows_a_new_secret_and_the_old_one_stops_working(app, deploy_client) -> None:
    add_domain(app, "example.com")
    courier_id, old_secret = _make(app)
    client_id = _client_id(app, courier_id)
    old_token = _authenticate(app, courier_id, client_id, old_secret)

    response = post(deploy_client, f"/couriers/{courier_id}/rotate-secret")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    html = response.get_data(as_text=True)
    creds = _credentials(html)
    new_secret = creds["client-secret"]
    assert new_secret != old_secret
    assert creds["uuid"] == courier_id and creds["client-id"] == client_id
    assert "old secret no longer works" in html and "stopped working" in html

    with app.app_context():
        with pytest.raises(CourierAuthFailed):
            couriers.authenticate(courier_id, client_id, old_secret)
        with pytest.raises(CourierAuthFailed):
            couriers.courier_for_token(old_token)
        row = db.session.execute(text("SELECT * FROM couriers")).one()
        assert all(new_secret not in str(value) for value in row)
        assert db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "courier.rotate_secret")) is not None
    token = _authenticate(app, courier_id, client_id, new_secret)
    with app.app_context():
        assert str(couriers.courier_for_token(token).id) == courier_id


def test_delete_removes_the_courier(app, deploy_client) -> None:
    add_domain(app, "example.com")
    courier_id, _ = _make(app)
    response = post(deploy_client, f"/couriers/{courier_id}/delete")
    assert response.status_code == 302
    assert _snapshot(app, courier_id) is None
    html = deploy_client.get("/couriers/").get_data(as_text=True)
    assert "Deleted courier" in html and "No couriers yet" in html
    with app.app_context():
        assert db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "courier.delete")).resource_id == courier_id


def test_unknown_courier_is_404(deploy_client) -> None:
    assert deploy_client.get(f"/couriers/{uuid.uuid4()}").status_code == 404
    assert deploy_client.get("/couriers/not-a-uuid").status_code == 404
    assert post(deploy_client, f"/couriers/{uuid.uuid4()}/delete").status_code == 404


def test_list_shows_last_used_key_and_order_count(app, deploy_client) -> None:
    add_domain(app, "example.com")
    courier_id, secret = _make(app, public_key=P256)
    html = deploy_client.get("/couriers/").get_data(as_text=True)
    row = re.search(rf'<tr id="courier-{courier_id}">(.*?)</tr>', html, re.S).group(1)
    assert "never" in row and "<td>yes</td>" in row and "<td>0</td>" in row
    assert "example.com" in row and "enabled" in row

    _authenticate(app, courier_id, _client_id(app, courier_id), secret)
    with app.app_context():
        used = db.session.get(Courier, uuid.UUID(courier_id)).last_used_at
        db.session.add(Order(type="local_pki", pathway="courier", common_name="a.example.com",
                             request={}, provider_id=LOCAL_PKI_ID,
                             requested_by_label="deployer",
                             requested_by_kind="courier",
                             requested_by_courier_id=uuid.UUID(courier_id)))
        db.session.commit()
    stamp = used.strftime("%Y-%m-%d %H:%M UTC")
    html = deploy_client.get("/couriers/").get_data(as_text=True)
    row = re.search(rf'<tr id="courier-{courier_id}">(.*?)</tr>', html, re.S).group(1)
    assert stamp in row and "never" not in row and "<td>1</td>" in row
    detail = deploy_client.get(f"/couriers/{courier_id}").get_data(as_text=True)
    assert stamp in detail


def test_super_admin_may_manage_couriers(app, admin_client) -> None:
    domain_id = add_domain(app, "example.com")
    response = post(admin_client, "/couriers/new", {"name": "a", "domains": [domain_id]})
    assert response.status_code == 200 and _count(app) == 1

"""The couriers' JSON API end to end: real database, real Redis, the real worker."""
from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwe, jwk
from sqlalchemy import select

from app.extensions import db
from app.models import ApiIdempotencyKey, CertificateAlert, Order
from tests.api.conftest import (
    API,
    bearer,
    make_courier,
    make_csr,
    new_key,
    root_pem,
    row_counts,
    token_for,
)
from tests.builders import add_policy, count


def _order_row(app, order_id: str) -> Order:
    with app.app_context():
        order = db.session.get(Order, uuid.UUID(order_id))
        db.session.expunge(order)
        return order


def _submit(client, token, body, **headers):
    return client.post(f"{API}/certificates", json=body, headers=bearer(token, **headers))


def _verify_chain(tmp_path, app, certificate_pem: str, chain_pem: str) -> None:
    (tmp_path / "root.pem").write_text(root_pem(app))
    (tmp_path / "chain.pem").write_text(chain_pem)
    (tmp_path / "leaf.pem").write_text(certificate_pem)
    verify = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile",
                             str(tmp_path / "root.pem"), "-untrusted", str(tmp_path / "chain.pem"),
                             str(tmp_path / "leaf.pem")], capture_output=True, text=True,
                            check=False)
    assert verify.returncode == 0, verify.stderr


# ---- auth --------------------------------------------------------------------------------

def test_auth_gives_a_short_lived_bearer_token(app, client, courier) -> None:
    response = client.post(f"{API}/auth", json=courier.auth_body())
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == app.config["COURIER_TOKEN_TTL_SECONDS"]
    assert response.headers["Cache-Control"] == "no-store"
    unknown = client.get(f"{API}/orders/{uuid.uuid4()}", headers=bearer(body["token"]))
    assert unknown.status_code == 404  # the token works; the order just does not exist


@pytest.mark.parametrize("change", ["client_secret", "client_id", "uuid"])
def test_auth_with_a_wrong_credential_is_401_json(client, courier, change) -> None:
    body = courier.auth_body()
    body[change] = str(uuid.uuid4()) if change == "uuid" else "wrong"
    response = client.post(f"{API}/auth", json=body)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "auth.invalid_credentials"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_disabled_courier_cannot_authenticate_and_its_tokens_die(app, client, courier,
                                                                   token) -> None:
    from app.services import couriers

    with app.app_context():
        couriers.set_enabled(couriers.get_courier(courier.id), False)
    response = client.post(f"{API}/auth", json=courier.auth_body())
    assert response.status_code == 401
    old = client.get(f"{API}/orders/{uuid.uuid4()}", headers=bearer(token))
    assert old.status_code == 401
    assert old.get_json()["error"]["code"] == "auth.revoked"
    with app.app_context():
        couriers.set_enabled(couriers.get_courier(courier.id), True)
    # Re-enabling does not bring the old token back (the generation moved on twice).
    assert client.get(f"{API}/orders/{uuid.uuid4()}", headers=bearer(token)).status_code == 401


def test_rotating_the_secret_revokes_tokens_and_the_old_secret(app, client, courier,
                                                               token) -> None:
    from app.services import couriers

    with app.app_context():
        new_secret = couriers.rotate_secret(couriers.get_courier(courier.id))
    assert client.get(f"{API}/orders/{uuid.uuid4()}", headers=bearer(token)).status_code == 401
    assert client.post(f"{API}/auth", json=courier.auth_body()).status_code == 401
    courier.secret = new_secret
    fresh = token_for(client, courier)
    assert client.get(f"{API}/orders/{uuid.uuid4()}", headers=bearer(fresh)).status_code == 404


# ---- issuance ----------------------------------------------------------------------------

def test_a_csr_is_issued_and_the_chain_verifies(app, client, jobs, courier, token,
                                                tmp_path) -> None:
    key = new_key("ec-256")
    csr = make_csr("www.example.com", ("www.example.com", "api.example.com"), key=key)
    response = _submit(client, token, {"csr": csr, "validity_days": 30})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "pending" and "warnings" not in body
    assert body["status_url"] == f"{API}/orders/{body['order_id']}"
    assert response.headers["Location"] == body["status_url"]

    row = _order_row(app, body["order_id"])
    assert (row.pathway, row.requested_by_kind, row.requested_by_label) == \
        ("courier", "courier", "edge-proxy")
    assert str(row.requested_by_courier_id) == courier.id
    assert row.requested_by_user_id is None
    assert row.csr_pem and "CERTIFICATE REQUEST" in row.csr_pem

    pending = client.get(body["status_url"], headers=bearer(token)).get_json()
    assert pending["status"] == "pending" and "certificate_pem" not in pending
    jobs()
    order = client.get(body["status_url"], headers=bearer(token)).get_json()
    assert order["status"] == "complete", order
    assert order["key_source"] == "csr" and "private_key_jwe" not in order
    assert "key_status" not in order
    assert order["error"] is None and order["finished_at"]
    cert = x509.load_pem_x509_certificate(order["certificate_pem"].encode())
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["www.example.com", "api.example.com"]
    _verify_chain(tmp_path, app, order["certificate_pem"], order["chain_pem"])

    certificate = client.get(f"{API}/certificates/{order['certificate_id']}",
                             headers=bearer(token))
    assert certificate.status_code == 200
    data = certificate.get_json()
    assert data["certificate_pem"] == order["certificate_pem"]
    assert data["chain_pem"] == order["chain_pem"]
    assert data["serial"] == format(cert.serial_number, "x")
    assert data["order_id"] == body["order_id"] and data["status"] == "active"


def test_the_orders_page_names_the_courier_as_requester(app, client, jobs, courier,
                                                        token) -> None:
    from tests.conftest import login, make_user

    assert _submit(client, token, {"csr": make_csr()}).status_code == 202
    make_user(app)
    web = app.test_client()
    login(web)
    page = web.get("/orders/").get_data(as_text=True)
    assert "Courier edge-proxy" in page


@pytest.mark.parametrize("key_kind", ["ec", "x25519"])
def test_a_platform_made_key_comes_back_only_as_a_jwe(app, client, jobs, pki, key_kind,
                                                      tmp_path) -> None:
    creds = make_courier(app, f"keyless-{key_kind}", key=key_kind)
    token = token_for(client, creds)
    response = _submit(client, token, {"common_name": "svc.example.com",
                                       "sans": ["svc.example.com", "10.example.net"],
                                       "subject": {"organization": "Acme"},
                                       "algorithm": "rsa-2048"})
    assert response.status_code == 422  # example.net is not one of this courier's domains
    details = response.get_json()["error"]["details"]
    assert [d["code"] for d in details] == ["name.outside_scope"]
    assert "10.example.net" in details[0]["message"]

    response = _submit(client, token, {"common_name": "svc.example.com",
                                       "subject": {"organization": "Acme"},
                                       "algorithm": "rsa-2048"})
    assert response.status_code == 202, response.get_json()
    status_url = response.get_json()["status_url"]
    assert _order_row(app, response.get_json()["order_id"]).csr_pem is None
    jobs()
    order = client.get(status_url, headers=bearer(token)).get_json()
    assert order["status"] == "complete", order
    assert order["key_source"] == "platform" and order["key_status"] == "included"
    token_text = order["private_key_jwe"]
    assert "PRIVATE KEY" not in token_text and token_text.count(".") == 4

    header = json.loads(jwk.base64url_decode(token_text.split(".")[0]))
    assert (header["alg"], header["enc"]) == ("ECDH-ES+A256KW", "A256GCM")
    message = jwe.JWE()
    message.deserialize(token_text, key=jwk.JWK.from_pem(creds.private_key_pem))
    private_key = serialization.load_pem_private_key(message.payload, password=None)
    assert message.payload.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    cert = x509.load_pem_x509_certificate(order["certificate_pem"].encode())
    assert cert.public_key().public_numbers() == private_key.public_key().public_numbers()
    assert private_key.key_size == 2048
    _verify_chain(tmp_path, app, order["certificate_pem"], order["chain_pem"])

    # Our own helper (used by the reference client) reads it too; another key does not.
    from app.services.jwe import JWEError, decrypt_with_private_key
    from tests.api.conftest import encryption_keypair

    assert decrypt_with_private_key(token_text, creds.private_key_pem) == message.payload
    with pytest.raises(JWEError):
        decrypt_with_private_key(token_text, encryption_keypair(key_kind)[0])


def test_left_out_options_get_the_wizards_defaults(app, client, jobs, courier, token) -> None:
    from app.services.issuers import issuer_choices

    response = _submit(client, token, {"common_name": "min.example.com"})
    assert response.status_code == 202, response.get_json()
    request = _order_row(app, response.get_json()["order_id"]).request
    with app.app_context():
        default_issuer = issuer_choices()[0].issuer_id
    assert (request["algorithm"], request["digest"], request["validity_days"]) == \
        ("ec-256", "sha256", 365)
    assert request["key_usage"] == ["digitalSignature"]  # no keyEncipherment on EC
    assert request["extended_key_usage"] == ["serverAuth"]
    assert request["issuer_id"] == default_issuer
    rsa = _submit(client, token, {"common_name": "rsa.example.com", "algorithm": "rsa-3072"})
    assert _order_row(app, rsa.get_json()["order_id"]).request["key_usage"] == \
        ["digitalSignature", "keyEncipherment"]


def test_enforced_subject_values_replace_the_csrs(app, client, jobs, courier, token) -> None:
    add_policy(app, "Org", ["*.example.com"], [
        {"action": "enforce_values", "fail": "hard", "values": {"organization": "Acme"}}])
    response = _submit(client, token, {"csr": make_csr(organization="Other Corp"),
                                       "common_name": "WWW.example.com.",
                                       "sans": ["www.example.com"]})
    assert response.status_code == 202, response.get_json()
    jobs()
    order = client.get(response.get_json()["status_url"], headers=bearer(token)).get_json()
    cert = x509.load_pem_x509_certificate(order["certificate_pem"].encode())
    assert cert.subject.get_attributes_for_oid(
        x509.NameOID.ORGANIZATION_NAME)[0].value == "Acme"


def test_a_courier_disabled_after_submitting_gets_no_certificate(app, client, jobs, courier,
                                                                 token) -> None:
    from app.services import couriers

    response = _submit(client, token, {"csr": make_csr()})
    with app.app_context():
        couriers.set_enabled(couriers.get_courier(courier.id), False)
    jobs()
    order = _order_row(app, response.get_json()["order_id"])
    assert order.status == "failed" and "courier was disabled" in order.error


# ---- warnings, idempotency, limits, isolation --------------------------------------------

def test_soft_violations_are_warnings_on_the_202(app, client, courier, token) -> None:
    add_policy(app, "Prefer long digests", ["*.example.com"], [
        {"action": "enforce_digest", "fail": "soft", "values": {"digest": "sha512"}}])
    response = _submit(client, token, {"common_name": "www.example.com", "digest": "sha256"})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["warnings"] == [{
        "field": "digest", "code": "policy.enforce_digest",
        "message": body["warnings"][0]["message"], "policy": "Prefer long digests"}]
    with app.app_context():
        alert = db.session.scalar(select(CertificateAlert))
        assert alert.type == "policy_soft_fail" and str(alert.order_id) == body["order_id"]
        assert alert.requester_label == "Courier edge-proxy"


def test_an_idempotent_retry_returns_the_same_order(app, client, courier, token) -> None:
    body = {"common_name": "www.example.com", "sans": ["api.example.com"], "digest": "sha256"}
    first = _submit(client, token, body, **{"Idempotency-Key": "order-42"})
    assert first.status_code == 202
    # The same body with its keys in another order is the same request.
    again = client.post(f"{API}/certificates", data=json.dumps(dict(reversed(body.items()))),
                        content_type="application/json",
                        headers=bearer(token, **{"Idempotency-Key": "order-42"}))
    assert again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(app, Order) == 1 and count(app, ApiIdempotencyKey) == 1

    other = make_courier(app, "second")  # keys are per courier
    reuse = _submit(client, token_for(client, other), body, **{"Idempotency-Key": "order-42"})
    assert reuse.status_code == 202 and reuse.get_json()["order_id"] != first.get_json()[
        "order_id"]
    assert count(app, Order) == 2


def test_an_idempotency_key_reused_with_another_body_is_refused(app, client, courier,
                                                                token) -> None:
    first = _submit(client, token, {"common_name": "a.example.com"},
                    **{"Idempotency-Key": "k-1"})
    assert first.status_code == 202
    before = row_counts(app)
    reused = _submit(client, token, {"common_name": "b.example.com"},
                     **{"Idempotency-Key": "k-1"})
    assert reused.status_code == 422
    assert reused.get_json()["error"]["code"] == "idempotency.key_reused"
    assert row_counts(app) == before


def test_a_refused_request_does_not_use_up_its_idempotency_key(app, client, courier,
                                                               token) -> None:
    refused = _submit(client, token, {"common_name": "www.not-ours.org"},
                      **{"Idempotency-Key": "retry-me"})
    assert refused.status_code == 422
    fixed = _submit(client, token, {"common_name": "www.example.com"},
                    **{"Idempotency-Key": "retry-me"})
    assert fixed.status_code == 202


@pytest.fixture
def low_limit(app):
    saved = app.config["COURIER_RATE_LIMIT_PER_MINUTE"]
    app.config["COURIER_RATE_LIMIT_PER_MINUTE"] = 3
    yield 3
    app.config["COURIER_RATE_LIMIT_PER_MINUTE"] = saved


def _until_limited(send, limit: int):
    """Send until a 429 (a window boundary may reset the count once, so allow 2×limit+2)."""
    statuses = []
    for _ in range(2 * limit + 2):
        response = send()
        statuses.append(response.status_code)
        if response.status_code == 429:
            return response, statuses
    raise AssertionError(f"never limited: {statuses}")


def test_each_courier_is_rate_limited_with_retry_after(app, client, courier, token,
                                                       low_limit) -> None:
    response, statuses = _until_limited(
        lambda: client.get(f"{API}/orders/{uuid.uuid4()}", headers=bearer(token)), low_limit)
    assert statuses[:low_limit] == [404] * low_limit
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    limited_post = _submit(client, token, {"common_name": "www.example.com"})
    assert limited_post.status_code == 429 and count(app, Order) == 0
    # Another courier has its own budget.
    other = make_courier(app, "other")
    other_token = token_for(client, other)
    assert client.get(f"{API}/orders/{uuid.uuid4()}",
                      headers=bearer(other_token)).status_code == 404


@pytest.fixture
def low_auth_limit(app):
    saved = app.config["COURIER_AUTH_RATE_LIMIT_PER_MINUTE"]
    app.config["COURIER_AUTH_RATE_LIMIT_PER_MINUTE"] = 3
    yield 3
    app.config["COURIER_AUTH_RATE_LIMIT_PER_MINUTE"] = saved


def _auth_failures(app) -> int:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import AuditEvent

    with app.app_context():
        return db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "courier.auth"))


def test_auth_attempts_are_rate_limited_per_client_address_before_hashing(
        app, client, courier, low_auth_limit) -> None:
    def random_uuid_guess():
        return client.post(f"{API}/auth", json={**courier.auth_body(),
                                                "uuid": str(uuid.uuid4()),
                                                "client_secret": "guess"})

    response, statuses = _until_limited(random_uuid_guess, low_auth_limit)
    assert set(statuses[:-1]) == {401}
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    recorded = _auth_failures(app)
    # Over the limit nothing is hashed or recorded, and the right secret waits too.
    for _ in range(5):
        assert random_uuid_guess().status_code == 429
    assert client.post(f"{API}/auth", json=courier.auth_body()).status_code == 429
    assert _auth_failures(app) == recorded
    # The courier itself, from its own address, is not locked out by the guesser.
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    assert elsewhere.post(f"{API}/auth", json=courier.auth_body()).status_code == 200


def test_without_redis_requests_are_allowed(app, client, courier, token, low_limit,
                                            monkeypatch) -> None:
    from limits.storage import storage_from_string
    from limits.strategies import FixedWindowRateLimiter

    nothing_there = storage_from_string("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    monkeypatch.setitem(app.extensions, "platform_rate_limits",
                        (nothing_there, FixedWindowRateLimiter(nothing_there)))
    statuses = {client.get(f"{API}/orders/{uuid.uuid4()}", headers=bearer(token))
                .status_code for _ in range(low_limit + 2)}
    assert statuses == {404}


def test_a_courier_sees_only_its_own_orders_and_certificates(app, client, jobs, courier,
                                                             token) -> None:
    from tests.conftest import make_user
    from tests.jobs.test_issuance import _submit as submit_as_user

    mine = _submit(client, token, {"csr": make_csr()}).get_json()
    other = make_courier(app, "neighbour")
    other_token = token_for(client, other)
    theirs = _submit(client, other_token, {"csr": make_csr()}).get_json()
    make_user(app)
    with app.app_context():
        from app.services.issuers import issuer_choices

        issuer = issuer_choices()[0].issuer_id
    users_order = str(submit_as_user(app, issuer))
    jobs()
    mine_cert = client.get(mine["status_url"], headers=bearer(token)).get_json()
    theirs_cert = client.get(theirs["status_url"], headers=bearer(other_token)).get_json()
    assert mine_cert["status"] == theirs_cert["status"] == "complete"

    for path in (theirs["status_url"], f"{API}/orders/{users_order}",
                 f"{API}/certificates/{theirs_cert['certificate_id']}"):
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] in {"order.not_found",
                                                        "certificate.not_found"}
    assert client.get(f"{API}/certificates/{mine_cert['certificate_id']}",
                      headers=bearer(token)).status_code == 200


def test_concurrent_retries_with_one_key_make_one_order(app, courier, token) -> None:
    """Both pass the replay look-up before either commits; the unique key decides."""
    import threading

    barrier = threading.Barrier(4)
    results: list[tuple[int, str]] = []

    def send() -> None:
        client = app.test_client()
        barrier.wait()
        response = _submit(client, token, {"common_name": "race.example.com"},
                           **{"Idempotency-Key": "race"})
        results.append((response.status_code, response.get_json().get("order_id", "")))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in results} == {202}, results
    assert len({order_id for _, order_id in results}) == 1
    assert count(app, Order) == 1 and count(app, ApiIdempotencyKey) == 1

"""Hostile-input battery: every request breaks one rule and must get the right RFC 8555
problem type — never a 500 — and write no order or certificate row."""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from app.models import AcmeOrder, Certificate, Order
from app.pki.csr import build_csr
from app.pki.keys import generate_private_key
from tests.acme.helpers import (
    JOSE,
    Client,
    b64,
    eab,
    ec_key,
    make_account,
    make_acme_server,
    problem_type,
    rsa_key,
    sign,
)
from tests.bad_keys import factorable_key, roca_key
from tests.builders import count


def _csr(names: tuple[str, ...], key=None) -> str:
    key = key or generate_private_key("ec-256")
    der = build_csr(key, names[0], names).public_bytes(Encoding.DER)
    return b64(der)


@dataclass
class Ctx:
    app: object
    world: object
    client: Client

    def fresh(self) -> Client:
        return Client(self.app.test_client(), self.world.server_id)

    def order(self, *names: str) -> dict:
        response = self.client.new_order(*(names or ("www.example.com",)))
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def tamper_signature(c: Ctx):
    url = c.client.url("new-order")
    body = sign(c.client.key, {"nonce": c.client.nonce(), "url": url, "kid": c.client.kid},
                {"identifiers": [{"type": "dns", "value": "www.example.com"}]})
    sig = bytearray(base64.urlsafe_b64decode(body["signature"] + "=="))
    sig[5] ^= 1
    body["signature"] = b64(bytes(sig))
    return c.client.post(url, None, raw=json.dumps(body))


def tamper_payload(c: Ctx):
    url = c.client.url("new-order")
    body = sign(c.client.key, {"nonce": c.client.nonce(), "url": url, "kid": c.client.kid},
                {"identifiers": [{"type": "dns", "value": "www.example.com"}]})
    body["payload"] = b64(json.dumps({"identifiers": [{"type": "dns",
                                                       "value": "evil.example.com"}]}).encode())
    return c.client.post(url, None, raw=json.dumps(body))


def replayed_nonce(c: Ctx):
    url = c.client.url("new-order")
    body = json.dumps(sign(c.client.key, {"nonce": c.client.nonce(), "url": url,
                                          "kid": c.client.kid}, {"identifiers": []}))
    first = c.client.post(url, None, raw=body)
    assert problem_type(first) == "malformed"  # the first use reached the payload check
    return c.client.post(url, None, raw=body)


def with_header(**header) -> Callable[[Ctx], object]:
    def run(c: Ctx):
        return c.client.post(c.client.url("new-order"),
                             {"identifiers": [{"type": "dns", "value": "www.example.com"}]},
                             protected=header)
    return run


def raw_body(body: str | bytes, content_type: str = JOSE) -> Callable[[Ctx], object]:
    def run(c: Ctx):
        return c.client.post(c.client.url("new-order"), None, raw=body,
                             content_type=content_type)
    return run


def with_alg(alg: str) -> Callable[[Ctx], object]:
    def run(c: Ctx):
        url = c.client.url("new-order")
        header = b64(json.dumps({"alg": alg, "nonce": c.client.nonce(), "url": url,
                                 "kid": c.client.kid}).encode())
        payload = b64(b'{"identifiers": [{"type": "dns", "value": "www.example.com"}]}')
        return c.client.post(url, None, raw=json.dumps(
            {"protected": header, "payload": payload, "signature": b64(b"x" * 32)}))
    return run


def register_with(key, **kw) -> Callable[[Ctx], object]:
    def run(c: Ctx):
        client = c.fresh()
        client.key = key() if callable(key) else key
        return client.register(c.world.eab_kid, c.world.eab_hmac, **kw)
    return run


def new_account_payload(make_payload: Callable[[Ctx, Client, str], dict]
                        ) -> Callable[[Ctx], object]:
    def run(c: Ctx):
        client = c.fresh()
        url = client.url("new-account")
        return client.post(url, make_payload(c, client, url), use_jwk=True)
    return run


def other_server_eab(c: Ctx, client: Client, url: str) -> dict:
    server = make_acme_server(c.app, c.world.issuer_id, name="Second ACME")
    _, kid, key = make_account(c.app, server, "elsewhere", ["example.com"])
    return {"externalAccountBinding": eab(kid, key, client.key, url)}


def order_names(*names: str) -> Callable[[Ctx], object]:
    return lambda c: c.client.new_order(*names)


def finalize_with(make_csr: Callable[[Ctx], str]) -> Callable[[Ctx], object]:
    def run(c: Ctx):
        order = c.order("www.example.com")
        return c.client.post(order["finalize"], {"csr": make_csr(c)})
    return run


def account_key_csr(c: Ctx) -> str:
    der = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                       "www.example.com")]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("www.example.com")]),
                          critical=False)
           .sign(c.client.key.key._wrapped, hashes.SHA256()).public_bytes(Encoding.DER))
    return b64(der)


def weak_rsa_csr(c: Ctx) -> str:
    key = rsa.generate_private_key(65537, 1024)
    der = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                       "www.example.com")]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("www.example.com")]),
                          critical=False)
           .sign(key, hashes.SHA256()).public_bytes(Encoding.DER))
    return b64(der)


def disabled_account(c: Ctx):
    from app.services import acme_admin

    with c.app.app_context():
        server = acme_admin.get_server(c.world.server_id)
        acme_admin.set_account_enabled(acme_admin.get_account(server, c.world.account_id),
                                       False)
    return c.client.new_order("www.example.com")


def deactivated_account(c: Ctx):
    response = c.client.post(c.client.kid, {"status": "deactivated"})
    assert response.get_json()["status"] == "deactivated"
    return c.client.new_order("www.example.com")


def other_accounts_order(c: Ctx):
    order = c.order("www.example.com")
    _, kid, key = make_account(c.app, c.world.server_id, "second", ["example.com"])
    other = c.fresh()
    assert other.register(kid, key).status_code == 201
    return other.post(order["finalize"], {"csr": _csr(("www.example.com",))})


def self_signed_b64() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x.example.com")])
    import datetime

    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(12345)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return b64(cert.public_bytes(Encoding.DER))


def rate_limited(c: Ctx):
    from app.extensions import db
    from app.services import acme_admin

    with c.app.app_context():
        acme_admin.get_server(c.world.server_id).orders_per_hour = 1
        db.session.commit()
    c.order("www.example.com")
    response = c.client.new_order("api.example.com")
    assert int(response.headers["Retry-After"]) > 0
    return response


def disabled_server(c: Ctx):
    from app.services import acme_admin

    with c.app.app_context():
        acme_admin.set_server_enabled(acme_admin.get_server(c.world.server_id), False)
    return c.client.new_order("www.example.com")


CASES: list[tuple[str, Callable[[Ctx], object], str]] = [
    ("bad JWS signature", tamper_signature, "malformed"),
    ("payload changed after signing", tamper_payload, "malformed"),
    ("wrong url (another resource)", with_header(url="http://localhost/acme/x/new-order"),
     "unauthorized"),
    ("wrong url (another host)", lambda c: c.client.post(
        c.client.url("new-order"), {"identifiers": []},
        protected={"url": c.client.url("new-order").replace("localhost", "evil.test")}),
     "unauthorized"),
    ("replayed nonce", replayed_nonce, "badNonce"),
    ("unknown nonce", with_header(nonce="bm90LWEtbm9uY2U"), "badNonce"),
    ("missing nonce", with_header(nonce=None), "badNonce"),
    ("nonce of the wrong type", with_header(nonce=12345), "badNonce"),
    ("unknown kid", lambda c: c.client.post(c.client.url("new-order"), {"identifiers": []},
                                            protected={"kid": c.client.url(
                                                "acct/00000000-0000-4000-8000-00000000dead")}),
     "accountDoesNotExist"),
    ("kid that is not an account URL", with_header(kid="https://elsewhere/acct/1"),
     "accountDoesNotExist"),
    ("jwk where kid is required", lambda c: c.client.post(
        c.client.url("new-order"), {"identifiers": [{"type": "dns",
                                                     "value": "www.example.com"}]},
        use_jwk=True), "malformed"),
    ("kid on newAccount", lambda c: c.client.post(c.client.url("new-account"), {}),
     "malformed"),
    ("both jwk and kid", lambda c: c.client.post(
        c.client.url("new-order"), {"identifiers": []},
        protected={"jwk": c.client.key.public_key().to_json()}), "malformed"),
    ("neither jwk nor kid", with_header(kid=None), "malformed"),
    ("content type application/json", raw_body("{}", "application/json"), "malformed"),
    ("content type text/plain", raw_body("{}", "text/plain"), "malformed"),
    ("oversized body", raw_body("x" * 70_000), "malformed"),
    ("alg none", with_alg("none"), "badSignatureAlgorithm"),
    ("alg HS256", with_alg("HS256"), "badSignatureAlgorithm"),
    ("alg ES512", with_alg("ES512"), "badSignatureAlgorithm"),
    ("alg missing", with_alg(""), "badSignatureAlgorithm"),
    ("body not JSON", raw_body("not json"), "malformed"),
    ("body a JSON array", raw_body("[1, 2]"), "malformed"),
    ("general JWS serialization", raw_body(json.dumps(
        {"payload": "e30", "signatures": [{"protected": "e30", "signature": "AA"}]})),
     "malformed"),
    ("protected header not base64url", raw_body(json.dumps(
        {"protected": "!!!", "payload": "e30", "signature": "AA"})), "malformed"),
    ("protected header a JSON list", raw_body(json.dumps(
        {"protected": b64(b"[]"), "payload": "e30", "signature": "AA"})), "malformed"),
    ("payload not JSON", lambda c: c.client.post(c.client.url("new-order"), b"nope"),
     "malformed"),
    ("RSA account key of 1024 bits", register_with(lambda: rsa_key(1024)), "badPublicKey"),
    ("ES256 with a P-384 key", lambda c: c.fresh().post(
        c.client.url("new-account"), {}, use_jwk=True, key=ec_key(ec.SECP384R1()),
        alg="ES256"), "badPublicKey"),
    ("newAccount without EAB", new_account_payload(
        lambda c, cl, url: {"termsOfServiceAgreed": True}), "externalAccountRequired"),
    ("EAB with a wrong HMAC key", new_account_payload(
        lambda c, cl, url: {"externalAccountBinding": eab(
            c.world.eab_kid, b64(b"k" * 32), cl.key, url)}), "unauthorized"),
    ("EAB for another server", new_account_payload(other_server_eab), "unauthorized"),
    ("EAB reused for a second key", register_with(ec_key), "unauthorized"),
    ("EAB binding a different key", new_account_payload(
        lambda c, cl, url: {"externalAccountBinding": eab(
            c.world.eab_kid, c.world.eab_hmac, ec_key(), url)}), "unauthorized"),
    ("EAB with an unknown kid", new_account_payload(
        lambda c, cl, url: {"externalAccountBinding": eab(
            "no-such-kid", c.world.eab_hmac, cl.key, url)}), "unauthorized"),
    ("EAB not a JWS", new_account_payload(
        lambda c, cl, url: {"externalAccountBinding": "x"}), "malformed"),
    ("onlyReturnExisting for an unknown key", new_account_payload(
        lambda c, cl, url: {"onlyReturnExisting": True}), "accountDoesNotExist"),
    ("disabled account", disabled_account, "unauthorized"),
    ("deactivated account", deactivated_account, "unauthorized"),
    ("unbound identifier", order_names("www.other.net"), "rejectedIdentifier"),
    ("unregistered identifier", order_names("www.nowhere.test"), "rejectedIdentifier"),
    ("wildcard without a wildcard binding", order_names("*.example.com"),
     "rejectedIdentifier"),
    ("subdomain under an exact binding", order_names("www.example.org"),
     "rejectedIdentifier"),
    ("malformed identifier", order_names("exa mple.com"), "rejectedIdentifier"),
    ("IP identifier", lambda c: c.client.post(c.client.url("new-order"), {
        "identifiers": [{"type": "ip", "value": "192.0.2.1"}]}), "unsupportedIdentifier"),
    ("empty identifiers", order_names(), "malformed"),
    ("notBefore requested", lambda c: c.client.new_order(
        "www.example.com", notBefore="2030-01-01T00:00:00Z"), "malformed"),
    ("notAfter beyond the maximum", lambda c: c.client.new_order(
        "www.example.com", notAfter="2099-01-01T00:00:00Z"), "malformed"),
    ("CSR with other names than the order", finalize_with(
        lambda c: _csr(("www.example.com", "evil.example.com"))), "badCSR"),
    ("CSR missing a name of the order", lambda c: c.client.post(
        c.order("www.example.com", "api.example.com")["finalize"],
        {"csr": _csr(("www.example.com",))}), "badCSR"),
    ("CSR reusing the account key", finalize_with(account_key_csr), "badCSR"),
    ("CSR not DER", finalize_with(lambda c: b64(b"garbage")), "badCSR"),
    ("CSR with a 1024-bit RSA key", finalize_with(weak_rsa_csr), "badCSR"),
    # Key quality (issue 12): the same parse_csr check as CSR upload and the courier API.
    ("CSR with a factorable RSA key", finalize_with(
        lambda c: _csr(("www.example.com",), key=factorable_key())), "badCSR"),
    ("CSR with a ROCA-style RSA key", finalize_with(
        lambda c: _csr(("www.example.com",), key=roca_key())), "badCSR"),
    ("finalize another account's order", other_accounts_order, "malformed"),
    ("POST-as-GET with a payload", lambda c: c.client.post(
        c.client.url(f"order/{c.order()['finalize'].split('/')[-2]}"), {"x": 1}),
     "malformed"),
    ("revokeCert with garbage", lambda c: c.client.post(
        c.client.url("revoke-cert"), {"certificate": "AAAA"}), "malformed"),
    ("revokeCert with an unusable reason", lambda c: c.client.post(
        c.client.url("revoke-cert"), {"certificate": self_signed_b64(), "reason": 7}),
     "badRevocationReason"),
    ("revokeCert of a certificate not issued here", lambda c: c.client.post(
        c.client.url("revoke-cert"), {"certificate": self_signed_b64()}), "malformed"),
    ("rate limit", rate_limited, "rateLimited"),
    ("disabled server", disabled_server, "malformed"),
    ("unknown server", lambda c: c.client.flask.get(
        "/acme/00000000-0000-4000-8000-000000000000/directory"), "malformed"),
]


#: Cases whose set-up creates an ACME order (no platform order) before the hostile request.
MAKE_ACME_ORDERS_FIRST = {"finalize another account's order", "POST-as-GET with a payload",
                          "rate limit"}


def test_the_battery_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_request_gets_the_right_problem(app, world, acme_client: Client,
                                                case) -> None:
    _, run, expected = case
    orders_before = count(app, AcmeOrder)
    response = run(Ctx(app, world, acme_client))
    assert response.status_code < 500, response.get_data(as_text=True)
    assert problem_type(response) == expected, response.get_json()
    if "RSA key" in case[0] and "1024" not in case[0]:   # refused for the key, by name
        assert "csr.bad_key" in {v["code"] for v in response.get_json()["violations"]}
    assert count(app, Order) == 0 and count(app, Certificate) == 0
    if case[0] not in MAKE_ACME_ORDERS_FIRST and expected != "badCSR":
        assert count(app, AcmeOrder) == orders_before


ODD_VALUES = [None, 0, -1, 10**30, "", "x" * 5000, [], {}, [1, "a"], {"a": {"b": []}}, True,
              "\u202e", "../../etc"]


def test_odd_payload_values_on_every_resource_are_never_a_500(app, world,
                                                             acme_client: Client) -> None:
    order = acme_client.new_order("www.example.com").get_json()
    authz = order["authorizations"][0]
    targets = {
        acme_client.url("new-order"): ("identifiers", "notAfter", "notBefore", "replaces"),
        order["finalize"]: ("csr",),
        acme_client.kid: ("contact", "status"),
        authz: ("status",),
        acme_client.url("key-change"): ("protected", "payload", "signature"),
        acme_client.url("revoke-cert"): ("certificate", "reason"),
    }
    sent = 0
    for url, fields in targets.items():
        for name in fields:
            for value in ODD_VALUES:
                payload = ({"protected": "e30", "payload": "e30", "signature": "AA"}
                           if url.endswith("key-change") else {}) | {name: value}
                response = acme_client.post(url, payload)
                assert response.status_code < 500, (url, name, repr(value)[:40],
                                                    response.get_data(as_text=True)[:300])
                sent += 1
    assert sent > 150
    assert count(app, Order) == 0 and count(app, Certificate) == 0

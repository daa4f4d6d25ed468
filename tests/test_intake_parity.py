"""Refuse at submit what the worker would refuse: requests that the PKI core refuses when
it signs are generated from the PKI layer's own bounds (subject lengths, the country list,
usages impossible for the key), the PKI layer is shown to refuse each, and then each is
sent through the wizard, the CSR upload, the couriers' API (with a CSR, and as JSON for
a platform-made key) and — for what an ACME client controls (names, the CSR's subject) —
the ACME server. Every channel refuses it at intake with the same code, and no order
row is written."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from app.models import Order
from app.pki.ca import create_root_certificate
from app.pki.errors import PkiError
from app.pki.keys import generate_private_key
from app.pki.leaf import LeafProfile, issue_leaf
from app.pki.subject import SubjectFields
from app.standards import SUBJECT_MAX_LENGTH
from tests.acme.helpers import Client, b64, make_account, make_acme_server
from tests.api.conftest import API, bearer, make_courier, token_for
from tests.builders import add_domain, count, issuing_ca
from tests.conftest import login, make_user, post

# cryptography warns when it reads or builds a CN over 64 characters: that is the point here.
pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")

USER = "intake@example.com"
CODE = re.compile(r'data-code="([a-z_.]+)"')
GOOD_CN = "www.example.com"
_OIDS = {"organization": NameOID.ORGANIZATION_NAME,
         "organizational_unit": NameOID.ORGANIZATIONAL_UNIT_NAME,
         "country": NameOID.COUNTRY_NAME, "state": NameOID.STATE_OR_PROVINCE_NAME,
         "locality": NameOID.LOCALITY_NAME}


@dataclass(frozen=True)
class Refused:
    id: str
    code: str
    common_name: str = GOOD_CN
    subject: dict[str, str] = field(default_factory=dict)
    algorithm: str = "ec-256"
    key_usage: tuple[str, ...] = ("digitalSignature",)
    extended_key_usage: tuple[str, ...] = ("serverAuth",)


def _long_dns_name(length: int) -> str:
    """A valid DNS name under example.com of exactly ``length`` characters."""
    labels, left = [], length - len(".example.com")
    while left > 0:
        label = min(left, 63)
        if 0 < left - label < 2:          # keep room for "x." of the next label
            label -= 2
        labels.append("a" * label)
        left -= label + 1
    name = ".".join(labels) + ".example.com"
    assert len(name) == length, name
    return name


def generated_cases() -> list[Refused]:
    """One request past each bound the PKI layer enforces, plus the country list and the
    usages a key cannot have."""
    cases = [Refused("cn over its bound", "subject.too_long",
                     common_name=_long_dns_name(SUBJECT_MAX_LENGTH["common_name"] + 1))]
    for name, limit in SUBJECT_MAX_LENGTH.items():
        if name != "common_name":
            cases.append(Refused(f"{name} over its bound", "subject.too_long",
                                 subject={name: "x" * (limit + 1)}))
    cases += [
        Refused("country not in ISO 3166-1", "subject.country_unknown",
                subject={"country": "ZZ"}),
        Refused("RSA key with keyAgreement", "key_usage.rsa_agreement", algorithm="rsa-2048",
                key_usage=("digitalSignature", "keyAgreement")),
        Refused("timeStamping with another purpose",
                "extended_key_usage.time_stamping_exclusive",
                # Not serverAuth: the TLS profile would add its own refusal.
                extended_key_usage=("clientAuth", "timeStamping")),
        # The TLS server profile (app/standards/tls_profile.py), refused at signing too.
        Refused("serverAuth with codeSigning", "tls.extended_key_usage",
                extended_key_usage=("serverAuth", "codeSigning")),
        Refused("serverAuth without digitalSignature", "tls.digital_signature",
                algorithm="rsa-2048", key_usage=("keyEncipherment",)),
        Refused("serverAuth with nonRepudiation", "tls.key_usage",
                key_usage=("digitalSignature", "nonRepudiation")),
    ]
    return cases


CASES = generated_cases()


@pytest.fixture(scope="module")
def signer():
    key = generate_private_key("ec-256")
    return create_root_certificate(SubjectFields("Parity Test CA"), key, "sha256", 30), key


def test_the_pki_layer_refuses_every_generated_request(signer) -> None:
    """The premise: each case really is one the worker's signing step would refuse."""
    ca_cert, ca_key = signer
    for case in CASES:
        with pytest.raises(PkiError):
            profile = LeafProfile(
                subject=SubjectFields(common_name=case.common_name, **case.subject),
                dns_names=(case.common_name,), key_usage=case.key_usage,
                extended_key_usage=case.extended_key_usage)
            issue_leaf(profile, generate_private_key(case.algorithm).public_key(),
                       ca_cert, ca_key)


@pytest.fixture
def world(app, jobs):
    add_domain(app, "example.com")
    issuer = issuing_ca(app, jobs)
    make_user(app, USER, role="user", domains=("example.com",))
    return issuer


def _options(case: Refused) -> dict:
    return {"validity_days": "90", "digest": "sha256", "key_usage": list(case.key_usage),
            "extended_key_usage": list(case.extended_key_usage)}


def _codes(response) -> set[str]:
    return set(CODE.findall(response.get_data(as_text=True)))


def through_wizard(app, case: Refused, issuer: str) -> set[str]:
    client = app.test_client()
    login(client, USER)
    draft = re.search(r"/request/([0-9a-f-]{36})/", client.get("/request/")
                      .headers["Location"]).group(1)
    steps = [("names", {"common_name": case.common_name}), ("subject", dict(case.subject)),
             ("crypto", {"issuer_id": issuer, "algorithm": case.algorithm, **_options(case)})]
    for step, values in steps:
        response = post(client, f"/request/{draft}/{step}", {**values, "nav": "next"})
        if response.status_code != 303:
            assert response.status_code == 422, (case.id, step, response.status_code)
            return _codes(response)
    response = post(client, f"/request/{draft}/review", {"nav": "submit"})
    assert response.status_code == 422, (case.id, "review", response.status_code)
    return _codes(response)


def _csr(case: Refused) -> str:
    key = generate_private_key(case.algorithm)
    attributes = [x509.NameAttribute(_OIDS[k], v) for k, v in case.subject.items()]
    # _validate=False: the CSR is the requester's; cryptography would refuse a CN > 64.
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, case.common_name,
                                         _validate=False))
    from cryptography.hazmat.primitives import hashes

    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name(attributes))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(case.common_name)]),
                          critical=False)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(Encoding.PEM).decode()


def through_csr_upload(app, case: Refused, issuer: str) -> set[str]:
    client = app.test_client()
    login(client, USER)
    response = post(client, "/request/csr", {"csr": _csr(case), "options": "1",
                                             "nav": "submit", "issuer_id": issuer,
                                             **_options(case)})
    assert response.status_code == 422, case.id
    return _codes(response)


def _api(app, courier, body: dict) -> set[str]:
    client = app.test_client()
    response = client.post(f"{API}/certificates", headers=bearer(token_for(client, courier)),
                           json=body)
    assert response.status_code == 422, response.get_json()
    return {d["code"] for d in response.get_json()["error"]["details"]}


def _api_options(case: Refused) -> dict:
    return {"digest": "sha256", "validity_days": 90, "key_usage": list(case.key_usage),
            "extended_key_usage": list(case.extended_key_usage)}


def through_api_csr(app, case: Refused, courier) -> set[str]:
    return _api(app, courier, {"csr": _csr(case), **_api_options(case)})


def through_acme(app, case: Refused, issuer: str) -> set[str]:
    """The ACME server decides usages itself (its profile), so only the requester's own
    values reach it: the names at newOrder, the CSR's subject at finalize."""
    server = make_acme_server(app, issuer, name="Intake ACME")
    _, kid, hmac_key = make_account(app, server, "intake", ["example.com:subdomains"])
    client = Client(app.test_client(), server)
    assert client.register(kid, hmac_key).status_code == 201
    response = client.new_order(case.common_name)
    if response.status_code == 201:
        der = x509.load_pem_x509_csr(_csr(case).encode()).public_bytes(Encoding.DER)
        response = client.post(response.get_json()["finalize"], {"csr": b64(der)})
    assert response.mimetype == "application/problem+json", (case.id, response.get_json())
    return {v["code"] for v in response.get_json()["violations"]}


def through_api_json(app, case: Refused, courier) -> set[str]:
    body = {"common_name": case.common_name, "algorithm": case.algorithm,
            **_api_options(case)}
    if case.subject:
        body["subject"] = dict(case.subject)
    return _api(app, courier, body)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_what_the_pki_layer_refuses_is_refused_at_intake_on_every_channel(
        app, world, case: Refused) -> None:
    courier = make_courier(app, "intake-courier", domains=("example.com",))
    codes = {
        "wizard": through_wizard(app, case, world),
        "csr upload": through_csr_upload(app, case, world),
        "api (csr)": through_api_csr(app, case, courier),
        "api (json)": through_api_json(app, case, courier),
    }
    if case.key_usage == Refused("", "").key_usage \
            and case.extended_key_usage == Refused("", "").extended_key_usage:
        codes["acme"] = through_acme(app, case, world)
    for channel, found in codes.items():
        assert found == {case.code}, (channel, found)
    assert count(app, Order) == 0

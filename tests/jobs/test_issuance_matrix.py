"""The auditor's matrix: every leaf algorithm × every digest an issuer may sign with ×
every channel (wizard, CSR upload, couriers' API), issued by the real worker. Every leaf
and CA passes `openssl verify -x509_strict` and pkilint with only the findings of the
allow-list (app/pki/lint_allowlist.py) — and an ECDSA issuer only ever signs with its
curve's hash."""
from __future__ import annotations

import uuid
from functools import cache

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, CertificateAuthority, Order, User
from app.pki.algorithms import ALGORITHMS, DIGESTS
from app.pki.csr import build_csr
from app.pki.keys import generate_private_key
from app.pki.lint_allowlist import allowed_entry
from app.services.intake import parse_csr_input, request_from_csr, request_from_values
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from app.standards.tls_profile import required_digest_for_algorithm
from tests.api.conftest import API, bearer, make_courier, token_for
from tests.builders import add_domain
from tests.conftest import make_user
from tests.pki.tooling import lint_cabf_serverauth_cert, lint_pkix_cert, openssl, write_pem

# No organization in the subject here: the subject is the requester's choice, and the
# OV/DV choice of the CABF rules is covered by tests/pki/test_leaf.py.
KEY_USAGE = {"rsa": ["digitalSignature", "keyEncipherment"], "ec": ["digitalSignature"]}
ISSUER_ALGORITHMS = ("rsa-2048", "ec-256", "ec-384", "ec-521")
CHANNELS = ("wizard", "csr upload", "courier api")


@cache
def _client_key(algorithm: str):  # type: ignore[no-untyped-def]
    return generate_private_key(algorithm)


def _pairs() -> list[tuple[str, str]]:
    return [(a, d) for a in ISSUER_ALGORITHMS for d in DIGESTS
            if required_digest_for_algorithm(a) in (None, d)]


def _make_cas(app, jobs) -> dict[str, str]:
    from app.services import pki

    with app.app_context():
        root = pki.request_root(pki.CAParameters(
            common_name="Matrix Root", organization="Matrix", country="DE"))
        root_id = root.id
    jobs()
    ids = {}
    with app.app_context():
        for algorithm in ISSUER_ALGORITHMS:
            ca = pki.request_intermediate(pki.CAParameters(
                common_name=f"Matrix Issuing {algorithm}", organization="Matrix",
                country="DE", algorithm=algorithm, validity_days=730), root_id)
            ids[algorithm] = str(ca.id)
    jobs()
    return ids


def _not_allowed(findings) -> set[str]:
    return {code for _, code, _ in findings if allowed_entry(code) is None}


def test_every_algorithm_digest_and_channel_issues_a_valid_certificate(
        app, jobs, tmp_path) -> None:
    add_domain(app, "example.com")
    make_user(app)
    issuers = _make_cas(app, jobs)
    courier = make_courier(app, "matrix-courier", domains=("example.com",))
    client = app.test_client()
    token = token_for(client, courier)
    ids = {}
    for issuer_algorithm, digest in _pairs():
        for algorithm in ALGORITHMS:
            for channel in CHANNELS:
                tag = (algorithm, issuer_algorithm, digest, channel)
                cn = f"{algorithm}-{issuer_algorithm}-{digest}-{channel.split()[0]}.example.com"
                options = {"digest": digest, "validity_days": "90",
                           "key_usage": KEY_USAGE[algorithm.split("-")[0]],
                           "extended_key_usage": ["serverAuth", "clientAuth"],
                           "issuer_id": issuers[issuer_algorithm]}
                csr = build_csr(_client_key(algorithm), cn, (cn, "alt.example.com")) \
                    .public_bytes(Encoding.PEM).decode()
                if channel == "courier api":
                    response = client.post(f"{API}/certificates", headers=bearer(token),
                                           json={"csr": csr, **options,
                                                 "validity_days": 90})
                    assert response.status_code == 202, (tag, response.get_json())
                    ids[tag] = uuid.UUID(response.get_json()["order_id"])
                    continue
                with app.app_context():
                    user = db.session.scalar(select(User))
                    if channel == "wizard":
                        request, problems = request_from_values({
                            "common_name": cn, "sans": ["alt.example.com"],
                            "algorithm": algorithm, **options})
                    else:
                        parsed, problems = parse_csr_input(csr)
                        assert parsed is not None, problems
                        request, problems = request_from_csr(parsed, options)
                    assert problems == [], tag
                    order, _ = submit_order(
                        request, requester_for_user(user),
                        pathway="wizard" if channel == "wizard" else "csr_upload",
                        request_key=f"m:{uuid.uuid4()}",
                        csr_pem=None if channel == "wizard" else csr)
                    ids[tag] = order.id
    jobs()
    with app.app_context():
        cas = {str(ca.id): ca for ca in db.session.scalars(select(CertificateAuthority))}
        root = next(ca for ca in cas.values() if ca.kind == "root")
        root_pem = tmp_path / "root.pem"
        root_pem.write_text(root.certificate_pem)
        for ca in cas.values():  # every CA: strict verification and a clean RFC 5280 lint
            cert = x509.load_pem_x509_certificate(ca.certificate_pem.encode())
            result = openssl("verify", "-x509_strict", "-CAfile", str(root_pem),
                             str(write_pem(tmp_path / "ca.pem", cert)))
            assert result.returncode == 0, (ca.common_name, result.stderr)
            assert lint_pkix_cert(cert) == [], ca.common_name
            # Every CA here is signed by the root's key: its curve's hash.
            assert cert.signature_hash_algorithm.name == \
                required_digest_for_algorithm(root.algorithm)
        assert len(ids) == len(_pairs()) * len(ALGORITHMS) * len(CHANNELS)
        for tag, order_id in ids.items():
            order = db.session.get(Order, order_id)
            assert order.status == "complete", (tag, order.error)
            row = db.session.scalar(select(Certificate).where(Certificate.order_id == order_id))
            cert = x509.load_pem_x509_certificate(row.certificate_pem.encode())
            chain = x509.load_pem_x509_certificates(row.chain_pem.encode())
            algorithm, issuer_algorithm, digest, _ = tag
            assert cert.signature_hash_algorithm.name == digest, tag
            assert row.algorithm == algorithm, tag
            assert chain[0].public_key().public_numbers() == \
                x509.load_pem_x509_certificate(
                    cas[str(row.issuer_ca_id)].certificate_pem.encode()
                ).public_key().public_numbers()
            assert cas[str(row.issuer_ca_id)].algorithm == issuer_algorithm, tag
            result = openssl("verify", "-x509_strict", "-purpose", "sslserver",
                             "-CAfile", str(root_pem),
                             "-untrusted", str(write_pem(tmp_path / "chain.pem", *chain)),
                             str(write_pem(tmp_path / "leaf.pem", cert)))
            assert result.returncode == 0, (tag, result.stderr)
            # Only allow-listed findings, under both linters.
            assert _not_allowed(lint_pkix_cert(cert)) == set(), tag
            assert _not_allowed(lint_cabf_serverauth_cert(cert)) == set(), tag


@pytest.mark.parametrize("algorithm", ["ec-256", "rsa-2048"])
def test_issued_key_matches_the_certificate_and_is_encrypted(app, jobs, algorithm) -> None:
    from app.pki.keys import load_private_key_pem, same_public_key
    from app.services.key_bindings import certificate_key_binding
    from app.services.keyring import load_keyring
    from tests.builders import issuing_ca

    add_domain(app, "example.com")
    make_user(app)
    issuer = issuing_ca(app, jobs)
    with app.app_context():
        user = db.session.scalar(select(User))
        request, _ = request_from_values({
            "common_name": "key.example.com", "algorithm": algorithm, "digest": "sha256",
            "validity_days": "30", "key_usage": ["digitalSignature"],
            "extended_key_usage": ["serverAuth"], "issuer_id": issuer})
        order, _ = submit_order(request, requester_for_user(user), pathway="wizard",
                                request_key="k")
        order_id = order.id
    jobs()
    with app.app_context():
        row = db.session.scalar(select(Certificate).where(Certificate.order_id == order_id))
        key = load_private_key_pem(load_keyring().decrypt(row.encrypted_private_key,
                                                          certificate_key_binding(row.id)))
        cert = x509.load_pem_x509_certificate(row.certificate_pem.encode())
        assert same_public_key(key, cert.public_key())


def test_an_ecdsa_issuer_refuses_another_digest_at_intake(app, jobs) -> None:
    add_domain(app, "example.com")
    make_user(app)
    issuers = _make_cas(app, jobs)
    with app.app_context():
        from app.services.intake import assess

        user = db.session.scalar(select(User))
        for algorithm, wrong in (("ec-256", "sha384"), ("ec-384", "sha256"),
                                 ("ec-521", "sha384")):
            request, _ = request_from_values({
                "common_name": "www.example.com", "algorithm": "ec-256", "digest": wrong,
                "validity_days": "30", "key_usage": ["digitalSignature"],
                "extended_key_usage": ["serverAuth"], "issuer_id": issuers[algorithm]})
            codes = {v.code for v in assess(request, requester_for_user(user)).hard}
            assert codes == {"digest.issuer_curve"}, (algorithm, codes)

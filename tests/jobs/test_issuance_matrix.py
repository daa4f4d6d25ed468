"""Every algorithm × digest through the real issuance job: the certificates verify with
`openssl verify` against their chain and lint clean with pkilint."""
from __future__ import annotations

import uuid

import pytest
from cryptography import x509
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, CertificateAuthority, Order, User
from app.pki.algorithms import ALGORITHMS, DIGESTS
from app.services.intake import request_from_values
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from tests.builders import add_domain, issuing_ca
from tests.conftest import make_user
from tests.pki.test_leaf import CABF_ALLOWED_ERRORS
from tests.pki.tooling import lint_cabf_serverauth_cert, lint_pkix_cert, openssl, write_pem

# No organization in the subject here: a private-CA leaf asserts no CA/B Forum policy OID,
# so pkilint's CABF linter classifies it as DV, where an O attribute is an error
# (cabf.serverauth.dv.unknown_attribute_present). Subject attributes are the requester's
# choice (or a policy's), and the RFC 5280 lint below covers them.
KEY_USAGE = {"rsa": ["digitalSignature", "keyEncipherment"], "ec": ["digitalSignature"]}


def test_every_algorithm_and_digest_issues_a_valid_certificate(app, jobs, tmp_path) -> None:
    add_domain(app, "example.com")
    make_user(app)
    issuer = issuing_ca(app, jobs)
    ids = {}
    with app.app_context():
        user = db.session.scalar(select(User))
        for algorithm in ALGORITHMS:
            for digest in DIGESTS:
                request, problems = request_from_values({
                    "common_name": f"{algorithm}-{digest}.example.com",
                    "sans": ["alt.example.com"],
                    "algorithm": algorithm, "digest": digest, "validity_days": "90",
                    "key_usage": KEY_USAGE[algorithm.split("-")[0]],
                    "extended_key_usage": ["serverAuth", "clientAuth"], "issuer_id": issuer})
                assert problems == []
                order, _ = submit_order(request, requester_for_user(user), pathway="wizard",
                                        request_key=f"m:{uuid.uuid4()}")
                ids[(algorithm, digest)] = order.id
    jobs()
    with app.app_context():
        root = db.session.scalar(select(CertificateAuthority).where(
            CertificateAuthority.kind == "root"))
        root_pem = tmp_path / "root.pem"
        root_pem.write_text(root.certificate_pem)
        for (algorithm, digest), order_id in ids.items():
            order = db.session.get(Order, order_id)
            assert order.status == "complete", (algorithm, digest, order.error)
            row = db.session.scalar(select(Certificate).where(Certificate.order_id == order_id))
            cert = x509.load_pem_x509_certificate(row.certificate_pem.encode())
            chain = x509.load_pem_x509_certificates(row.chain_pem.encode())
            assert cert.signature_hash_algorithm.name == digest
            assert row.algorithm == algorithm
            leaf = write_pem(tmp_path / "leaf.pem", cert)
            untrusted = write_pem(tmp_path / "chain.pem", *chain)
            result = openssl("verify", "-x509_strict", "-CAfile", str(root_pem),
                             "-untrusted", str(untrusted), str(leaf))
            assert result.returncode == 0, (algorithm, digest, result.stderr)
            assert lint_pkix_cert(cert) == [], (algorithm, digest)
            errors = {code for severity, code, _ in lint_cabf_serverauth_cert(cert)}
            assert errors <= CABF_ALLOWED_ERRORS, (algorithm, digest, errors)


@pytest.mark.parametrize("algorithm", ["ec-256", "rsa-2048"])
def test_issued_key_matches_the_certificate_and_is_encrypted(app, jobs, algorithm) -> None:
    from app.pki.keys import load_private_key_pem, same_public_key
    from app.services.key_bindings import certificate_key_binding
    from app.services.keyring import load_keyring

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

"""Discovery import through the service: bundles, DER, PKCS#7, keys refused, garbage."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Certificate
from app.services import discovery_import
from app.services.errors import ValidationFailed
from tests.discovery.certs import key_pem, make_cert, new_pki, pem


@pytest.fixture(scope="module")
def pki():
    return new_pki()


def _rows():
    return db.session.scalars(select(Certificate).order_by(Certificate.common_name)).all()


def test_a_bundle_with_duplicates_adds_each_certificate_once_and_keeps_the_chain(ctx, pki):
    a, _ = pki.leaf("a.example.test")
    b, _ = pki.leaf("b.example.test")
    bundle = pem(a, pki.inter, b, a, pki.inter, pki.root)

    results = discovery_import.import_certificates(bundle)

    assert [(r.position, r.status) for r in results] == [
        (1, "added"), (2, "chain"), (3, "added"), (4, "known"), (5, "known"), (6, "chain")]
    assert "earlier in this upload" in results[3].reason
    assert "a.example.test" in results[1].reason
    rows = _rows()
    assert [r.common_name for r in rows] == ["a.example.test", "b.example.test"]
    first = rows[0]
    assert first.source == "discovered"
    assert first.sans == ["a.example.test"]
    assert first.algorithm == "ec-256" and first.digest == "sha256"
    assert first.issuer_dn == pki.inter.subject.rfc4514_string()
    assert first.provider == "Discovery Test"
    assert first.not_after == a.not_valid_after_utc
    assert first.chain_pem.encode() == pem(pki.inter, pki.root)
    assert first.owner_user_id is None

    again = discovery_import.import_certificates(pem(a))
    assert [(r.status, r.certificate_id) for r in again] == [("known", str(first.id))]
    assert len(_rows()) == 2


def test_pkcs7_pem_and_der_are_read(ctx, pki):
    c, _ = pki.leaf("p7.example.test")
    der = pkcs7.serialize_certificates([c, pki.inter], serialization.Encoding.DER)
    results = discovery_import.import_certificates(der)
    # A PKCS#7 SET is sorted by its DER encoding, so the order is the file's, not ours.
    assert sorted((r.common_name, r.status) for r in results) == [
        ("Discovery Test Issuing", "chain"), ("p7.example.test", "added")]
    p7_pem = pkcs7.serialize_certificates([pki.leaf("p7b.example.test")[0]],
                                          serialization.Encoding.PEM)
    assert b"BEGIN PKCS7" in p7_pem
    assert [r.status for r in discovery_import.import_certificates(p7_pem)] == ["added"]
    assert {r.common_name for r in _rows()} == {"p7.example.test", "p7b.example.test"}


def test_a_der_certificate_is_read(ctx, pki):
    c, _ = pki.leaf("der.example.test")
    results = discovery_import.import_certificates(c.public_bytes(serialization.Encoding.DER))
    assert [(r.status, r.common_name) for r in results] == [("added", "der.example.test")]
    assert _rows()[0].chain_pem == ""


@pytest.mark.parametrize("variant", ["pem-key-after", "pem-rsa-label", "der-key", "pfx"])
def test_an_upload_with_a_private_key_is_refused_and_nothing_is_stored(ctx, pki, variant):
    c, key = pki.leaf("keyed.example.test")
    data = {
        "pem-key-after": pem(c, pki.inter) + key_pem(key),
        "pem-rsa-label": pem(c) + b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n"
                         b"-----END EC PRIVATE KEY-----\n",
        "der-key": key.private_bytes(serialization.Encoding.DER,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()),
        "pfx": pkcs12.serialize_key_and_certificates(
            b"x", key, c, None, serialization.BestAvailableEncryption(b"secret")),
    }[variant]
    with pytest.raises(ValidationFailed) as caught:
        discovery_import.import_certificates(data)
    assert caught.value.code == "discovery.private_key"
    assert "private key" in caught.value.message and "nothing" in caught.value.message
    db.session.rollback()
    assert _rows() == []
    assert db.session.scalar(select(AuditEvent.id)) is None


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"\x00\x01garbage bytes that are nothing", "not a certificate"),
    (b"-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n", "no complete"),
    (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "damaged"),
    (b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
     "not a certificate"),
])
def test_garbage_gets_a_clear_error_and_writes_nothing(ctx, data, words):
    with pytest.raises(ValidationFailed) as caught:
        discovery_import.import_certificates(data)
    assert caught.value.code == "discovery.not_certificates"
    assert words in caught.value.message
    assert _rows() == []


def test_a_damaged_block_among_good_ones_is_refused_alone(ctx, pki):
    c, _ = pki.leaf("mixed.example.test")
    data = pem(c) + b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    results = discovery_import.import_certificates(data)
    assert [r.status for r in results] == ["added", "refused"]
    assert "damaged" in results[1].reason
    assert [r.common_name for r in _rows()] == ["mixed.example.test"]


def test_importing_an_expired_or_self_signed_certificate_keeps_it(ctx):
    old, _ = make_cert("old.example.test", not_before=datetime.now(UTC) - timedelta(days=400),
                       days=30)
    results = discovery_import.import_certificates(pem(old))
    assert results[0].status == "added"
    assert _rows()[0].status == "expired"


def test_oversize_uploads_are_refused(ctx):
    with pytest.raises(ValidationFailed) as caught:
        discovery_import.import_certificates(b"-" * (discovery_import.MAX_IMPORT_BYTES + 1))
    assert caught.value.code == "discovery.too_large"


def test_importing_a_certificate_the_platform_issued_changes_nothing(app, jobs):
    """De-duplicated by fingerprint: the managed row stays as it was (source, owner,
    key, order), and no second row appears."""
    import uuid

    from sqlalchemy import func

    from tests.builders import owned_leaf

    _, leaf_id = owned_leaf(app, jobs)
    with app.app_context():
        cert = db.session.get(Certificate, uuid.UUID(leaf_id))
        columns = [c.name for c in Certificate.__table__.columns]
        before = {name: getattr(cert, name) for name in columns}
        upload = (cert.certificate_pem + cert.chain_pem).encode()
        results = discovery_import.import_certificates(upload)
        assert (results[0].status, results[0].certificate_id) == ("known", leaf_id)
        assert {r.status for r in results[1:]} == {"chain"}
        db.session.expire_all()
        cert = db.session.get(Certificate, uuid.UUID(leaf_id))
        assert {name: getattr(cert, name) for name in columns} == before
        assert cert.source == "managed"
        assert db.session.scalar(select(func.count(Certificate.id))) == 1

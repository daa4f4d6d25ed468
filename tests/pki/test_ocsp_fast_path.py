"""The OCSP fast path (``app/web/ocsp_fast_path.py``): answers from the responses the
worker put in Redis, the same bytes and headers as the database path, a revocation
visible at once, and the database path whenever Redis cannot answer."""
from __future__ import annotations

import base64
import urllib.parse
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from sqlalchemy import delete
from werkzeug.test import Client

from app.extensions import db
from app.models import Certificate, CertificateAuthority, OcspResponse
from app.services import ocsp_cache, revocation
from app.web.ocsp_fast_path import OcspFastPath
from tests.builders import owned_leaf

SAME_HEADERS = ("Content-Type", "Content-Length", "Expires", "Last-Modified", "ETag",
                "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options")


@pytest.fixture
def leaf(app, jobs) -> dict[str, object]:
    inter_id, leaf_id = owned_leaf(app, jobs)
    with app.app_context():
        inter = db.session.get(CertificateAuthority, uuid.UUID(inter_id))
        cert = db.session.get(Certificate, uuid.UUID(leaf_id))
        issuer = x509.load_pem_x509_certificate(inter.certificate_pem.encode())
        subject = x509.load_pem_x509_certificate(cert.certificate_pem.encode())
    der = ocsp.OCSPRequestBuilder().add_certificate(subject, issuer, hashes.SHA1()).build() \
        .public_bytes(serialization.Encoding.DER)
    return {"id": leaf_id, "inter": uuid.UUID(inter_id), "serial": subject.serial_number,
            "request": der,
            "get": "/pki/ocsp/" + urllib.parse.quote(base64.b64encode(der).decode(), safe="")}


def _status(body: bytes) -> ocsp.OCSPCertStatus:
    return ocsp.load_der_ocsp_response(body).certificate_status


def _cache_key(leaf) -> str:
    return ocsp_cache.key(leaf["inter"], format(leaf["serial"], "x"))


def test_answers_from_redis_with_the_database_paths_bytes_and_headers(app, client,
                                                                       leaf) -> None:
    redis = ocsp_cache.client(app.config["REDIS_URL"])
    assert redis.exists(_cache_key(leaf))                   # the worker cached it
    client.get(leaf["get"])                                 # builds the issuer index
    fast = client.get(leaf["get"])
    posted = client.post("/pki/ocsp", data=leaf["request"],
                         content_type="application/ocsp-request")
    redis.delete(_cache_key(leaf))                          # now only the database has it
    slow = client.get(leaf["get"])
    for answer in (fast, posted, slow):
        assert answer.status_code == 200 and _status(answer.data) == ocsp.OCSPCertStatus.GOOD
    assert fast.data == posted.data == slow.data
    for name in SAME_HEADERS:
        assert fast.headers.get(name) == slow.headers.get(name), name
    assert fast.headers["Cache-Control"].startswith("public, max-age=")
    assert "Set-Cookie" not in fast.headers and "Strict-Transport-Security" not in fast.headers


def test_the_fast_path_really_answers_from_redis(app, client, leaf) -> None:
    """With the database row gone, Redis still answers; with both gone, unauthorized."""
    client.get(leaf["get"])
    with app.app_context():
        db.session.execute(delete(OcspResponse).where(
            OcspResponse.issuer_ca_id == leaf["inter"]))
        db.session.commit()
    assert _status(client.get(leaf["get"]).data) == ocsp.OCSPCertStatus.GOOD
    ocsp_cache.client(app.config["REDIS_URL"]).delete(_cache_key(leaf))
    gone = ocsp.load_der_ocsp_response(client.get(leaf["get"]).data)
    assert gone.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_a_revocation_is_served_at_once(app, jobs, client, leaf) -> None:
    client.get(leaf["get"])
    with app.app_context():
        cert = db.session.get(Certificate, uuid.UUID(leaf["id"]))
        revocation.revoke_certificate(cert, "keyCompromise")
    jobs()
    answer = ocsp.load_der_ocsp_response(client.get(leaf["get"]).data)
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason == x509.ReasonFlags.key_compromise
    cached = ocsp_cache.unpack(ocsp_cache.client(app.config["REDIS_URL"]).get(
        _cache_key(leaf)))
    assert _status(cached.der) == ocsp.OCSPCertStatus.REVOKED


def test_redis_unreachable_falls_back_to_the_database(app, client, leaf) -> None:
    client.get(leaf["get"])
    unreachable = OcspFastPath(app.wsgi_app.wsgi_app, "redis://127.0.0.1:9/0")
    answer = Client(unreachable).get(leaf["get"])
    assert answer.status_code == 200 and _status(answer.data) == ocsp.OCSPCertStatus.GOOD
    posted = Client(unreachable).post("/pki/ocsp", data=leaf["request"],
                                      content_type="application/ocsp-request")
    assert _status(posted.data) == ocsp.OCSPCertStatus.GOOD   # the body was put back


def test_a_revocation_the_cache_cannot_forget_is_not_committed(app, jobs, leaf) -> None:
    """Were the stale ``good`` left in Redis it would outlive the revocation: the batch
    fails before its commit instead (the job is retried)."""
    from redis.exceptions import RedisError

    from app.services import revocation_publishing as publishing

    with app.app_context():
        app.config["REDIS_URL"], url = "redis://127.0.0.1:9/0", app.config["REDIS_URL"]
        try:
            ca = db.session.get(CertificateAuthority, leaf["inter"])
            signing = publishing._signing(ca)
            signer = publishing.signer_for(signing.certificate, signing.key, ca.digest)
            subject = publishing._Subject(format(leaf["serial"], "x"), True,
                                          publishing._now(), "keyCompromise")
            with pytest.raises(RedisError):
                publishing._sign_batch(signing, signer, [subject], publishing._now())
            db.session.rollback()
        finally:
            app.config["REDIS_URL"] = url
        row = db.session.scalar(db.select(OcspResponse).where(
            OcspResponse.issuer_ca_id == leaf["inter"]))
        assert row.cert_status == "good"

"""Lint before signing: a certificate pkilint objects to is refused before the CA key signs
it (the order fails with the finding, no certificate row, its serial nowhere), and every
allow-list entry is still needed."""
from __future__ import annotations

import dataclasses
import uuid

import pytest
from cryptography import x509
from sqlalchemy import inspect, select, text

from app.extensions import db
from app.models import Certificate, CertificateAuthority, Order, User
from app.pki import lint as lint_module
from app.pki.keys import load_private_key_pem, same_public_key
from app.pki.lint_allowlist import ALLOWED, allowed_entry
from app.services.intake import request_from_values
from app.services.key_bindings import ca_key_binding
from app.services.keyring import load_keyring
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from tests.builders import add_domain, issuing_ca
from tests.conftest import make_user


def _submit(app, issuer: str) -> uuid.UUID:
    with app.app_context():
        user = db.session.scalar(select(User))
        request, problems = request_from_values({
            "common_name": "www.example.com", "algorithm": "ec-256", "digest": "sha256",
            "validity_days": "90", "key_usage": ["digitalSignature"],
            "extended_key_usage": ["serverAuth"], "issuer_id": issuer})
        assert problems == []
        order, _ = submit_order(request, requester_for_user(user), pathway="wizard",
                                request_key=f"lint:{uuid.uuid4()}")
        return order.id


def _every_text_in_the_database() -> str:
    """Every row of every table as text (what a search for the serial would look at)."""
    dump = []
    for table in inspect(db.engine).get_table_names():
        for row in db.session.execute(text(f'SELECT * FROM "{table}"')):
            dump.append(" ".join(str(value) for value in row))
    return "\n".join(dump).lower()


def test_a_profile_forced_to_produce_a_finding_is_refused_before_signing(
        app, jobs, monkeypatch, caplog) -> None:
    add_domain(app, "example.com")
    make_user(app)
    issuer = issuing_ca(app, jobs)
    with app.app_context():
        ca = db.session.get(CertificateAuthority, uuid.UUID(issuer))
        issuer_key = load_private_key_pem(load_keyring().decrypt(
            ca.encrypted_private_key, ca_key_binding(ca.id)))

    # The test profile: every leaf also names "bad_host.example.com", which the PKI core
    # accepts (printable ASCII) but is no valid host name (pkilint: non-LDH label).
    import app.providers.local_pki as local_pki

    real_profile = local_pki.LeafProfile

    def forced_profile(**kwargs):
        profile = real_profile(**kwargs)
        return dataclasses.replace(profile, dns_names=(*profile.dns_names,
                                                       "bad_host.example.com"))

    monkeypatch.setattr(local_pki, "LeafProfile", forced_profile)
    rehearsed: list[x509.Certificate] = []
    real_lint = lint_module.lint_certificate
    monkeypatch.setattr(lint_module, "lint_certificate",
                        lambda cert, **kw: rehearsed.append(cert) or real_lint(cert, **kw))
    signers: list[object] = []
    real_sign = x509.CertificateBuilder.sign
    monkeypatch.setattr(x509.CertificateBuilder, "sign",
                        lambda self, key, *a, **kw: signers.append(key)
                        or real_sign(self, key, *a, **kw))

    order_id = _submit(app, issuer)
    jobs()

    assert len(rehearsed) == 1
    serial = rehearsed[0].serial_number
    # The CA key signed nothing: the only signature was the throwaway key's rehearsal.
    assert not any(same_public_key(key, issuer_key) for key in signers)
    assert len(signers) == 1
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.status == "failed"
        assert "was not signed" in order.error
        assert "cabf.serverauth.invalid_dnsname_syntax" in order.error
        assert [f["code"] for f in order.lint_findings] == [
            "cabf.serverauth.invalid_dnsname_syntax"]
        assert db.session.scalar(select(Certificate.id)) is None
        dump = _every_text_in_the_database()
    for spelling in (format(serial, "x"), format(serial, "X").lower(), str(serial),
                     ":".join(f"{b:02x}" for b in serial.to_bytes(20, "big").lstrip(b"\0"))):
        assert spelling not in dump
        assert spelling not in caplog.text.lower()


def test_a_clean_profile_is_linted_and_signed(app, jobs, monkeypatch) -> None:
    add_domain(app, "example.com")
    make_user(app)
    issuer = issuing_ca(app, jobs)
    rehearsed: list[x509.Certificate] = []
    real_lint = lint_module.lint_certificate
    monkeypatch.setattr(lint_module, "lint_certificate",
                        lambda cert, **kw: rehearsed.append(cert) or real_lint(cert, **kw))
    order_id = _submit(app, issuer)
    jobs()
    with app.app_context():
        row = db.session.scalar(select(Certificate).where(Certificate.order_id == order_id))
        issued = x509.load_pem_x509_certificate(row.certificate_pem.encode())
    # The rehearsal is the same certificate but for the signature.
    assert [c.tbs_certificate_bytes for c in rehearsed] == [issued.tbs_certificate_bytes]


def test_sample_mode_lints_one_signature_in_n(monkeypatch) -> None:
    from datetime import UTC, datetime, timedelta

    from cryptography.x509.oid import NameOID

    from app.pki.keys import generate_private_key

    calls = []
    monkeypatch.setattr(lint_module, "lint_certificate",
                        lambda cert, **kw: calls.append(cert) or [])
    key = generate_private_key("ec-256")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sample")])
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(1).not_valid_before(now)
               .not_valid_after(now + timedelta(days=1)))
    try:
        lint_module.configure("sample:4")
        assert lint_module.current_mode() == "sample:4"
        for _ in range(12):
            lint_module.lint_before_signing(builder, key, "sha256")
    finally:
        lint_module.configure("every")
    assert len(calls) == 3
    for _ in range(2):
        lint_module.lint_before_signing(builder, key, "sha256")
    assert len(calls) == 5


@pytest.mark.parametrize("text", ["", "sample:0", "sample:x", "some", "sample"])
def test_bad_lint_settings_stop_the_start(text) -> None:
    if text == "":
        assert lint_module.parse_mode(text) == 1
        return
    with pytest.raises(ValueError, match="LINT_BEFORE_SIGNING"):
        lint_module.parse_mode(text)


def test_every_allow_list_entry_has_a_reason() -> None:
    for code, entry in ALLOWED.items():
        assert entry.reason.endswith(".") and len(entry.reason) > 40, code
    assert allowed_entry("cabf.serverauth.certificate_validity_period_exceeds_199_days")
    assert allowed_entry("pkix.invalid_domain_name_syntax") is None


def _issuer(app, jobs) -> tuple[str, x509.Certificate, object, str]:
    add_domain(app, "example.com")
    make_user(app)
    issuer = issuing_ca(app, jobs)
    with app.app_context():
        ca = db.session.get(CertificateAuthority, uuid.UUID(issuer))
        key = load_private_key_pem(load_keyring().decrypt(
            ca.encrypted_private_key, ca_key_binding(ca.id)))
        return issuer, x509.load_pem_x509_certificate(ca.certificate_pem.encode()), key, \
            ca.digest


def test_revocation_pointers_are_required_once_they_are_served(app, jobs,
                                                               monkeypatch) -> None:
    """With PKI_BASE_URL (as in production) a leaf carries CRL DP + AIA and the
    "revocation information absent" findings are no longer allowed; only a certificate
    built without pointers because none are served may lack them."""
    import app.pki.issuance as pki_issuance
    from app.pki.lint_allowlist import WITHOUT_POINTERS
    from tests.pki.tooling import lint_cabf_serverauth_cert

    issuer, _, _, _ = _issuer(app, jobs)
    captured: list[tuple] = []
    real = pki_issuance.lint_before_signing

    def spy(builder, key, digest, **kwargs):
        captured.append((builder, key, digest, kwargs))
        return real(builder, key, digest, **kwargs)

    monkeypatch.setattr(pki_issuance, "lint_before_signing", spy)
    served = _submit(app, issuer)
    jobs()
    with app.app_context():
        row = db.session.scalar(select(Certificate).where(Certificate.order_id == served))
        cert = x509.load_pem_x509_certificate(row.certificate_pem.encode())
    cert.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    assert not {code for _, code, _ in lint_cabf_serverauth_cert(cert)} & set(WITHOUT_POINTERS)
    assert captured[-1][3] == {"without_pointers": False}
    for code in WITHOUT_POINTERS:
        assert allowed_entry(code) is None and code not in ALLOWED

    monkeypatch.setitem(app.config, "PKI_BASE_URL", "")
    bare = _submit(app, issuer)
    jobs()
    with app.app_context():
        assert db.session.get(Order, bare).status == "complete"
    builder, key, digest, kwargs = captured[-1]
    assert kwargs == {"without_pointers": True}
    with pytest.raises(lint_module.LintRefused) as refused:
        real(builder, key, digest)             # the same leaf, were pointers served
    assert {f.code for f in refused.value.findings} == set(WITHOUT_POINTERS)


def test_crls_and_ocsp_responses_are_linted_before_the_ca_key_signs(app, jobs,
                                                                    monkeypatch) -> None:
    from datetime import timedelta

    from cryptography.x509 import ocsp as x509_ocsp

    from app.models.base import utcnow
    from app.pki.crl import RevokedEntry, build_crl
    from app.pki.ocsp import sign_ocsp_response, signer_for

    _, ca_cert, key, digest = _issuer(app, jobs)
    now = utcnow().replace(microsecond=0)
    linted: list[bytes] = []
    real_crl, real_ocsp = lint_module.lint_crl, lint_module.lint_ocsp_response
    monkeypatch.setattr(lint_module, "lint_crl", lambda der: linted.append(der)
                        or real_crl(der))
    monkeypatch.setattr(lint_module, "lint_ocsp_response", lambda der: linted.append(der)
                        or real_ocsp(der))
    entries = [RevokedEntry(12345, now - timedelta(hours=1), "keyCompromise")]
    crl = build_crl(ca_cert, key, digest, entries, 7, now, now + timedelta(days=7))
    assert len(linted) == 1
    assert x509.load_der_x509_crl(linted[0]).tbs_certlist_bytes == crl.tbs_certlist_bytes
    signer = signer_for(ca_cert, key, digest)
    der = sign_ocsp_response(signer, 12345, "revoked", now, now + timedelta(days=4),
                             now - timedelta(hours=1), "keyCompromise")
    assert len(linted) == 2
    rehearsal, signed = (x509_ocsp.load_der_ocsp_response(d) for d in (linted[1], der))
    # The same answer; only the responder (a stand-in on the throwaway key) differs.
    for attribute in ("serial_number", "certificate_status", "revocation_reason",
                      "this_update_utc", "next_update_utc", "revocation_time_utc"):
        assert getattr(rehearsal, attribute) == getattr(signed, attribute), attribute
    assert signed.responder_key_hash != rehearsal.responder_key_hash

    forced = [lint_module.LintFinding("ERROR", "pkix.forced_for_test", "forced")]
    monkeypatch.setattr(lint_module, "lint_crl", lambda der: forced)
    monkeypatch.setattr(lint_module, "lint_ocsp_response", lambda der: forced)
    with pytest.raises(lint_module.LintRefused, match="The CRL was not signed"):
        build_crl(ca_cert, key, digest, entries, 8, now, now + timedelta(days=7))
    with pytest.raises(lint_module.LintRefused, match="The OCSP response was not signed"):
        sign_ocsp_response(signer, 12345, "good", now, now + timedelta(days=4))


def test_an_ocsp_batch_is_linted_once_per_shape_and_refused_whole(app, jobs,
                                                                  monkeypatch) -> None:
    """A refresh batch lints one response per shape (good; revoked with a reason; revoked
    without): the rest differ only in serial and revocation time; the next batch of the
    same shapes is not linted again for a while. A refused shape stops the batch before
    any response is stored."""
    from app.models import OcspResponse
    from app.models.base import utcnow
    from app.pki.ocsp import signer_for
    from app.services import revocation_publishing as publishing

    issuer, _, _, _ = _issuer(app, jobs)
    publishing.forget_linted_shapes()
    linted: list[bytes] = []
    real = lint_module.lint_ocsp_response
    monkeypatch.setattr(lint_module, "lint_ocsp_response",
                        lambda der: linted.append(der) or real(der))
    now = utcnow().replace(microsecond=0)
    subjects = [publishing._Subject(format(1000 + i, "x"), False, None, None)
                for i in range(20)]
    subjects += [publishing._Subject(format(2000 + i, "x"), True, now, "keyCompromise")
                 for i in range(5)]
    subjects += [publishing._Subject(format(3000 + i, "x"), True, now, "unspecified")
                 for i in range(5)]
    with app.app_context():
        ca = db.session.get(CertificateAuthority, uuid.UUID(issuer))
        signing = publishing._signing(ca)
        signer = signer_for(signing.certificate, signing.key, ca.digest)
        assert publishing._sign_batch(signing, signer, subjects, now) == 30
        assert len(linted) == 3
        assert db.session.scalar(select(db.func.count(OcspResponse.id)).where(
            OcspResponse.issuer_ca_id == ca.id)) == 30

        # Another batch of a linted shape within LINT_SHAPE_SECONDS is not linted again.
        more = [publishing._Subject(format(5000 + i, "x"), False, None, None)
                for i in range(10)]
        assert publishing._sign_batch(signing, signer, more, now) == 10
        assert len(linted) == 3

        publishing.forget_linted_shapes()   # … past it, or for a new shape, it is
        forced = [lint_module.LintFinding("ERROR", "pkix.forced_for_test", "forced")]
        monkeypatch.setattr(lint_module, "lint_ocsp_response", lambda der: forced)
        fresh = [publishing._Subject(format(4000 + i, "x"), False, None, None)
                 for i in range(10)]
        with pytest.raises(lint_module.LintRefused):
            publishing._sign_batch(signing, signer, fresh, now)
        db.session.rollback()
        assert db.session.scalar(select(db.func.count(OcspResponse.id)).where(
            OcspResponse.issuer_ca_id == ca.id)) == 40

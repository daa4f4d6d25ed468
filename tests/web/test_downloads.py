"""Certificate downloads: the public formats built by the web process, and the one-time,
passphrase-protected private key exports prepared by the real worker."""
from __future__ import annotations

import base64
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Certificate, CertificateAuthority, CertificateExport
from app.models.base import utcnow
from tests.builders import count
from tests.conftest import post
from tests.web.test_certificates import ADMIN, ALICE, BOB, client_for, clone, issue, make_world

PASSPHRASE = "a long export passphrase"


@pytest.fixture
def alice_cert(app, jobs) -> str:
    return issue(app, jobs, make_world(app, jobs), ALICE)


def _cert(app, certificate_id: str) -> Certificate:
    with app.app_context():
        cert = db.session.get(Certificate, uuid.UUID(certificate_id))
        db.session.expunge(cert)
        return cert


def _ca_pem(app, kind: str) -> str:
    with app.app_context():
        return db.session.scalar(select(CertificateAuthority.certificate_pem).where(
            CertificateAuthority.kind == kind))


def _audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                       .order_by(AuditEvent.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _openssl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)


def _pubkey_of_cert(path: Path) -> bytes:
    return _openssl("x509", "-in", str(path), "-noout", "-pubkey").stdout


# ---- public formats -------------------------------------------------------------------------

def test_each_public_format_parses_and_is_audited(app, alice_cert, tmp_path) -> None:
    client = client_for(app, ALICE)
    cert = _cert(app, alice_cert)
    leaf = x509.load_pem_x509_certificate(cert.certificate_pem.encode())
    intermediate = x509.load_pem_x509_certificate(_ca_pem(app, "intermediate").encode())
    url = f"/certificates/{alice_cert}/download"

    pem = client.get(f"{url}/pem")
    assert pem.status_code == 200 and pem.mimetype == "application/x-pem-file"
    assert pem.headers["Content-Disposition"] == 'attachment; filename="www.example.com.pem"'
    assert x509.load_pem_x509_certificate(pem.data) == leaf

    der = client.get(f"{url}/der")
    assert der.mimetype == "application/pkix-cert"
    assert x509.load_der_x509_certificate(der.data) == leaf

    chain = client.get(f"{url}/chain")
    assert chain.mimetype == "application/x-pem-file"
    assert x509.load_pem_x509_certificates(chain.data) == [intermediate]  # no leaf, no root

    fullchain = client.get(f"{url}/fullchain")
    assert x509.load_pem_x509_certificates(fullchain.data) == [leaf, intermediate]
    assert 'filename="www.example.com-fullchain.pem"' in fullchain.headers["Content-Disposition"]

    p7b = client.get(f"{url}/p7b")
    assert p7b.mimetype == "application/x-pkcs7-certificates"
    assert p7b.data.startswith(b"-----BEGIN PKCS7-----")
    printed = _openssl("pkcs7", "-print_certs", "-noout", stdin=p7b.data)
    assert printed.returncode == 0, printed.stderr
    subjects = re.findall(rb"subject=.*CN ?= ?([^,\n]+)", printed.stdout)
    assert sorted(subjects) == [b"Test Issuing", b"www.example.com"]

    events = _audit(app, "certificate.download")
    assert [e.details["format"] for e in events] == ["pem", "der", "chain", "fullchain", "p7b"]
    assert {e.resource_id for e in events} == {alice_cert}
    assert {e.actor_label for e in events} == {ALICE}


def test_unknown_format_is_404_and_not_audited(app, alice_cert) -> None:
    client = client_for(app, ALICE)
    assert client.get(f"/certificates/{alice_cert}/download/pfx").status_code == 404
    assert _audit(app, "certificate.download") == []


def test_wildcard_common_name_gives_a_safe_filename(app, alice_cert) -> None:
    wildcard = clone(app, alice_cert, common_name="*.example.com")
    response = client_for(app, ALICE).get(f"/certificates/{wildcard}/download/p7b")
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="wildcard.example.com.p7b"'


# ---- private key exports --------------------------------------------------------------------

def _request_export(client, certificate_id: str, fmt: str, passphrase: str = PASSPHRASE,
                    confirm: str | None = None):
    return post(client, f"/certificates/{certificate_id}/export", {
        "format": fmt, "passphrase": passphrase,
        "confirm": passphrase if confirm is None else confirm})


def test_pkcs12_export_end_to_end(app, jobs, alice_cert, tmp_path) -> None:
    client = client_for(app, ALICE)
    form = client.get(f"/certificates/{alice_cert}/export")
    assert form.status_code == 200 and 'value="pkcs12"' in form.get_data(as_text=True)
    response = _request_export(client, alice_cert, "pkcs12")
    assert response.status_code == 302
    status_url = response.headers["Location"]
    export_id = status_url.rsplit("/", 1)[1]

    pending = client.get(status_url)
    html = pending.get_data(as_text=True)
    assert pending.headers["Cache-Control"] == "no-store"
    assert 'data-status="pending"' in html and 'hx-trigger="every 1s"' in html
    fragment = client.get(status_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="export-status"')
    with app.app_context():
        row = db.session.get(CertificateExport, uuid.UUID(export_id))
        assert row.user_id is not None and row.format == "pkcs12" and row.payload_b64 is None

    jobs()
    ready = client.get(status_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-status="ready"' in ready and 'hx-trigger="every 1s"' not in ready  # stops
    # Submitting the Download form turns the section to "downloading" (no button) until
    # the file is handed out, so the page never offers a stale Download.
    assert 'hx-trigger="formdata from:find form"' in ready
    assert f'hx-get="{status_url}?downloading=1"' in ready
    downloading = client.get(status_url + "?downloading=1", headers={"HX-Request": "true"})
    html = downloading.get_data(as_text=True)
    assert 'data-status="downloading"' in html and 'hx-trigger="every 1s"' in html
    assert "Download PKCS#12 file" not in html

    download = post(client, status_url + "/download")
    assert download.status_code == 200 and download.mimetype == "application/x-pkcs12"
    assert download.headers["Cache-Control"] == "no-store"
    assert download.headers["Content-Disposition"] == \
        'attachment; filename="www.example.com.p12"'
    p12 = tmp_path / "bundle.p12"
    p12.write_bytes(download.data)
    info = _openssl("pkcs12", "-info", "-nodes", "-in", str(p12), "-passin", f"pass:{PASSPHRASE}")
    assert info.returncode == 0, info.stderr
    assert b"-----BEGIN PRIVATE KEY-----" in info.stdout
    assert info.stdout.count(b"-----BEGIN CERTIFICATE-----") == 2   # leaf + intermediate
    wrong = _openssl("pkcs12", "-info", "-nodes", "-in", str(p12), "-passin", "pass:wrong one!")
    assert wrong.returncode != 0
    # The key inside belongs to the certificate.
    key = serialization.load_pem_private_key(
        re.search(rb"-----BEGIN PRIVATE KEY-----.+?-----END PRIVATE KEY-----\n", info.stdout,
                  re.S).group(0), password=None)
    leaf = x509.load_pem_x509_certificate(_cert(app, alice_cert).certificate_pem.encode())
    spki = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(*spki) == leaf.public_key().public_bytes(*spki)

    # Once only: the payload is gone, a second download says so.
    with app.app_context():
        row = db.session.get(CertificateExport, uuid.UUID(export_id))
        assert row.status == "downloaded" and row.payload_b64 is None and row.downloaded_at
    settled = client.get(status_url + "?downloading=1", headers={"HX-Request": "true"})
    html = settled.get_data(as_text=True)
    assert 'data-status="downloaded"' in html and "hx-trigger" not in html
    again = post(client, status_url + "/download", follow_redirects=True)
    assert again.status_code == 200 and again.mimetype == "text/html"
    assert "already downloaded" in again.get_data(as_text=True)
    events = _audit(app, "certificate.key_export")
    assert len(events) == 1 and events[0].details["format"] == "pkcs12"
    assert len(_audit(app, "certificate.key_export.request")) == 1


def test_pkcs8_export_opens_with_the_passphrase(app, jobs, alice_cert, tmp_path) -> None:
    client = client_for(app, ALICE)
    status_url = _request_export(client, alice_cert, "pkcs8").headers["Location"]
    jobs()
    download = post(client, status_url + "/download")
    assert download.mimetype == "application/x-pem-file"
    assert download.data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert b"-----BEGIN PRIVATE KEY-----" not in download.data
    (tmp_path / "key.pem").write_bytes(download.data)
    (tmp_path / "leaf.pem").write_text(_cert(app, alice_cert).certificate_pem)
    opened = _openssl("pkey", "-in", str(tmp_path / "key.pem"), "-passin",
                      f"pass:{PASSPHRASE}", "-pubout")
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout == _pubkey_of_cert(tmp_path / "leaf.pem")
    assert _openssl("pkey", "-in", str(tmp_path / "key.pem"), "-passin",
                    "pass:not the passphrase").returncode != 0


def test_only_the_requester_sees_and_downloads_an_export(app, jobs, alice_cert) -> None:
    # An admin may see Alice's certificate and request an export of their own, but
    # Alice's export is hers alone.
    status_url = _request_export(client_for(app, ALICE), alice_cert, "pkcs8") \
        .headers["Location"]
    jobs()
    for email in (BOB, ADMIN):
        other = client_for(app, email)
        assert other.get(status_url).status_code == 404
        assert post(other, status_url + "/download").status_code == 404
    assert client_for(app, ALICE).get("/certificates/exports/not-an-id").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(CertificateExport.status)) == "ready"


@pytest.mark.parametrize(("fmt", "passphrase", "confirm", "message"), [
    ("pkcs12", "too short", None, "at least 12 characters"),
    ("pkcs12", PASSPHRASE, PASSPHRASE + "x", "The two passphrases differ"),
    ("pkcs12", "", "", "This field is required"),
    ("pem", PASSPHRASE, None, "Choose the export format"),
])
def test_bad_export_input_gets_a_message_and_writes_nothing(app, alice_cert, fmt, passphrase,
                                                            confirm, message) -> None:
    response = _request_export(client_for(app, ALICE), alice_cert, fmt, passphrase, confirm)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(app, CertificateExport) == 0
    assert _audit(app, "certificate.key_export.request") == []


def test_a_certificate_made_from_a_csr_has_no_key_to_export(app, alice_cert) -> None:
    csr_made = clone(app, alice_cert, common_name="csr.example.com")
    client = client_for(app, ALICE)
    page = client.get(f"/certificates/{csr_made}/export").get_data(as_text=True)
    assert "generated outside the platform (CSR), so there is no key to download" in page
    assert 'name="passphrase"' not in page
    refused = _request_export(client, csr_made, "pkcs12")
    assert refused.status_code == 422
    assert "no key to download" in refused.get_data(as_text=True)
    assert count(app, CertificateExport) == 0


def test_export_requested_while_redis_is_down_says_so(app, jobs, alice_cert,
                                                      monkeypatch) -> None:
    client = client_for(app, ALICE)
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    response = _request_export(client, alice_cert, "pkcs12")
    status_url = response.headers["Location"]
    page = client.get(status_url).get_data(as_text=True)
    assert "job queue cannot be reached" in page
    assert 'data-status="stalled"' in page and "hx-trigger" not in page
    monkeypatch.undo()
    jobs()  # nothing was queued, so nothing happens …
    page = client.get(status_url).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(CertificateExport.status)) == "pending"
    # … and the page says to request it again (no sweeper for exports), without polling.
    assert "request the export again" in page and "hx-trigger" not in page
    assert f'/certificates/{alice_cert}/export"' in page


def test_the_job_is_idempotent_and_records_failures(app, jobs, alice_cert) -> None:
    from app.services.key_exports import prepare_certificate_export

    client = client_for(app, ALICE)
    status_url = _request_export(client, alice_cert, "pkcs8").headers["Location"]
    export_id = status_url.rsplit("/", 1)[1]
    jobs()
    with app.app_context():
        assert prepare_certificate_export(export_id, "anything") == "skipped"
        first = db.session.get(CertificateExport, uuid.UUID(export_id)).payload_b64
        assert base64.b64decode(first).startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        # A sealed passphrase that cannot be opened (tampered, or older than an hour):
        # the row fails with a message, the job does not raise.
        stale = CertificateExport(certificate_id=uuid.UUID(alice_cert),
                                  user_id=db.session.get(CertificateExport,
                                                         uuid.UUID(export_id)).user_id,
                                  format="pkcs12", created_at=utcnow())
        db.session.add(stale)
        db.session.commit()
        stale_id = str(stale.id)
        assert prepare_certificate_export(stale_id, "not-a-sealed-token") == "failed"
        db.session.expire_all()
        failed = db.session.get(CertificateExport, uuid.UUID(stale_id))
        assert failed.status == "failed" and "request it again" in failed.error
        assert failed.payload_b64 is None
    page = client.get(f"/certificates/exports/{stale_id}").get_data(as_text=True)
    assert "Export failed" in page and "hx-trigger" not in page
    with app.app_context():
        assert db.session.scalar(select(func.count(CertificateExport.id))) == 2


def test_an_admin_who_is_not_pki_admin_cannot_export_someone_elses_key(app, client,
                                                                         alice_cert) -> None:
    from tests.conftest import login, make_user

    make_user(app, "deploy@example.com", role="deployment_admin")
    login(client, "deploy@example.com")
    assert client.get(f"/certificates/{alice_cert}").status_code == 200
    assert "Export private key" not in client.get(f"/certificates/{alice_cert}") \
        .get_data(as_text=True)
    response = post(client, f"/certificates/{alice_cert}/export", {
        "format": "pkcs12", "passphrase": PASSPHRASE, "confirm": PASSPHRASE})
    assert response.status_code == 422
    assert "owner or a PKI administrator" in response.get_data(as_text=True)
    assert count(app, CertificateExport) == 0

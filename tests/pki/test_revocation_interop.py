"""CRLs and OCSP against real tools (SPEC 10): ``openssl verify -crl_check_all`` with the
downloaded CRLs before and after a revocation, ``openssl ocsp`` against the running
responder (good, then revoked with the reason; an intermediate asked of its root), and
pkilint's ``lint_crl`` / ``lint_ocsp_response`` at WARNING. Everything is made by the real
worker and served by the app over plain http."""
from __future__ import annotations

import base64
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, CertificateAuthority
from app.services import revocation
from tests.builders import owned_leaf
from tests.pki.tooling import lint_pkix_cert, openssl
from tests.tools import find_tool


def _get(url: str, data: bytes | None = None, content_type: str | None = None):
    request = urllib.request.Request(url, data=data, method="POST" if data is not None
                                     else "GET")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, dict(response.headers), response.read()


def _pkilint(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([find_tool(tool), "lint", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def platform(app, jobs, live_server, monkeypatch, tmp_path):
    """Root → intermediate → leaf made with PKI_BASE_URL = the live server; files of
    each in ``tmp_path``."""
    monkeypatch.setitem(app.config, "PKI_BASE_URL", live_server)
    inter_id, leaf_id = owned_leaf(app, jobs)
    with app.app_context():
        inter = db.session.get(CertificateAuthority, uuid.UUID(inter_id))
        leaf = db.session.get(Certificate, uuid.UUID(leaf_id))
        files = {"root.pem": inter.parent.certificate_pem, "inter.pem": inter.certificate_pem,
                 "leaf.pem": leaf.certificate_pem,
                 "chain.pem": inter.certificate_pem + inter.parent.certificate_pem}
        root_id = str(inter.parent.id)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return {"root": root_id, "inter": inter_id, "leaf": leaf_id, "dir": tmp_path,
            "base": live_server}


def _fetch_crls(platform) -> Path:
    pems = []
    for ca in ("inter", "root"):
        status, headers, body = _get(f"{platform['base']}/pki/{platform[ca]}/crl")
        assert status == 200 and headers["Content-Type"] == "application/pkix-crl"
        assert headers["Cache-Control"].startswith("public, max-age=")
        assert "Set-Cookie" not in headers and "Strict-Transport-Security" not in headers
        crl = x509.load_der_x509_crl(body)
        (platform["dir"] / f"{ca}.crl").write_bytes(body)
        pems.append(crl.public_bytes(serialization.Encoding.PEM))
        _, pem_headers, pem = _get(f"{platform['base']}/pki/{platform[ca]}/crl.pem")
        assert pem_headers["Content-Type"].startswith("application/x-pem-file")
        assert x509.load_pem_x509_crl(pem) == crl
    path = platform["dir"] / "crls.pem"
    path.write_bytes(b"".join(pems))
    return path


def _verify(platform, crls: Path) -> subprocess.CompletedProcess[str]:
    d = platform["dir"]
    return openssl("verify", "-crl_check_all", "-CAfile", str(d / "root.pem"), "-untrusted",
                   str(d / "inter.pem"), "-CRLfile", str(crls), str(d / "leaf.pem"))


def _ask_ocsp(platform, issuer: str, cert: str) -> subprocess.CompletedProcess[str]:
    d = platform["dir"]
    return openssl("ocsp", "-issuer", str(d / issuer), "-cert", str(d / cert), "-url",
                   f"{platform['base']}/pki/ocsp", "-CAfile", str(d / "root.pem"),
                   "-no_nonce", "-resp_text", "-respout", str(d / f"{cert}.ocsp.der"))


def test_revocation_round_trip_with_openssl_and_pkilint(app, jobs, platform) -> None:
    d = platform["dir"]
    leaf = x509.load_pem_x509_certificate((d / "leaf.pem").read_bytes())
    inter = x509.load_pem_x509_certificate((d / "inter.pem").read_bytes())
    base = platform["base"]
    # Pointers: the leaf names its intermediate's CRL and caIssuers, the intermediate its root's.
    crl_dp = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert crl_dp[0].full_name[0].value == f"{base}/pki/{platform['inter']}/crl"
    aia = {a.access_method._name: a.access_location.value for a in
           leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value}
    assert aia == {"OCSP": f"{base}/pki/ocsp",
                   "caIssuers": f"{base}/pki/{platform['inter']}/ca.crt"}
    inter_dp = inter.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert inter_dp[0].full_name[0].value == f"{base}/pki/{platform['root']}/crl"
    assert lint_pkix_cert(leaf) == [] and lint_pkix_cert(inter) == []
    _, headers, issuer_der = _get(aia["caIssuers"])
    assert headers["Content-Type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(issuer_der) == inter

    # Before: valid with the CRLs; OCSP says good, for the leaf and for the intermediate.
    before = _verify(platform, _fetch_crls(platform))
    assert before.returncode == 0, before.stdout + before.stderr
    good = _ask_ocsp(platform, "inter.pem", "leaf.pem")
    assert good.returncode == 0 and "leaf.pem: good" in good.stdout, good.stdout + good.stderr
    assert "Response verify OK" in good.stderr
    inter_good = _ask_ocsp(platform, "root.pem", "inter.pem")
    assert "inter.pem: good" in inter_good.stdout, inter_good.stdout + inter_good.stderr
    for tool, args in (("lint_crl", ["-t", "CRL", "-p", "BR", str(d / "inter.crl")]),
                       ("lint_crl", ["-t", "ARL", "-p", "BR", str(d / "root.crl")]),
                       ("lint_ocsp_response", [str(d / "leaf.pem.ocsp.der")]),
                       ("lint_ocsp_response", [str(d / "inter.pem.ocsp.der")])):
        linted = _pkilint(tool, "-s", "WARNING", *args)
        assert linted.returncode == 0, (tool, args, linted.stdout, linted.stderr)

    # Revoke (the service every channel uses), let the worker re-sign.
    with app.app_context():
        cert = db.session.get(Certificate, uuid.UUID(platform["leaf"]))
        result = revocation.revoke_certificate(cert, "keyCompromise")
    assert result.status == "revoked"
    jobs()

    after = _verify(platform, _fetch_crls(platform))
    assert after.returncode != 0
    assert "certificate revoked" in after.stdout + after.stderr
    crl = x509.load_der_x509_crl((d / "inter.crl").read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason \
        == x509.ReasonFlags.key_compromise
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number >= 2
    revoked = _ask_ocsp(platform, "inter.pem", "leaf.pem")
    assert "leaf.pem: revoked" in revoked.stdout, revoked.stdout + revoked.stderr
    assert "Reason: keyCompromise" in revoked.stdout
    for tool, args in (("lint_crl", ["-t", "CRL", "-p", "BR", str(d / "inter.crl")]),
                       ("lint_ocsp_response", [str(d / "leaf.pem.ocsp.der")])):
        linted = _pkilint(tool, "-s", "WARNING", *args)
        assert linted.returncode == 0, (tool, args, linted.stdout, linted.stderr)


def test_an_unspecified_revocation_has_no_reason_code(app, jobs, platform) -> None:
    with app.app_context():
        cert = db.session.get(Certificate, uuid.UUID(platform["leaf"]))
        revocation.revoke_certificate(cert, "unspecified")
    jobs()
    _fetch_crls(platform)
    crl = x509.load_der_x509_crl((platform["dir"] / "inter.crl").read_bytes())
    [entry] = list(crl)
    assert list(entry.extensions) == []
    linted = _pkilint("lint_crl", "-s", "WARNING", "-t", "CRL", "-p", "BR",
                      str(platform["dir"] / "inter.crl"))
    assert linted.returncode == 0, linted.stdout


def _ocsp_request(cert: x509.Certificate, issuer: x509.Certificate,
                  algorithm: hashes.HashAlgorithm | None = None) -> bytes:
    return ocsp.OCSPRequestBuilder().add_certificate(
        cert, issuer, algorithm or hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)


def test_unknown_and_malformed_requests_never_500(app, platform) -> None:
    d = platform["dir"]
    leaf = x509.load_pem_x509_certificate((d / "leaf.pem").read_bytes())
    inter = x509.load_pem_x509_certificate((d / "inter.pem").read_bytes())
    root = x509.load_pem_x509_certificate((d / "root.pem").read_bytes())
    url = f"{platform['base']}/pki/ocsp"

    def status_of(body: bytes) -> ocsp.OCSPResponseStatus:
        return ocsp.load_der_ocsp_response(body).response_status

    # The GET form (RFC 6960 A.1) gives the same good answer as POST.
    request = _ocsp_request(leaf, inter)
    encoded = urllib.request.quote(base64.b64encode(request).decode(), safe="")
    status, headers, body = _get(f"{url}/{encoded}")
    assert status == 200 and headers["Content-Type"] == "application/ocsp-response"
    answer = ocsp.load_der_ocsp_response(body)
    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert headers["Cache-Control"].startswith("public, max-age=")
    # An issuer the platform does not know (the leaf "issued" by the root), an unknown
    # serial, a SHA-256 CertID: unsigned "unauthorized".
    for unknown in (_ocsp_request(leaf, root),
                    ocsp.OCSPRequestBuilder().add_certificate_by_hash(
                        *_hashes(inter), 12345, hashes.SHA1()).build().public_bytes(
                        serialization.Encoding.DER),
                    _ocsp_request(leaf, inter, hashes.SHA256())):
        _, _, body = _get(url, unknown, "application/ocsp-request")
        assert status_of(body) == ocsp.OCSPResponseStatus.UNAUTHORIZED
    # Garbage, empty, oversize, bad base64: "malformedRequest".
    for garbage in (b"\x30\x03\x02\x01\x01", b"not der", b"\x00" * 10000):
        _, _, body = _get(url, garbage, "application/ocsp-request")
        assert status_of(body) == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    for path in ("%%%", "AAAA", "!!notbase64"):
        _, _, body = _get(f"{url}/{path}")
        assert status_of(body) == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    # A CRL of an unknown CA is a plain 404.
    with pytest.raises(urllib.error.HTTPError) as missing:
        _get(f"{platform['base']}/pki/{uuid.uuid4()}/crl")
    assert missing.value.code == 404


def _hashes(issuer: x509.Certificate) -> tuple[bytes, bytes]:
    from app.pki.ocsp import issuer_hashes

    return issuer_hashes(issuer)


def test_revoking_an_intermediate_lists_it_on_the_roots_crl_and_stops_it(app, jobs,
                                                                        platform) -> None:
    with app.app_context():
        inter = db.session.get(CertificateAuthority, uuid.UUID(platform["inter"]))
        revocation.revoke_ca(inter, "cACompromise")
        assert inter.status == "revoked" and not inter.can_sign
    jobs()
    _fetch_crls(platform)
    root_crl = x509.load_der_x509_crl((platform["dir"] / "root.crl").read_bytes())
    inter_cert = x509.load_pem_x509_certificate((platform["dir"] / "inter.pem").read_bytes())
    entry = root_crl.get_revoked_certificate_by_serial_number(inter_cert.serial_number)
    assert entry is not None
    answer = _ask_ocsp(platform, "root.pem", "inter.pem")
    assert "inter.pem: revoked" in answer.stdout and "Reason: cACompromise" in answer.stdout
    linted = _pkilint("lint_crl", "-s", "WARNING", "-t", "ARL", "-p", "BR",
                      str(platform["dir"] / "root.crl"))
    assert linted.returncode == 0, linted.stdout
    with app.app_context():
        rows = list(db.session.scalars(select(CertificateAuthority)))
        assert {ca.common_name: ca.display_status for ca in rows}["Test Issuing"] == "revoked"

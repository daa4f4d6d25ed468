"""Request New Certificate → Upload a CSR, as plain form posts and with the real worker."""
from __future__ import annotations

import io
import re
import uuid
from html.parser import HTMLParser

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, CertificateAlert, Order
from app.pki.csr import build_csr
from app.pki.keys import generate_private_key
from app.pki.subject import SubjectFields
from tests.builders import add_domain, add_policy, count, issuing_ca
from tests.conftest import login, make_user, post

URL = "/request/csr"
USER = "user@example.com"
SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
def user_client(app, client):
    add_domain(app, "example.com")
    add_domain(app, "other.org")
    make_user(app, USER, role="user", domains=("example.com",))
    login(client, USER)
    return client


# ---- making CSRs ---------------------------------------------------------------------------

def _pem(csr: x509.CertificateSigningRequest) -> str:
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def _csr(algorithm: str = "ec-256", cn: str = "www.example.com",
         sans: tuple[str, ...] = ("www.example.com", "api.example.com"),
         subject: SubjectFields | None = None):
    """A good CSR made the way a requester would (our builder, their key)."""
    key = generate_private_key(algorithm)
    return key, build_csr(key, cn, sans, subject=subject)


def _raw_csr(key, *extensions: x509.ExtensionType, cn: str = "www.example.com") -> str:
    """A CSR our builder would refuse to make (weak or unsupported key, CA flag)."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=True)
    return _pem(builder.sign(key, hashes.SHA256()))


def _bad_signature() -> str:
    _, csr = _csr("rsa-2048")
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # the last byte belongs to the signature BIT STRING
    return x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()


# ---- driving the page like a browser -------------------------------------------------------

class _FormReader(HTMLParser):
    """The fields a browser would send for one form: enabled inputs (checked boxes only)
    and the selected option of each enabled select."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.select = form_id, False, None
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "disabled" in a:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("file", "submit"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self.select = a.get("name")
        elif tag == "option" and self.select and "selected" in a:
            self.fields.append((self.select, a.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def _options_form(body: str) -> dict[str, list[str]]:
    reader = _FormReader("csr-options")
    reader.feed(body)
    fields: dict[str, list[str]] = {}
    for name, value in reader.fields:
        if name != "csrf_token":
            fields.setdefault(name, []).append(value)
    assert "csr" in fields, "no result form on the page"
    return fields


def _check(client, pem: str, **kwargs):
    return post(client, URL, {"csr": pem, "nav": "check"}, **kwargs)


def _submit(client, form: dict, **kwargs):
    return post(client, URL, {**form, "nav": "submit"}, **kwargs)


def _check_and_submit(client, pem: str):
    checked = _check(client, pem)
    assert checked.status_code == 200, checked.get_data(as_text=True)
    return checked, _submit(client, _options_form(checked.get_data(as_text=True)))


def _orders(app) -> list[Order]:
    with app.app_context():
        rows = list(db.session.scalars(select(Order)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _nothing_written(app) -> None:
    assert count(app, Order) == 0
    assert count(app, CertificateAlert) == 0


# ---- the happy path ------------------------------------------------------------------------

@pytest.mark.parametrize(("algorithm", "key_label", "key_usage"), [
    ("ec-256", "ECDSA P-256", {"digitalSignature"}),
    ("rsa-2048", "RSA 2048-bit", {"digitalSignature", "keyEncipherment"}),
])
def test_csr_is_checked_submitted_and_issued_with_its_own_key(
        app, user_client, jobs, algorithm, key_label, key_usage) -> None:
    issuer = issuing_ca(app, jobs)
    key, csr = _csr(algorithm, subject=SubjectFields("x", organization="Acme", country="GB"))
    checked, submitted = _check_and_submit(user_client, _pem(csr))
    body = checked.get_data(as_text=True)
    for shown in ("www.example.com", "api.example.com", key_label, "Acme", "GB",
                  "the private key stays with you"):
        assert shown in body
    assert submitted.status_code == 303, submitted.get_data(as_text=True)
    location = submitted.headers["Location"]
    assert re.fullmatch(r"/orders/[0-9a-f-]{36}", location)

    (order,) = _orders(app)
    assert (order.status, order.pathway, order.type) == ("pending", "csr_upload", "local_pki")
    assert order.csr_pem == _pem(csr)
    assert order.request["issuer_id"] == issuer and order.request["algorithm"] is None
    assert order.request["csr_key"] == ({"family": "rsa", "bits": 2048, "curve": None}
                                        if algorithm == "rsa-2048" else
                                        {"family": "ecdsa", "bits": 256, "curve": "secp256r1"})
    assert "www.example.com" in user_client.get(location).get_data(as_text=True)

    jobs()
    (order,) = _orders(app)
    assert order.status == "complete", order.error
    with app.app_context():
        cert_row = db.session.scalar(select(Certificate).where(Certificate.order_id == order.id))
        assert cert_row.encrypted_private_key is None and not cert_row.has_key
        cert_id, cert_pem = cert_row.id, cert_row.certificate_pem
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    assert cert.public_key().public_bytes(*SPKI) == key.public_key().public_bytes(*SPKI)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert {name for name, attr in (("digitalSignature", "digital_signature"),
                                    ("keyEncipherment", "key_encipherment"))
            if getattr(usage, attr)} == key_usage
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {"www.example.com", "api.example.com"}

    page = user_client.get(f"/certificates/{cert_id}").get_data(as_text=True)
    assert 'id="no-key"' in page and f"/certificates/{cert_id}/export" not in page
    inventory = user_client.get("/certificates/").get_data(as_text=True)
    assert "www.example.com" in inventory and f"/certificates/{cert_id}/export" not in inventory


def test_page_offers_paste_and_file_and_is_linked_from_menu_and_wizard(app, user_client) -> None:
    page = user_client.get(URL)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in body
    assert 'name="csr"' in body and 'type="file"' in body and 'name="csr_file"' in body
    assert f'href="{URL}">Upload a CSR</a>' in user_client.get("/").get_data(as_text=True)
    names = user_client.get("/request/", follow_redirects=True).get_data(as_text=True)
    assert f'href="{URL}"' in names and "or upload a CSR" in names


@pytest.mark.parametrize("encoding", ["der", "pem"])
def test_csr_file_upload_pem_or_der(app, user_client, jobs, encoding) -> None:
    issuing_ca(app, jobs)
    _, csr = _csr("ec-384")
    data = csr.public_bytes(serialization.Encoding.DER if encoding == "der"
                            else serialization.Encoding.PEM)
    response = post(user_client, URL, {"csr_file": (io.BytesIO(data), f"req.{encoding}"),
                                       "nav": "check"}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_data(as_text=True)
    assert "ECDSA P-384" in body and "api.example.com" in body
    # The CSR travels on as PEM in the result form, whatever form it was uploaded in.
    assert _options_form(body)["csr"] == [_pem(csr)]


def test_ec_csr_offers_no_key_encipherment(app, user_client, jobs) -> None:
    issuing_ca(app, jobs)
    body = _check(user_client, _pem(_csr("ec-256")[1])).get_data(as_text=True)
    assert re.search(r'value="keyEncipherment"[^>]*disabled', body)
    assert "cannot encipher" in body
    rsa_body = _check(user_client, _pem(_csr("rsa-2048")[1])).get_data(as_text=True)
    assert re.search(r'value="keyEncipherment" checked\s*>', rsa_body)
    # Asking for it anyway with an EC key is refused, as in the wizard.
    form = {**_options_form(body), "key_usage": ["digitalSignature", "keyEncipherment"]}
    refused = _submit(user_client, form)
    assert refused.status_code == 422
    assert "key_usage.ec_encipherment" in refused.get_data(as_text=True)
    assert count(app, Order) == 0


def test_htmx_check_returns_the_panel_and_submit_redirects(app, user_client, jobs) -> None:
    issuing_ca(app, jobs)
    htmx = {"HX-Request": "true"}
    checked = _check(user_client, _pem(_csr()[1]), headers=htmx)
    body = checked.get_data(as_text=True)
    assert checked.status_code == 200 and body.lstrip().startswith('<section id="csr-upload"')
    submitted = _submit(user_client, _options_form(body), headers=htmx)
    assert submitted.status_code == 200
    assert re.fullmatch(r"/orders/[0-9a-f-]{36}", submitted.headers["HX-Redirect"])
    assert len(_orders(app)) == 1


# ---- policy ----------------------------------------------------------------------------------

def test_enforced_subject_replaces_the_csrs_and_is_locked(app, user_client, jobs) -> None:
    issuing_ca(app, jobs)
    add_policy(app, "Corp identity", ["*.example.com"], [
        {"action": "enforce_values", "fail": "hard",
         "values": {"organization": "Acme Ltd", "country": "GB"}}])
    _, csr = _csr(subject=SubjectFields("x", organization="Evil Corp"))
    checked, submitted = _check_and_submit(user_client, _pem(csr))
    body = checked.get_data(as_text=True)
    row = re.search(r'<td data-field="organization">(.*?)</td>', body, re.S).group(1)
    assert "Acme Ltd" in row and 'data-locked-by="Corp identity"' in row and "Evil Corp" in row
    country = re.search(r'<td data-field="country">(.*?)</td>', body, re.S).group(1)
    assert "GB" in country and 'data-locked-by="Corp identity"' in country
    assert "flash-error" not in body
    assert submitted.status_code == 303
    (order,) = _orders(app)
    assert (order.request["organization"], order.request["country"]) == ("Acme Ltd", "GB")
    jobs()
    with app.app_context():
        pem = db.session.scalar(select(Certificate.certificate_pem))
    subject = x509.load_pem_x509_certificate(pem.encode()).subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Acme Ltd"


def test_minimum_key_size_refuses_rsa_2048_and_alerts_once(app, user_client, jobs) -> None:
    issuing_ca(app, jobs)
    add_policy(app, "Strong keys", ["*.example.com"], [
        {"action": "enforce_minimum_key_size", "fail": "hard", "values": {"minimum_bits": 3072}}])
    pem = _pem(_csr("rsa-2048")[1])
    for _ in range(3):
        response = _check(user_client, pem)
        assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'data-code="policy.enforce_minimum_key_size"' in body
    assert 'id="submit-request" disabled' in body
    forced = _submit(user_client, _options_form(body))  # the disabled button, pressed anyway
    assert forced.status_code == 422
    assert count(app, Order) == 0
    with app.app_context():
        rows = list(db.session.scalars(select(CertificateAlert)))
    assert [(a.type, a.rule, a.order_id) for a in rows] == [
        ("policy_hard_fail", "enforce_minimum_key_size", None)]
    assert rows[0].request_key.startswith("csr:") and rows[0].request_key.endswith(
        f":{rows[0].requester_user_id}")
    # An RSA-3072 CSR passes the same policy.
    _, ok = _check_and_submit(user_client, _pem(_csr("rsa-3072")[1]))
    assert ok.status_code == 303


def test_algorithm_family_policy_refuses_an_rsa_csr(app, user_client, jobs) -> None:
    issuing_ca(app, jobs)
    add_policy(app, "EC only", ["*.example.com"], [
        {"action": "enforce_algorithm", "fail": "hard", "values": {"algorithm": "ecdsa"}}])
    response = _check(user_client, _pem(_csr("rsa-2048")[1]))
    assert response.status_code == 422
    assert 'data-code="policy.enforce_algorithm"' in response.get_data(as_text=True)
    assert _check(user_client, _pem(_csr("ec-256")[1])).status_code == 200


def test_soft_rule_warns_and_its_alert_is_recorded_once_and_linked(app, user_client,
                                                                   jobs) -> None:
    issuing_ca(app, jobs)
    add_policy(app, "Want SANs", ["*.example.com"], [{"action": "require_san", "fail": "soft"}])
    pem = _pem(_csr(sans=())[1])
    for _ in range(3):
        checked = _check(user_client, pem)
        assert checked.status_code == 200
    body = checked.get_data(as_text=True)
    assert 'class="flash flash-warning"' in body and 'data-code="policy.require_san"' in body
    assert 'id="submit-request" disabled' not in body
    assert count(app, CertificateAlert) == 1
    assert _submit(user_client, _options_form(body)).status_code == 303
    (order,) = _orders(app)
    with app.app_context():
        (alert,) = db.session.scalars(select(CertificateAlert))
        assert alert.type == "policy_soft_fail" and alert.order_id == order.id


def test_locked_digest_and_unknown_issuer_cannot_be_tampered_with(app, user_client,
                                                                  jobs) -> None:
    issuing_ca(app, jobs, algorithm="ec-384")  # signs with SHA-384, as the policy enforces
    add_policy(app, "Digest", ["*.example.com"], [
        {"action": "enforce_digest", "fail": "hard", "values": {"digest": "sha384"}}])
    body = _check(user_client, _pem(_csr()[1])).get_data(as_text=True)
    form = _options_form(body)
    assert form["digest"] == ["sha384"] and 'data-locked-by="Digest"' in body
    tampered = _submit(user_client, {**form, "digest": "sha256"})
    assert tampered.status_code == 422
    assert "policy.enforce_digest" in tampered.get_data(as_text=True)
    stranger = _submit(user_client, {**form, "issuer_id": str(uuid.uuid4())})
    assert stranger.status_code == 422
    assert "provider.unavailable" in stranger.get_data(as_text=True)
    # The CSR itself is re-read on submit: swapping in another one is judged afresh.
    swapped = _submit(user_client, {**form, "csr": _pem(_csr(cn="www.other.org",
                                                              sans=())[1])})
    assert swapped.status_code == 422 and "name.outside_scope" in swapped.get_data(as_text=True)
    assert count(app, Order) == 0
    assert _submit(user_client, form).status_code == 303


def test_without_an_issuing_ca_nothing_can_be_submitted(app, user_client) -> None:
    response = _check(user_client, _pem(_csr()[1]))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "provider.unavailable" in body and 'id="submit-request" disabled' in body
    assert _submit(user_client, _options_form(body)).status_code == 422
    assert count(app, Order) == 0


# ---- bad input -------------------------------------------------------------------------------

def _paste(text: str) -> dict:
    return {"data": {"csr": text, "nav": "check"}}


def _file(data: bytes, name: str = "request.csr") -> dict:
    return {"data": {"csr_file": (io.BytesIO(data), name), "nav": "check"},
            "content_type": "multipart/form-data"}


BAD_INPUT = {
    "malformed PEM": (lambda: _paste("-----BEGIN CERTIFICATE REQUEST-----\nnot*base64!\n"
                                     "-----END CERTIFICATE REQUEST-----\n"),
                      422, "csr.invalid", "PEM text is damaged"),
    "DER garbage": (lambda: _file(bytes(range(256)) * 3, "request.der"),
                    422, "csr.invalid", "not a PEM or DER certificate signing request"),
    "bad signature": (lambda: _paste(_bad_signature()),
                      422, "csr.invalid", "signature does not verify"),
    "RSA-1024": (lambda: _paste(_raw_csr(rsa.generate_private_key(65537, 1024))),
                 422, "csr.weak_key", "1024"),
    "DSA": (lambda: _paste(_raw_csr(dsa.generate_private_key(2048))),
            422, "csr.unsupported_key", "DSA"),
    "secp256k1": (lambda: _paste(_raw_csr(ec.generate_private_key(ec.SECP256K1()))),
                  422, "csr.unsupported_key", "secp256k1"),
    "CA:TRUE": (lambda: _paste(_raw_csr(ec.generate_private_key(ec.SECP256R1()),
                                        x509.BasicConstraints(ca=True, path_length=None))),
                422, "csr.ca_requested", "CA certificate"),
    "10 MB body": (lambda: _paste("A" * (10 * 1024 * 1024)), 413, "csr.too_large",
                   "far too large and was not read. A CSR is at most 64 KiB"),
    "10 MB file": (lambda: _file(b"A" * (10 * 1024 * 1024)), 413, "csr.too_large",
                   "far too large and was not read. A CSR is at most 64 KiB"),
    "65 KiB paste": (lambda: _paste(_pem(_csr()[1]) + "\n" + "A" * (65 * 1024)),
                     413, "csr.too_large", "The CSR is larger than 64 KiB."),
    "65 KiB file": (lambda: _file(b"A" * (65 * 1024)),
                    413, "csr.too_large", "The CSR is larger than 64 KiB."),
    "name outside the user's domains": (
        lambda: _paste(_pem(_csr(cn="www.other.org", sans=("www.example.com",))[1])),
        422, "name.outside_scope", "www.other.org"),
    "unregistered name": (lambda: _paste(_pem(_csr(cn="www.nowhere.net", sans=())[1])),
                          422, "name.not_registered", "www.nowhere.net"),
    "empty form": (lambda: {"data": {"nav": "check"}}, 422, "csr.missing", "Paste a CSR"),
    "empty file": (lambda: _file(b""), 422, "csr.missing", "The chosen file is empty."),
    "private key": (lambda: _paste(generate_private_key("ec-256").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()), 422, "csr.private_key", "private key"),
}
def _private_key_pem(fmt=serialization.PrivateFormat.PKCS8) -> str:
    return generate_private_key("rsa-2048").private_bytes(
        serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


@pytest.mark.parametrize("how", ["key alone", "CSR and key", "traditional RSA key",
                                 "key file"])
def test_a_pasted_private_key_is_never_echoed(app, user_client, how) -> None:
    key = _private_key_pem(serialization.PrivateFormat.TraditionalOpenSSL
                           if how == "traditional RSA key" else serialization.PrivateFormat.PKCS8)
    text = _pem(_csr()[1]) + key if how == "CSR and key" else key
    request = _file(text.encode()) if how == "key file" else _paste(text)
    response = post(user_client, URL, request["data"],
                    **({"content_type": request["content_type"]}
                       if "content_type" in request else {}))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-code="csr.private_key"' in body and "was not kept" in body
    for line in key.splitlines()[1:-1]:
        assert line not in body
    assert "PRIVATE KEY-----" not in body
    _nothing_written(app)


READ_BUT_REFUSED = {"csr.ca_requested", "name.outside_scope", "name.not_registered"}


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_input_gets_a_clear_message_and_writes_nothing(app, user_client, jobs,
                                                           case) -> None:
    issuing_ca(app, jobs)
    make, status, code, message = BAD_INPUT[case]
    request = make()
    response = post(user_client, URL, request["data"],
                    **({"content_type": request["content_type"]}
                       if "content_type" in request else {}))
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert f'data-code="{code}"' in body
    assert message in body
    if code in READ_BUT_REFUSED:  # shown as read, but Submit is disabled
        assert 'id="submit-request" disabled' in body
    else:  # not read at all: the input form again
        assert 'id="csr-options"' not in body and 'id="csr-input"' in body
    _nothing_written(app)

"""GlobalSign Atlas, the HVCA certificate management API v2
(https://www.globalsign.com/en/repository/globalsign-atlas-certificate-management-api.pdf,
https://downloads.globalsign.com/acton/media/2674/hvca-api-documentation-v2).

Every call is made over mutual TLS with the account's client certificate (config
``client_cert``, key sealed as the ``mtls_key`` secret). Endpoints used (base URL per
region, default https://emea.api.hvca.globalsign.com:8443/v2):

- ``POST /login`` with ``api_key`` and ``api_secret`` → ``access_token`` (valid 10
  minutes; sent as ``Authorization: Bearer``; renewed before it expires, and once more if
  the CA says it expired).
- ``POST /certificates`` — request a certificate: ``validity`` (``not_before`` /
  ``not_after``, UNIX seconds), ``subject_dn``, ``san`` (``dns_names``, ``ip_addresses``),
  ``public_key`` (PEM of the CSR's key), ``signature.hash_algorithm``. Answers 201 with
  ``Location: …/certificates/{serial}``.
- ``GET /certificates/{serial}`` — ``status`` ``ISSUED`` with ``certificate`` (PEM), or
  still being issued (202 / ``PENDING``); ``REVOKED`` is final.
- ``GET /trustchain`` — the chain, issuing CA first, root last.
- ``PATCH /certificates/{serial}`` with ``revocation_reason`` / ``revocation_time`` —
  revoke.
- ``GET /validationpolicy`` — the connection test (what the account may request).
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.domain.providers import (
    GLOBALSIGN,
    GLOBALSIGN_BASE_URL,
    GLOBALSIGN_DECIDES,
    GLOBALSIGN_POLL_SECONDS,
)
from app.domain.request import CertificateRequest
from app.providers.base import (
    CertificateProvider,
    ConnectionReport,
    Progress,
    ProviderError,
    ProviderHost,
    ProviderRejectedError,
    ProviderRow,
    ProviderTransientError,
    StepRecorder,
    SubmitResult,
    SubmitStatus,
)
from app.providers.rest import (
    ClientCertificate,
    MalformedAnswer,
    RestClient,
    RestResponse,
    answer_again_later,
    certificates_from_pem,
    require,
)

VENDOR = "GlobalSign Atlas"
TOKEN_LIFETIME = 600         # seconds, as documented for /login
TOKEN_MARGIN = 60            # renew this long before it runs out
HASHES = {"sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}
SUBJECT_KEYS = {"organization": "organization", "organizational_unit": "organizational_unit",
                "country": "country", "state": "state", "locality": "locality"}


def atlas_serial(certificate: x509.Certificate) -> str:
    text = format(certificate.serial_number, "X")
    return text if len(text) % 2 == 0 else "0" + text


class GlobalSignProvider(CertificateProvider):
    type = GLOBALSIGN
    display_name = "GlobalSign Atlas"
    #: Request fields Atlas decides itself (the wizard does not offer them).
    decides = GLOBALSIGN_DECIDES

    def __init__(self, row: ProviderRow, secrets: Mapping[str, str],
                 host: ProviderHost) -> None:
        super().__init__(row, secrets, host)
        config = dict(row.config)
        self.poll_seconds = int(config.get("poll_seconds") or GLOBALSIGN_POLL_SECONDS)
        self.client = RestClient(
            str(config.get("base_url") or GLOBALSIGN_BASE_URL),
            host.outbound.with_ca_bundle(config.get("ca_bundle")), vendor=VENDOR,
            client_certificate=ClientCertificate(str(config.get("client_cert") or ""),
                                                 secrets.get("mtls_key", "")))
        self._token: str | None = None
        self._token_at = 0.0

    # ---- the bearer token -------------------------------------------------------------------

    def _login(self) -> str:
        data = self.client.call("POST", "login", what="Logging in to GlobalSign Atlas",
                                body={"api_key": self.secrets.get("api_key", ""),
                                      "api_secret": self.secrets.get("api_secret", "")}
                                ).json()
        self._token = str(require(data, "access_token", vendor=VENDOR, what="the login"))
        self._token_at = time.monotonic()
        return self._token

    def _bearer(self) -> str:
        fresh = time.monotonic() - self._token_at < TOKEN_LIFETIME - TOKEN_MARGIN
        return self._token if self._token and fresh else self._login()

    def _call(self, method: str, path: str, *, what: str, body: Any = None,
              idempotent: bool = True) -> RestResponse:
        """A call with the bearer token; a token the CA says is no longer valid is
        renewed once (another process may have used the account's token budget)."""
        for attempt in (1, 2):
            bearer = self._bearer()          # a refused login is not retried here
            try:
                return self.client.call(method, path, what=what, body=body,
                                        idempotent=idempotent,
                                        headers={"Authorization": f"Bearer {bearer}"})
            except ProviderRejectedError as exc:
                if exc.code != "provider.auth" or attempt == 2:
                    raise
                self._token = None
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- ordering -------------------------------------------------------------------------

    def request_body(self, request: CertificateRequest,
                     csr: x509.CertificateSigningRequest) -> dict[str, Any]:
        now = int(time.time())
        subject: dict[str, Any] = {}
        if request.common_name:
            subject["common_name"] = request.common_name
        for field, key in SUBJECT_KEYS.items():
            value = getattr(request, field, None)
            if value:
                subject[key] = [value] if field == "organizational_unit" else value
        san: dict[str, Any] = {}
        if request.all_dns_names():
            san["dns_names"] = list(request.all_dns_names())
        if request.ip_addresses:
            san["ip_addresses"] = list(request.ip_addresses)
        return {
            # not_after 0: the longest validity the account's policy allows.
            "validity": {"not_before": now,
                         "not_after": now + int(request.validity_days) * 86400
                         if request.validity_days else 0},
            "subject_dn": subject,
            "san": san,
            "public_key": csr.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
            "signature": {"hash_algorithm": HASHES.get(request.digest or "sha256",
                                                       "SHA-256")},
        }

    def submit(self, request: CertificateRequest,
               csr: x509.CertificateSigningRequest) -> SubmitResult:
        answer = self._call("POST", "certificates", what="Requesting from GlobalSign Atlas",
                            body=self.request_body(request, csr), idempotent=False)
        location = answer.headers.get("Location") or ""
        serial = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]
        if not location or not serial:
            raise MalformedAnswer("GlobalSign Atlas accepted the request without saying "
                                  "where the certificate will be (no Location header).")
        try:   # usually issued within a second: one look now saves a job round trip
            return self.poll(serial, request, csr)
        except ProviderTransientError:
            return SubmitResult(SubmitStatus.PENDING, external_id=serial, retry_after=0,
                                note=f"GlobalSign Atlas is issuing certificate {serial}")

    def poll(self, external_id: str, request: CertificateRequest,
             csr: x509.CertificateSigningRequest) -> SubmitResult:
        with answer_again_later():
            return self._poll(external_id)

    def _poll(self, serial: str) -> SubmitResult:
        what = f"Checking GlobalSign certificate {serial}"
        answer = self._call("GET", f"certificates/{serial}", what=what)
        data = answer.json() if answer.body else {}
        status = str((data or {}).get("status") or ("PENDING" if answer.status == 202
                                                     else "")).upper()
        if answer.status == 202 or status in ("PENDING", "IN_PROGRESS"):
            return SubmitResult(SubmitStatus.PENDING, external_id=serial,
                                retry_after=self.poll_seconds,
                                note=f"GlobalSign Atlas is issuing certificate {serial}")
        if status == "REVOKED":
            raise ProviderRejectedError(f"GlobalSign Atlas reports certificate {serial} "
                                        "as revoked.")
        if status != "ISSUED":
            raise MalformedAnswer(f"GlobalSign certificate {serial} has the unknown status "
                                  f"'{status or 'none'}'.")
        pem = str(require(data, "certificate", vendor=VENDOR, what=what))
        leaf, _ = certificates_from_pem(pem, vendor=VENDOR, what="certificate")
        return SubmitResult(SubmitStatus.ISSUED, certificate=leaf,
                            chain=self._trust_chain(), external_id=serial)

    def _trust_chain(self) -> tuple[x509.Certificate, ...]:
        data = self._call("GET", "trustchain", what="Downloading the GlobalSign trust "
                                                    "chain").json()
        if not isinstance(data, list) or not all(isinstance(p, str) for p in data):
            raise MalformedAnswer("GlobalSign's trust chain is not a list of PEM "
                                  "certificates.")
        chain: list[x509.Certificate] = []
        for pem in data:
            leaf, more = certificates_from_pem(pem, vendor=VENDOR, what="trust chain")
            chain += [c for c in (leaf, *more) if c.subject != c.issuer]
        return tuple(chain)

    def revoke(self, certificate: x509.Certificate, reason: str) -> None:
        serial = atlas_serial(certificate)
        self._call("PATCH", f"certificates/{serial}",
                   what=f"Revoking certificate {serial} at GlobalSign Atlas",
                   body={"revocation_reason": reason, "revocation_time": int(time.time())})

    # ---- connection test --------------------------------------------------------------------

    def test_connection(self, progress: Progress | None = None) -> ConnectionReport:
        steps = StepRecorder(progress)
        try:
            self._login()
            steps.step("login", True, "Logged in to GlobalSign Atlas over mutual TLS.")
        except ProviderError as exc:
            steps.step("login", False, str(exc))
            return steps.report()
        try:
            policy = self._call("GET", "validationpolicy",
                                what="Reading the validation policy").json()
            if not isinstance(policy, dict):
                raise MalformedAnswer("GlobalSign's validation policy is not a JSON object.")
            steps.step("policy", True, "Read the account's validation policy.")
            chain = self._trust_chain()
            steps.step("trustchain", True, f"Issuing CA: "
                       f"{chain[0].subject.rfc4514_string() if chain else 'none listed'}.")
        except ProviderError as exc:
            steps.step("policy", False, str(exc))
        return steps.report()

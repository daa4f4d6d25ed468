"""DigiCert CertCentral, Services API v2 (https://dev.digicert.com/services-api/).

Endpoints used (base URL configurable, default https://www.digicert.com/services/v2),
all authenticated with the ``X-DC-DEVKEY`` header:

- ``POST /order/certificate/{product}`` — order an SSL product with the CSR, common name,
  DNS names, signature hash, validity and organization id. The answer has the order
  ``id``; when DigiCert issued at once it also carries ``certificate_chain``.
- ``GET /order/certificate/{order_id}`` — the order's ``status`` (``pending``,
  ``processing``, ``needs_approval`` → wait; ``issued`` → download; ``rejected``,
  ``canceled``, ``denied``, ``revoked`` → fail).
- ``GET /certificate/download/order/{order_id}/format/pem_noroot`` — the order's active
  certificate with its chain (no root).
- ``PUT /certificate/{serial}/revoke`` — revoke (the path takes the id or the serial).
- ``GET /user/me``, ``GET /organization/{id}`` — the connection test.

Errors have the shape ``{"errors": [{"code", "message"}]}``; the message reaches the order.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.domain.providers import (
    DIGICERT,
    DIGICERT_BASE_URL,
    DIGICERT_DECIDES,
    DIGICERT_POLL_SECONDS,
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
    StepRecorder,
    SubmitResult,
    SubmitStatus,
)
from app.providers.rest import (
    MalformedAnswer,
    RestClient,
    answer_again_later,
    certificates_from_pem,
    require,
)

VENDOR = "DigiCert"
WAITING = {"pending", "processing", "needs_approval", "waiting_pickup", "reissue_pending"}
FAILED = {"rejected", "canceled", "denied", "revoked", "expired"}
#: RFC 5280 reason names → the words of DigiCert's revocation comment.
REASONS = {"keyCompromise": "key compromise", "affiliationChanged": "affiliation changed",
           "superseded": "superseded", "cessationOfOperation": "cessation of operation",
           "unspecified": "unspecified", "privilegeWithdrawn": "privilege withdrawn"}


def digicert_serial(certificate: x509.Certificate) -> str:
    text = format(certificate.serial_number, "X")
    return text if len(text) % 2 == 0 else "0" + text


class DigiCertProvider(CertificateProvider):
    type = DIGICERT
    display_name = "DigiCert CertCentral"
    #: Request fields DigiCert decides itself (the wizard does not offer them).
    decides = DIGICERT_DECIDES

    def __init__(self, row: ProviderRow, secrets: Mapping[str, str],
                 host: ProviderHost) -> None:
        super().__init__(row, secrets, host)
        config = dict(row.config)
        self.poll_seconds = int(config.get("poll_seconds") or DIGICERT_POLL_SECONDS)
        self.organization_id = int(config.get("organization_id") or 0)
        self.product = str(config.get("product") or "ssl_basic")
        self.client = RestClient(
            str(config.get("base_url") or DIGICERT_BASE_URL),
            host.outbound.with_ca_bundle(config.get("ca_bundle")), vendor=VENDOR,
            headers={"X-DC-DEVKEY": secrets.get("api_key", "")})

    # ---- ordering -------------------------------------------------------------------------

    def order_body(self, request: CertificateRequest,
                   csr: x509.CertificateSigningRequest) -> dict[str, Any]:
        names = request.all_dns_names()
        common_name = request.common_name or names[0]
        body: dict[str, Any] = {
            "certificate": {
                "common_name": common_name,
                "dns_names": [n for n in names if n != common_name],
                "csr": csr.public_bytes(serialization.Encoding.PEM).decode(),
                "signature_hash": request.digest or "sha256",
                "server_platform": {"id": -1},
            },
            "organization": {"id": self.organization_id},
            "payment_method": "balance",
            "skip_approval": True,
        }
        if request.validity_days:
            body["order_validity"] = {"days": int(request.validity_days)}
        return body

    def submit(self, request: CertificateRequest,
               csr: x509.CertificateSigningRequest) -> SubmitResult:
        what = "Ordering from DigiCert"
        data = self.client.call("POST", f"order/certificate/{self.product}", what=what,
                                body=self.order_body(request, csr), idempotent=False).json()
        order_id = str(require(data, "id", vendor=VENDOR, what="the order"))
        chain = data.get("certificate_chain") if isinstance(data, dict) else None
        if chain:
            pem = "".join(str(require(item, "pem", vendor=VENDOR, what="the order"))
                          for item in chain)
            leaf, rest = certificates_from_pem(pem, vendor=VENDOR, what="certificate chain")
            return SubmitResult(SubmitStatus.ISSUED, certificate=leaf, chain=rest,
                                external_id=order_id)
        return SubmitResult(SubmitStatus.PENDING, external_id=order_id,
                            retry_after=self.poll_seconds,
                            note=f"DigiCert order {order_id} is waiting for validation")

    def poll(self, external_id: str, request: CertificateRequest,
             csr: x509.CertificateSigningRequest) -> SubmitResult:
        with answer_again_later():
            return self._poll(external_id)

    def _poll(self, external_id: str) -> SubmitResult:
        what = f"Checking DigiCert order {external_id}"
        data = self.client.call("GET", f"order/certificate/{external_id}", what=what).json()
        status = str(require(data, "status", vendor=VENDOR, what=what)).lower()
        if status in WAITING:
            return SubmitResult(SubmitStatus.PENDING, external_id=external_id,
                                retry_after=self.poll_seconds,
                                note=f"DigiCert order {external_id} is {_words(status)}")
        if status in FAILED:
            reason = _reason(data)
            raise ProviderRejectedError(f"DigiCert {status} order {external_id}"
                                        + (f": {reason}" if reason else "."),
                                        code="provider.rejected")
        if status != "issued":
            raise MalformedAnswer(f"DigiCert order {external_id} has the unknown status "
                                  f"'{status}'.")
        pem = self.client.call(
            "GET", f"certificate/download/order/{external_id}/format/pem_noroot",
            what=f"Downloading the certificate of DigiCert order {external_id}",
            headers={"Accept": "*/*"}).text()
        leaf, chain = certificates_from_pem(pem, vendor=VENDOR, what="certificate download")
        return SubmitResult(SubmitStatus.ISSUED, certificate=leaf, chain=chain,
                            external_id=external_id)

    def revoke(self, certificate: x509.Certificate, reason: str) -> None:
        serial = digicert_serial(certificate)
        self.client.call("PUT", f"certificate/{serial}/revoke",
                         what=f"Revoking certificate {serial} at DigiCert", body={
                             "comments": "Revoked from the certificate platform; reason: "
                                         + REASONS.get(reason, reason),
                             "skip_approval": True}, idempotent=False)

    # ---- connection test --------------------------------------------------------------------

    def test_connection(self, progress: Progress | None = None) -> ConnectionReport:
        steps = StepRecorder(progress)
        try:
            me = self.client.call("GET", "user/me", what="Checking the API key").json()
            who = " ".join(str(me.get(k) or "") for k in ("first_name", "last_name")).strip() \
                if isinstance(me, dict) else ""
            steps.step("credentials", True, "DigiCert accepted the API key"
                       + (f" (user {who})." if who else "."))
        except ProviderError as exc:
            steps.step("credentials", False, str(exc))
            return steps.report()
        try:
            org = self.client.call("GET", f"organization/{self.organization_id}",
                                   what="Checking the organization").json()
            name = org.get("name") if isinstance(org, dict) else None
            steps.step("organization", True, f"Organization {self.organization_id}"
                       + (f" ({name})" if name else "") + f" orders {self.product}.")
        except ProviderError as exc:
            steps.step("organization", False, str(exc))
        return steps.report()


def _words(status: str) -> str:
    return {"needs_approval": "waiting for approval", "pending": "waiting for validation",
            "processing": "being processed"}.get(status, status.replace("_", " "))


def _reason(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    for key in ("rejection_reason", "reason", "status_reason", "notes"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:400]
    return ""

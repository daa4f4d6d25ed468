"""The built-in Local PKI: signs with an active intermediate, synchronously."""
from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes

from app.domain.providers import BUILTIN
from app.domain.request import CertificateRequest
from app.pki.errors import PkiError
from app.pki.leaf import LeafProfile, issue_leaf
from app.pki.lint import LintRefused
from app.pki.subject import SubjectFields
from app.providers.base import (
    CertificateProvider,
    ConnectionReport,
    Progress,
    ProviderRejectedError,
    StepRecorder,
    SubmitResult,
    SubmitStatus,
)


class LocalPKIProvider(CertificateProvider):
    """Issues at once (never PENDING). The issuing intermediate is the request's
    ``issuer_id``, loaded with its decrypted key by the host (in the worker)."""

    type = BUILTIN
    display_name = "Local PKI"

    def submit(self, request: CertificateRequest,
               csr: x509.CertificateSigningRequest) -> SubmitResult:
        return self.sign_public_key(request, csr.public_key())

    def sign_public_key(self, request: CertificateRequest,
                        public_key: CertificateIssuerPublicKeyTypes) -> SubmitResult:
        """Sign ``request`` for ``public_key``: what :meth:`submit` does with the CSR's
        key. The batch path calls it for a key the platform made (no CSR to build)."""
        issuer = self.host.issuing_ca(request.issuer_id)
        if issuer.certificate.not_valid_after_utc <= datetime.now(UTC):
            raise ProviderRejectedError("The issuing CA has expired.")
        try:
            profile = LeafProfile(
                subject=SubjectFields(
                    common_name=request.common_name or (request.ip_addresses or ("",))[0],
                    organization=request.organization,
                    organizational_unit=request.organizational_unit,
                    country=request.country, state=request.state,
                    locality=request.locality),
                dns_names=request.all_dns_names(), ip_addresses=request.ip_addresses,
                emails=request.emails, key_usage=request.key_usage,
                extended_key_usage=request.extended_key_usage,
                validity_days=request.validity_days or 365,
                digest=request.digest or "sha256")
            certificate = issue_leaf(profile, public_key, issuer.certificate,
                                     issuer.private_key, pointers=issuer.pointers,
                                     issuer=issuer.facts)
        except LintRefused as exc:
            # The CA key signed nothing: the order fails with pkilint's findings.
            raise ProviderRejectedError(str(exc), code=LintRefused.code) from exc
        except PkiError as exc:
            raise ProviderRejectedError(str(exc)) from exc
        return SubmitResult(SubmitStatus.ISSUED, certificate=certificate,
                            chain=(issuer.certificate, *issuer.chain))

    def revoke(self, certificate: x509.Certificate, reason: str) -> None:
        """The Local PKI is its own CA: revocation is the platform's record (published
        in its CRL and OCSP answers), so there is no one else to tell."""

    def test_connection(self, progress: Progress | None = None) -> ConnectionReport:
        steps = StepRecorder(progress)
        try:
            issuer = self.host.issuing_ca(None)
        except ProviderRejectedError as exc:
            steps.step("issuer", False, str(exc))
        else:
            steps.step("issuer", True, "Signing with "
                       + issuer.certificate.subject.rfc4514_string() + ".")
        return steps.report()

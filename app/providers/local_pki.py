"""The built-in Local PKI: signs with an active intermediate, synchronously."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from app.domain.request import CertificateRequest
from app.pki.errors import PkiError
from app.pki.keys import PrivateKey
from app.pki.leaf import LeafProfile, issue_leaf
from app.pki.subject import SubjectFields
from app.providers.base import (
    CertificateProvider,
    ProviderRejectedError,
    SubmitResult,
    SubmitStatus,
)


@dataclass(frozen=True)
class IssuingCA:
    certificate: x509.Certificate
    private_key: PrivateKey
    chain: tuple[x509.Certificate, ...]      # the issuer's own issuers (the root excluded)


class LocalPKIProvider(CertificateProvider):
    type = "builtin"
    display_name = "Local PKI"

    def __init__(self, issuer: IssuingCA) -> None:
        self.issuer = issuer

    def submit(self, request: CertificateRequest,
               csr: x509.CertificateSigningRequest) -> SubmitResult:
        if self.issuer.certificate.not_valid_after_utc <= datetime.now(UTC):
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
            certificate = issue_leaf(profile, csr.public_key(), self.issuer.certificate,
                                     self.issuer.private_key)
        except PkiError as exc:
            raise ProviderRejectedError(str(exc)) from exc
        return SubmitResult(SubmitStatus.ISSUED, certificate=certificate,
                            chain=(self.issuer.certificate, *self.issuer.chain))

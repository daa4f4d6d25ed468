"""Which providers and issuing CAs a request may use right now."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain.issuer_validity import validity_clamp_warning
from app.domain.policy import Violation
from app.domain.request import CertificateRequest
from app.models.base import utcnow
from app.models.pki import CA_KIND_INTERMEDIATE
from app.services.pki import list_cas


@dataclass(frozen=True)
class IssuerChoice:
    provider: str
    issuer_id: str
    label: str
    not_after: datetime | None = None
    name: str = ""


def issuer_choices() -> list[IssuerChoice]:
    """Active providers: for now the Local PKI, one choice per intermediate that can sign
    (newest first, which is also the default)."""
    return [IssuerChoice("builtin", str(ca.id), f"Local PKI — {ca.common_name}",
                         not_after=ca.not_after, name=ca.common_name)
            for ca in list_cas(CA_KIND_INTERMEDIATE) if ca.can_sign]


def check_issuer(request: CertificateRequest) -> list[Violation]:
    """The chosen issuer must be able to sign (hard); a validity past its notAfter is cut
    there, which the requester is told with the real end date (soft)."""
    if request.issuer_id is None:
        return []
    choice = next((c for c in issuer_choices() if c.issuer_id == request.issuer_id), None)
    if choice is not None:
        warning = validity_clamp_warning(request.validity_days, f"'{choice.name}'",
                                         choice.not_after, utcnow())
        return [warning] if warning else []
    return [Violation(code="provider.unavailable", field="issuer_id",
                      message="The chosen issuing CA is not available (it may have been "
                              "removed, expired or taken offline). Choose another.")]


def with_default_issuer(request: CertificateRequest) -> CertificateRequest:
    if request.issuer_id is not None:
        return request
    choices = issuer_choices()
    return request.replace(provider="builtin", issuer_id=choices[0].issuer_id) if choices \
        else request

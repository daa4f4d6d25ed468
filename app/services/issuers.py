"""Which providers (and, for the Local PKI, which issuing CAs) a request may use right now,
and the provider checks every channel shares (run by ``intake.assess``).

Codes: ``provider.unavailable`` (unknown, inactive or unusable provider or issuing CA),
``provider.issuer_mismatch`` (an issuing CA named for a provider other than the Local
PKI), and those of ``app.domain.providers.check_fit``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.domain.issuer_fit import check_issuer_constraints, check_issuer_digest
from app.domain.issuer_validity import validity_clamp_warning
from app.domain.policy import Violation
from app.domain.providers import BUILTIN, ProviderProfile, check_fit, fit_request, profile_for
from app.domain.request import CertificateRequest
from app.domain.validation import check_complete
from app.extensions import db
from app.models import Provider
from app.models.base import utcnow
from app.models.pki import CA_KIND_INTERMEDIATE
from app.providers.registry import is_available
from app.services.lookup import keep, kept_by_uuid
from app.services.pki import list_cas


@dataclass(frozen=True)
class IssuerChoice:
    issuer_id: str
    label: str
    not_after: datetime | None = None
    name: str = ""
    algorithm: str | None = None
    extended_key_usage: tuple[str, ...] | None = None
    permitted_dns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ProviderChoice:
    id: str
    name: str
    type: str
    profile: ProviderProfile

    @property
    def is_builtin(self) -> bool:
        return self.type == BUILTIN


#: ``db.session.info`` key under which a batch (``intake.batch_preloaded``) keeps the
#: issuer choices it read once for all of its requests.
PRELOADED_CHOICES = "issuer_choices_preloaded"


def issuer_choices() -> list[IssuerChoice]:
    """The Local PKI's intermediates that can sign (newest first, also the default)."""
    preloaded = db.session.info.get(PRELOADED_CHOICES)
    if preloaded is not None:
        return list(preloaded)
    return [IssuerChoice(str(ca.id), ca.common_name, not_after=ca.not_after,
                         name=ca.common_name, algorithm=ca.algorithm,
                         extended_key_usage=tuple(ca.extended_key_usage or ()) or None,
                         permitted_dns=tuple(ca.permitted_dns or ()) or None)
            for ca in list_cas(CA_KIND_INTERMEDIATE) if ca.can_sign]


def _usable(provider: Provider) -> bool:
    return provider.active and is_available(provider.type)


def provider_choices(*, local_only: bool = False) -> list[ProviderChoice]:
    """Active providers, the Local PKI first (offered only once it can sign)."""
    rows = db.session.scalars(select(Provider).where(Provider.active.is_(True)))
    choices = []
    for row in sorted(rows, key=lambda p: (not p.is_builtin, p.name.lower())):
        if not _usable(row) or (local_only and not row.is_builtin):
            continue
        if row.is_builtin and not issuer_choices():
            continue
        choices.append(ProviderChoice(str(row.id), row.name, row.type,
                                      profile_for(row.type, row.config)))
    return choices


#: ... and the Local PKI provider's id (``local_pki_id``).
PRELOADED_LOCAL_PKI = "local_pki_id_preloaded"


def local_pki_id() -> str | None:
    if PRELOADED_LOCAL_PKI in db.session.info:
        return db.session.info[PRELOADED_LOCAL_PKI]  # type: ignore[no-any-return]
    # The whole row, kept: a submission reads it next (``provider_of``), by its id.
    row = db.session.scalar(select(Provider).where(Provider.type == BUILTIN).limit(1))
    if row is None:
        return None
    keep(Provider, row)
    return str(row.id)


def provider_of(request: CertificateRequest) -> Provider | None:
    return kept_by_uuid(Provider, request.provider_id) if request.provider_id else None


def fit_to_provider(request: CertificateRequest) -> CertificateRequest:
    """Drop the fields the chosen provider decides itself (not sent, not judged)."""
    provider = provider_of(request)
    if provider is None:
        return request
    return fit_request(request, profile_for(provider.type, provider.config))


def check_provider(request: CertificateRequest) -> list[Violation]:
    if request.provider_id is None:
        return _check_issuer(request) if request.issuer_id else []
    provider = provider_of(request)
    if provider is None or not _usable(provider):
        return [Violation(code="provider.unavailable", field="provider_id",
                          message="The chosen certificate provider is not available (it may "
                                  "have been removed or deactivated). Choose another.")]
    if not provider.is_builtin:
        found = []
        if request.issuer_id:
            found.append(Violation(
                code="provider.issuer_mismatch", field="issuer_id",
                message=f"An issuing CA can only be chosen with the Local PKI, not with "
                        f"{provider.name}; omit issuer_id."))
        return found + check_fit(request, profile_for(provider.type, provider.config),
                                 provider.name)
    return _check_issuer(request)


def _check_issuer(request: CertificateRequest) -> list[Violation]:
    """The chosen issuer must be able to sign (hard); a validity past its notAfter is cut
    there, which the requester is told with the real end date (soft)."""
    if request.issuer_id is None:
        return []
    choice = next((c for c in issuer_choices() if c.issuer_id == request.issuer_id), None)
    if choice is not None:
        warning = validity_clamp_warning(request.validity_days, f"'{choice.name}'",
                                         choice.not_after, utcnow())
        label = f"'{choice.name}'"
        return [*check_issuer_digest(request, choice.algorithm, label),
                *check_issuer_constraints(request, choice.extended_key_usage,
                                          choice.permitted_dns, label),
                *([warning] if warning else [])]
    return [Violation(code="provider.unavailable", field="issuer_id",
                      message="The chosen issuing CA is not available (it may have been "
                              "removed, expired or taken offline). Choose another.")]


def with_default_provider(request: CertificateRequest) -> CertificateRequest:
    """The Local PKI when no provider was chosen; for the Local PKI, the newest signing
    intermediate when no issuing CA was chosen."""
    if request.provider_id is None:
        request = request.replace(provider_id=local_pki_id())
    provider = provider_of(request)
    if provider is not None and provider.is_builtin and request.issuer_id is None:
        choices = issuer_choices()
        if choices:
            request = request.replace(issuer_id=choices[0].issuer_id)
    return request


def with_default_issuer(request: CertificateRequest) -> CertificateRequest:
    """Kept for callers of the Local PKI only (CSR upload): the Local PKI and its newest
    signing intermediate unless one was chosen."""
    return with_default_provider(request.replace(provider_id=request.provider_id
                                                 or local_pki_id()))


def check_complete_for_provider(request: CertificateRequest) -> list[Violation]:
    """What an order needs (``check_complete``) less what its provider decides itself."""
    provider = provider_of(request)
    profile = profile_for(provider.type, provider.config) if provider else None
    return [v for v in check_complete(request)
            if profile is None or v.field is None or profile.honours(v.field)]

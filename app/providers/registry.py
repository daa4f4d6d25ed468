"""Provider types by name, and building a provider from its record.

Adding a CA integration = one class and one entry in ``PROVIDER_CLASSES``."""
from __future__ import annotations

from collections.abc import Mapping

from app.providers.acme import AcmeProvider
from app.providers.base import CertificateProvider, ProviderHost, ProviderRow
from app.providers.digicert import DigiCertProvider
from app.providers.globalsign import GlobalSignProvider
from app.providers.local_pki import LocalPKIProvider

PROVIDER_CLASSES: dict[str, type[CertificateProvider]] = {
    LocalPKIProvider.type: LocalPKIProvider,
    AcmeProvider.type: AcmeProvider,
    DigiCertProvider.type: DigiCertProvider,
    GlobalSignProvider.type: GlobalSignProvider,
}


def is_available(provider_type: str) -> bool:
    return provider_type in PROVIDER_CLASSES


def provider_class(provider_type: str) -> type[CertificateProvider]:
    try:
        return PROVIDER_CLASSES[provider_type]
    except KeyError:
        raise KeyError(f"Unknown provider type '{provider_type}'.") from None


def build(row: ProviderRow, secrets: Mapping[str, str], host: ProviderHost
          ) -> CertificateProvider:
    """The provider for ``row`` with its opened ``secrets``, talking to the platform
    through ``host``. Raises KeyError for a type without an implementation."""
    return provider_class(row.type)(row, secrets, host)

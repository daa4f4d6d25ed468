"""Provider types by name. Adding a CA integration = one entry here."""
from __future__ import annotations

from app.providers.base import CertificateProvider
from app.providers.local_pki import LocalPKIProvider

PROVIDER_TYPES: dict[str, type[CertificateProvider]] = {
    LocalPKIProvider.type: LocalPKIProvider,
}


def provider_class(provider_type: str) -> type[CertificateProvider]:
    try:
        return PROVIDER_TYPES[provider_type]
    except KeyError:
        raise KeyError(f"Unknown provider type '{provider_type}'.") from None

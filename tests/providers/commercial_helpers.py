"""Shared by the DigiCert and GlobalSign tests: build a provider the way the worker does,
make a CSR, and a host whose outbound policy has short timeouts (a slow CA)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from cryptography import x509

from app.domain.request import CertificateRequest
from app.extensions import db
from app.models import Provider
from app.net.outbound import OutboundPolicy
from app.pki.csr import build_csr
from app.pki.keys import generate_private_key
from app.providers.base import CertificateProvider, ProviderRow
from app.providers.registry import build
from app.services.provider_runtime import PlatformHost, build_provider, opened_secrets


def provider(provider_id: str) -> CertificateProvider:
    return build_provider(db.session.get(Provider, uuid.UUID(provider_id)))


def impatient_provider(provider_id: str, read_timeout: float = 0.5) -> CertificateProvider:
    """The provider with a policy that waits ``read_timeout`` seconds for an answer."""
    row = db.session.get(Provider, uuid.UUID(provider_id))
    policy = OutboundPolicy.from_settings(allowed_networks=["127.0.0.1/32"],
                                          read_timeout=read_timeout, connect_timeout=2)
    return build(ProviderRow(id=str(row.id), type=row.type, name=row.name,
                             config=dict(row.config)), opened_secrets(row),
                 PlatformHost(row, policy=policy))


@dataclass
class Ask:
    request: CertificateRequest
    csr: x509.CertificateSigningRequest
    key: object


def ask(common_name: str, *sans: str, ips: tuple[str, ...] = (), digest: str = "sha256",
        validity_days: int | None = 30, **fields: object) -> Ask:
    key = generate_private_key("ec-256")
    request = CertificateRequest(common_name=common_name, dns_names=sans, ip_addresses=ips,
                                 algorithm="ec-256", digest=digest,
                                 validity_days=validity_days, **fields)  # type: ignore[arg-type]
    return Ask(request, build_csr(key, common_name, request.all_dns_names(), ips, ()), key)

"""Providers at work (worker only): building one from its record with its opened secrets,
and the host that gives it what it needs from the platform (issuing CA keys, its CA
account, http-01 answers) without handing it the database."""
from __future__ import annotations

import logging
import uuid

from cryptography import x509
from sqlalchemy import delete, select, update

from app.extensions import db
from app.models import CertificateAuthority, Provider, ProviderChallenge
from app.models.base import utcnow
from app.models.pki import CA_KIND_INTERMEDIATE
from app.net.outbound import OutboundPolicy
from app.pki.keys import load_private_key_pem
from app.providers.base import (
    CertificateProvider,
    ConnectionReport,
    ConnectionStep,
    IssuingCA,
    ProviderAccount,
    ProviderRejectedError,
    ProviderRow,
)
from app.providers.registry import build
from app.services.key_bindings import account_key_binding, ca_key_binding
from app.services.keyring import load_keyring
from app.services.pki_urls import pointers_for
from app.services.providers import outbound_policy
from app.services.worker_keys import SealedSecretInvalid, open_sealed

log = logging.getLogger(__name__)


class PlatformHost:
    """``ProviderHost`` for one provider (and the order being worked on, if any)."""

    def __init__(self, provider: Provider, order_id: uuid.UUID | None = None,
                 policy: OutboundPolicy | None = None) -> None:
        self.provider_id = provider.id
        self.order_id = order_id
        self.outbound = policy or outbound_policy()
        # A host serves one order, or one batch job's orders: the issuing CA's key is
        # decrypted once for it, not once per certificate.
        self._issuers: dict[str | None, IssuingCA] = {}

    def issuing_ca(self, issuer_id: str | None) -> IssuingCA:
        issuer = self._issuers.get(issuer_id)
        if issuer is None:
            issuer = self._issuers[issuer_id] = self._load_issuing_ca(issuer_id)
        return issuer

    def _load_issuing_ca(self, issuer_id: str | None) -> IssuingCA:
        ca = db.session.get(CertificateAuthority, uuid.UUID(issuer_id)) if issuer_id \
            else _newest_signing_intermediate()
        if ca is None or ca.is_root or not ca.can_sign or ca.certificate_pem is None:
            raise ProviderRejectedError("The chosen issuing CA can no longer sign (it was "
                                        "removed, expired or taken offline).")
        chain = []
        parent = ca.parent
        while parent is not None and parent.parent is not None:  # the root stays out
            chain.append(x509.load_pem_x509_certificate(parent.certificate_pem.encode()))
            parent = parent.parent
        key = load_private_key_pem(load_keyring().decrypt(ca.encrypted_private_key or "",
                                                          ca_key_binding(ca.id)))
        return IssuingCA(certificate=x509.load_pem_x509_certificate(
            ca.certificate_pem.encode()), private_key=key, chain=tuple(chain),
            pointers=pointers_for(ca.id))

    def load_account(self) -> ProviderAccount | None:
        row = db.session.get(Provider, self.provider_id)
        if row is None or not row.account_url or not row.account_key_encrypted:
            return None
        key = load_keyring().decrypt(row.account_key_encrypted,
                                     account_key_binding(row.id))
        return ProviderAccount(key_pem=key, url=row.account_url)

    def save_account(self, account: ProviderAccount) -> ProviderAccount:
        wrapped = load_keyring().encrypt(account.key_pem, account_key_binding(self.provider_id))
        db.session.execute(update(Provider).where(
            Provider.id == self.provider_id, Provider.account_url.is_(None)
        ).values(account_url=account.url, account_key_encrypted=wrapped))
        db.session.commit()
        db.session.expire_all()
        stored = self.load_account()
        return stored or account

    def publish_http01(self, token: str, key_authorization: str, identifier: str) -> None:
        db.session.merge(ProviderChallenge(token=token, key_authorization=key_authorization,
                                           identifier=identifier, provider_id=self.provider_id,
                                           order_id=self.order_id, created_at=utcnow()))
        db.session.commit()

    def withdraw_http01(self, token: str) -> None:
        db.session.execute(delete(ProviderChallenge).where(ProviderChallenge.token == token))
        db.session.commit()


def _newest_signing_intermediate() -> CertificateAuthority | None:
    rows = db.session.scalars(select(CertificateAuthority).where(
        CertificateAuthority.kind == CA_KIND_INTERMEDIATE)
        .order_by(CertificateAuthority.created_at.desc()))
    return next((ca for ca in rows if ca.can_sign), None)


def opened_secrets(provider: Provider) -> dict[str, str]:
    """The provider's secrets in the clear (worker only). A secret that does not open is
    reported as a refusal: it must be entered again."""
    opened = {}
    for name, token in (provider.secrets or {}).items():
        try:
            opened[name] = open_sealed(token, f"provider:{provider.id}:{name}")
        except SealedSecretInvalid as exc:
            raise ProviderRejectedError(f"The stored secret '{name}' of {provider.name} "
                                        "cannot be opened; enter it again.") from exc
    return opened


def build_provider(provider: Provider, order_id: uuid.UUID | None = None
                   ) -> CertificateProvider:
    row = ProviderRow(id=str(provider.id), type=provider.type, name=provider.name,
                      config=dict(provider.config or {}))
    return build(row, opened_secrets(provider), PlatformHost(provider, order_id))


# ---- connection test (the job's work) -------------------------------------------------------

def _set_test(provider_id: uuid.UUID, **values: object) -> None:
    db.session.execute(update(Provider).where(Provider.id == provider_id).values(**values))
    db.session.commit()


def run_connection_test(provider_id: str) -> str:
    """Run the provider's connection test, writing each step to the row as it finishes
    (the admin page polls it). Never raises."""
    provider = db.session.get(Provider, uuid.UUID(provider_id))
    if provider is None:
        return "skipped"
    ident = provider.id
    steps: list[dict[str, object]] = []
    _set_test(ident, test_status="running", test_steps=[], tested_at=utcnow())

    def progress(step: ConnectionStep) -> None:
        steps.append({"name": step.name, "ok": step.ok, "message": step.message})
        _set_test(ident, test_steps=list(steps))

    try:
        report = build_provider(provider).test_connection(progress)
    except ProviderRejectedError as exc:
        progress(ConnectionStep("setup", False, str(exc)))
        report = ConnectionReport(ok=False, steps=())
    except Exception:
        log.exception("connection test of provider %s failed", provider_id)
        progress(ConnectionStep("error", False, "The test failed because of an internal "
                                "error; see the worker log."))
        report = ConnectionReport(ok=False, steps=())
    status = "ok" if report.ok else "failed"
    _set_test(ident, test_status=status, test_steps=list(steps), tested_at=utcnow())
    return status

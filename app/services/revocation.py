"""Revoking certificates and intermediate CAs (SPEC 10): the one service every channel
uses — the certificate page, the courier API, the CLI, and the ACME server's revokeCert.

``revoke_certificate(certificate, reason, *, actor=None, actor_label=None)`` revokes a
certificate the caller has already been allowed to revoke (each channel checks access in
its own terms: ``certificate_for_revocation`` for a signed-in user, the courier API's
ownership check, the operator for the CLI, ACME's account/key authorisation). ``reason``
is an RFC 5280 name from ``CERTIFICATE_REASONS``; ``actor`` is the user (None for a
courier, the CLI or ACME — then ``actor_label`` names who asked, e.g. "courier build-bot",
"acme account 12"). It returns a ``Revocation``:

- Local PKI: ``status="revoked"`` at once; the CRL and the certificate's OCSP response are
  re-signed by the worker right away (and by the refresh tasks if Redis is down).
- An external CA: ``status="revocation_pending"``; the worker asks the provider
  (``revoke_at_provider``). A refusal leaves the certificate unrevoked with the CA's
  message on it (``revocation_error``).

Raises ``ValidationFailed`` (unknown reason) or ``Conflict`` (already revoked, already
pending, nothing to revoke it at). Every outcome is audited (``certificate.revoke``); a
revocation that took effect emits the ``certificate.revoked`` webhook event in the same
transaction."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from sqlalchemy import select, update

from app.domain.orders import OrderStatus
from app.domain.providers import BUILTIN
from app.domain.roles import Permission
from app.extensions import db
from app.jobs.enqueue import enqueue
from app.models import Certificate, CertificateAuthority, Order, User
from app.models.base import utcnow
from app.models.pki import CA_ACTIVE, CA_REVOKED
from app.pki.revocation_reasons import CA_REASONS, CERTIFICATE_REASONS
from app.providers.base import ProviderError, ProviderTransientError
from app.services import audit, webhooks
from app.services.certificates import get_certificate_for
from app.services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.services.lookup import by_uuid
from app.services.order_flow import transition
from app.services.provider_runtime import build_provider

log = logging.getLogger(__name__)

REVOKED = "revoked"
PENDING = "revocation_pending"
PROVIDER_RETRIES = [10, 30, 90]

__all__ = ["CA_REASONS", "CERTIFICATE_REASONS", "Revocation", "certificate_for_revocation",
           "may_revoke", "revoke_ca", "revoke_certificate"]


@dataclass(frozen=True)
class Revocation:
    certificate_id: uuid.UUID
    status: str                        # "revoked" | "revocation_pending"
    reason: str
    revoked_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"certificate_id": str(self.certificate_id),
                                "status": self.status}
        if self.status == REVOKED:
            assert self.revoked_at is not None
            body["revoked_at"] = self.revoked_at.isoformat().replace("+00:00", "Z")
            body["reason"] = self.reason
        return body


# ---- who may ---------------------------------------------------------------------------

def may_revoke(certificate: Certificate, user: User) -> bool:
    """The owner, a PKI admin or a super admin (SPEC 10)."""
    return certificate.owner_user_id == user.id or user.can(Permission.MANAGE_PKI)


def certificate_for_revocation(certificate_id: object, user: User) -> Certificate:
    """The certificate, if ``user`` may revoke it: NotFound when they may not see it
    (another user's id reveals nothing), Forbidden (403) when they may see but not revoke
    it (admin roles without revocation rights)."""
    certificate = get_certificate_for(certificate_id, user)
    if not may_revoke(certificate, user):
        raise Forbidden("Only the certificate's owner, a PKI admin or a super admin may "
                        "revoke it.", code="certificate.revoke_forbidden")
    return certificate


# ---- certificates ----------------------------------------------------------------------

def _check_reason(reason: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(reason, str) or reason not in allowed:
        raise ValidationFailed(
            f"Unknown revocation reason {str(reason)[:40]!r}; choose one of "
            f"{', '.join(allowed)}.", code="revocation.reason", field="reason")
    return reason


def _is_local(certificate: Certificate) -> bool:
    provider = certificate.order.provider if certificate.order is not None else None
    return certificate.issuer_ca_id is not None and (provider is None
                                                     or provider.type == BUILTIN)


def revoke_certificate(certificate: Certificate, reason: str, *, actor: User | None = None,
                       actor_label: str | None = None) -> Revocation:
    """Revoke ``certificate`` (see the module docstring); commits."""
    reason = _check_reason(reason, CERTIFICATE_REASONS)
    if certificate.revoked:
        raise Conflict("This certificate is already revoked.",
                       code="certificate.already_revoked")
    if certificate.revocation_pending:
        raise Conflict("This certificate's revocation is already being sent to its CA.",
                       code="certificate.revocation_pending")
    details = {"common_name": certificate.common_name, "serial": certificate.serial_hex,
               "reason": reason}
    if _is_local(certificate):
        return _revoke_locally(certificate, reason, actor, actor_label, details)
    if certificate.order is None or certificate.order.provider is None:
        raise Conflict("This certificate was not issued through the platform, so there "
                       "is no CA to revoke it at.", code="certificate.not_revocable")
    moved = db.session.execute(update(Certificate).where(
        Certificate.id == certificate.id, Certificate.revoked.is_(False),
        Certificate.revocation_pending.is_(None)).values(
        revocation_pending=reason, revocation_error=None)
        .execution_options(synchronize_session=False)).rowcount
    if not moved:
        db.session.rollback()
        raise Conflict("This certificate was revoked meanwhile.",
                       code="certificate.already_revoked")
    audit.record("certificate.revoke.request", resource_type="certificate",
                 resource_id=certificate.id, actor=actor, actor_label=actor_label,
                 details={**details, "provider": certificate.provider})
    db.session.commit()
    db.session.refresh(certificate)
    enqueue("revoke_at_provider", f"revoke-{certificate.id}", str(certificate.id),
            description=f"revoke certificate {certificate.id} at its CA",
            retry_intervals=PROVIDER_RETRIES, on_failure="revoke_at_provider_failed")
    return Revocation(certificate.id, PENDING, reason)


def _revoke_locally(certificate: Certificate, reason: str, actor: User | None,
                    actor_label: str | None, details: dict[str, Any]) -> Revocation:
    now = utcnow().replace(microsecond=0)
    moved = db.session.execute(update(Certificate).where(
        Certificate.id == certificate.id, Certificate.revoked.is_(False)).values(
        revoked=True, revoked_at=now, revocation_reason=reason, revocation_error=None)
        .execution_options(synchronize_session=False)).rowcount
    if not moved:
        db.session.rollback()
        raise Conflict("This certificate is already revoked.",
                       code="certificate.already_revoked")
    audit.record("certificate.revoke", resource_type="certificate",
                 resource_id=certificate.id, actor=actor, actor_label=actor_label,
                 details=details)
    _emit_revoked(certificate, reason, now)
    db.session.commit()
    db.session.refresh(certificate)
    _publish_for_leaf(certificate)
    return Revocation(certificate.id, REVOKED, reason, now)


def _emit_revoked(certificate: Certificate, reason: str, revoked_at: datetime) -> None:
    """The ``certificate.revoked`` webhook event, in the revocation's transaction (its
    deliveries go to the worker when that commits)."""
    webhooks.emit("certificate.revoked", {"certificate": {
        "id": str(certificate.id), "common_name": certificate.common_name,
        "sans": certificate.sans, "serial": certificate.serial_hex,
        "provider": certificate.provider, "reason": reason,
        "revoked_at": revoked_at.isoformat(timespec="seconds")}})


def _publish_for_leaf(certificate: Certificate) -> None:
    """The worker re-signs at once; if Redis is down, the refresh tasks see the revocation
    newer than the CRL and the response, and re-sign at their next run."""
    enqueue("issue_crl", f"crl-{certificate.issuer_ca_id}-{uuid.uuid4().hex[:8]}",
            str(certificate.issuer_ca_id), description="issue a CRL after a revocation")
    enqueue("sign_certificate_ocsp", f"ocsp-{certificate.id}-{uuid.uuid4().hex[:8]}",
            str(certificate.id), description="sign an OCSP response")


# ---- the worker's side of an external revocation ---------------------------------------

def revoke_at_provider(certificate_id: str) -> str:
    """Ask the certificate's CA to revoke it. Transient CA trouble raises (RQ retries);
    a refusal is recorded on the certificate."""
    certificate = db.session.get(Certificate, uuid.UUID(certificate_id))
    if certificate is None or certificate.revoked or not certificate.revocation_pending:
        return "skipped"
    reason = certificate.revocation_pending
    order = certificate.order
    if order is None or order.provider is None:
        return _refused(certificate, "The certificate's provider no longer exists.")
    try:
        build_provider(order.provider, order.id).revoke(
            x509.load_pem_x509_certificate(certificate.certificate_pem.encode()), reason)
    except ProviderTransientError:
        db.session.rollback()
        raise
    except ProviderError as exc:
        return _refused(certificate, str(exc))
    now = utcnow().replace(microsecond=0)
    db.session.execute(update(Certificate).where(
        Certificate.id == certificate.id, Certificate.revocation_pending == reason).values(
        revoked=True, revoked_at=now, revocation_reason=reason, revocation_pending=None,
        revocation_error=None).execution_options(synchronize_session=False))
    audit.record("certificate.revoke", resource_type="certificate",
                 resource_id=certificate.id, details={
                     "common_name": certificate.common_name, "serial": certificate.serial_hex,
                     "reason": reason, "provider": certificate.provider})
    _emit_revoked(certificate, reason, now)
    db.session.commit()
    return "revoked"


def _refused(certificate: Certificate, message: str) -> str:
    db.session.rollback()
    db.session.execute(update(Certificate).where(
        Certificate.id == certificate.id, Certificate.revoked.is_(False)).values(
        revocation_pending=None, revocation_error=message[:2000])
        .execution_options(synchronize_session=False))
    audit.record("certificate.revoke", outcome=audit.FAILURE, resource_type="certificate",
                 resource_id=certificate.id, details={
                     "common_name": certificate.common_name, "serial": certificate.serial_hex,
                     "provider": certificate.provider, "error": message[:500]})
    db.session.commit()
    return "refused"


def give_up_at_provider(certificate_id: str, exc: BaseException) -> None:
    """RQ's last failed attempt: the CA kept failing; say so on the certificate."""
    certificate = db.session.get(Certificate, uuid.UUID(certificate_id))
    if certificate is None or not certificate.revocation_pending:
        return
    message = str(exc) if isinstance(exc, ProviderError) else \
        "The revocation could not be sent to the CA (internal error; see the worker log)."
    _refused(certificate, f"The CA could not be reached after several tries: {message}")


# ---- intermediate CAs ------------------------------------------------------------------

def revoke_ca(ca: CertificateAuthority, reason: str, *, actor: User | None = None) -> None:
    """Revoke intermediate ``ca``: it stops signing at once (status ``revoked``), orders
    waiting on it fail with a reason, and its root lists it on its CRL and answers
    ``revoked`` for it over OCSP. Refused for a root, and for an intermediate whose root's
    key is not on the platform (nothing could sign the root's CRL)."""
    reason = _check_reason(reason, CA_REASONS)
    if ca.is_root:
        raise ValidationFailed(
            "A root cannot be revoked: nothing above it could publish that. Remove it from "
            "the trust stores that hold it instead.", code="ca.revoke_root")
    if ca.status == CA_REVOKED:
        raise Conflict(f"'{ca.common_name}' is already revoked.", code="ca.already_revoked")
    if ca.status != CA_ACTIVE:
        raise Conflict(f"'{ca.common_name}' is {ca.display_status}; only an active "
                       "intermediate can be revoked.", code="ca.not_active")
    root = ca.parent
    if root is None or not root.has_key or root.status != CA_ACTIVE or root.is_expired:
        name = root.common_name if root else "its root"
        raise Conflict(
            f"'{ca.common_name}' cannot be revoked here: the key of its root '{name}' is not "
            "on the platform (exported or removed), so the root's CRL and OCSP answers "
            "cannot be signed. Sign a CRL listing this intermediate with the exported root "
            "key offline and publish it, and stop using this intermediate (deactivate the "
            "providers and ACME servers that use it).", code="ca.root_offline")
    now = utcnow().replace(microsecond=0)
    moved = db.session.execute(update(CertificateAuthority).where(
        CertificateAuthority.id == ca.id, CertificateAuthority.status == CA_ACTIVE).values(
        status=CA_REVOKED, revoked_at=now, revocation_reason=reason)
        .execution_options(synchronize_session=False)).rowcount
    if not moved:
        db.session.rollback()
        raise Conflict(f"'{ca.common_name}' changed meanwhile.", code="ca.already_revoked")
    failed = _fail_waiting_orders(ca, reason)
    audit.record("ca.revoke", resource_type="ca", resource_id=ca.id, actor=actor, details={
        "common_name": ca.common_name, "serial": ca.serial_hex, "reason": reason,
        "orders_failed": failed})
    db.session.commit()
    db.session.refresh(ca)
    enqueue("issue_crl", f"crl-{root.id}-{uuid.uuid4().hex[:8]}", str(root.id),
            description="issue the root's CRL after revoking an intermediate")
    enqueue("sign_intermediate_ocsp", f"ocsp-ca-{ca.id}-{uuid.uuid4().hex[:8]}", str(ca.id),
            description="sign the root's OCSP response about an intermediate")


def _fail_waiting_orders(ca: CertificateAuthority, reason: str) -> int:
    message = (f"The issuing CA '{ca.common_name}' was revoked ({reason}) before this order "
               "was issued; resubmit it to use another CA.")
    failed = 0
    for order in db.session.scalars(select(Order).where(
            Order.status.in_((OrderStatus.PENDING.value, OrderStatus.PROCESSING.value)))):
        if (order.request or {}).get("issuer_id") != str(ca.id):
            continue
        if transition(order.id, OrderStatus(order.status), OrderStatus.FAILED, message,
                      finished_at=utcnow(), error=message):
            failed += 1
    return failed


def certificate_by_id(certificate_id: object) -> Certificate:
    """For the operator's CLI (no owner check: the operator runs the platform)."""
    certificate = by_uuid(Certificate, certificate_id)
    if certificate is None:
        raise NotFound("No such certificate.", code="certificate.not_found")
    return certificate

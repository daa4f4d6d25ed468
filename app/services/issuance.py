"""Issuing an order's certificate with its provider (runs in the worker: it decrypts and
generates keys).

``submit`` sends a claimed (``processing``) order to its provider, ``resume`` continues
one that is waiting on its CA. Either ends in ``settle``: an issued certificate is checked
(the order's key and names, lint findings recorded for external CAs) and stored with the
order's completion in ONE transaction — the unique ``certificates.order_id`` makes a
second certificate for the same order impossible even if two runs got this far — or a
PENDING answer is recorded (``external_id``, ``next_check_at``, the platform-made key kept
under the KEK) and the order stays ``processing``."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from app.domain.orders import OrderStatus
from app.domain.policy import Violation
from app.domain.providers import BUILTIN, EXTERNAL_CA
from app.domain.request import CertificateRequest
from app.extensions import db
from app.models import AcmeAccount, AuditEvent, Certificate, Courier, Order, User, Webhook
from app.models.base import utcnow
from app.pki.csr import build_csr
from app.pki.encoding import certificate_to_pem, fingerprint_sha256
from app.pki.key_encryption import KeyEncryptionKeyring
from app.pki.keys import generate_private_key, load_private_key_pem, private_key_to_pem
from app.pki.returned import lint, mismatches
from app.providers.base import (
    ProviderRejectedError,
    SubmitResult,
    SubmitStatus,
)
from app.providers.local_pki import LocalPKIProvider
from app.services import (
    alerts,
    audit,
    courier_keys,
    deployments,
    provisioning,
    revocation_publishing,
    webhooks,
)
from app.services.acme_admin import requester_for_acme_account
from app.services.couriers import requester_for_courier
from app.services.errors import ServiceError
from app.services.intake import assess
from app.services.jwe import encrypt_to_public_key
from app.services.key_bindings import certificate_key_binding, pending_key_binding
from app.services.keyring import load_keyring
from app.services.order_flow import note, transition
from app.services.orders import PolicyRejected
from app.services.provider_runtime import build_provider
from app.services.requesters import Requester, requester_for_user

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Issued:
    certificate_id: uuid.UUID | None      # None when another run completed the order first


@dataclass(frozen=True)
class Waiting:
    next_check_at: datetime
    checks: int                           # the check number the next job claims


Outcome = Issued | Waiting


def requester_of(order: Order) -> Requester:
    if order.requested_by_kind == provisioning.REQUESTER_KIND:
        return provisioning.requester_for_order(order)
    if order.requested_by_kind == "acme":
        return _acme_requester(order)
    if order.requested_by_kind == "courier":
        courier = _courier_of(order)
        if courier is None or not courier.enabled:
            raise PolicyRejected((Violation(
                code="requester.inactive", field=None, message="The courier was disabled "
                "or removed after submitting, so the certificate is not issued."),))
        return requester_for_courier(courier)
    user = db.session.get(User, order.requested_by_user_id) if order.requested_by_user_id \
        else None
    if user is None or not user.enabled:
        raise PolicyRejected((Violation(
            code="requester.inactive", field=None, message="The requester's account was "
            "disabled or removed after submitting, so the certificate is not issued."),))
    return requester_for_user(user)


def _acme_requester(order: Order) -> Requester:
    account = db.session.get(AcmeAccount, order.requested_by_acme_account_id) \
        if order.requested_by_acme_account_id else None
    if account is None or not account.enabled or account.status != "valid":
        raise PolicyRejected((Violation(
            code="requester.inactive", field=None, message="The ACME account was disabled, "
            "deactivated or removed after submitting, so the certificate is not issued."),))
    return requester_for_acme_account(account)


def _courier_of(order: Order) -> Courier | None:
    return db.session.get(Courier, order.requested_by_courier_id) \
        if order.requested_by_courier_id else None


def _key_recipient(order: Order) -> str | None:
    """The courier public key a platform-made key is delivered to (as a JWE), or None for
    orders that are not a courier's. A courier order whose courier lost its encryption key
    since submitting is refused: the key it asked for could never reach it."""
    if order.requested_by_kind != "courier" or order.csr_pem:
        return None
    courier = _courier_of(order)
    if courier is None or not courier.encryption_public_key_pem:
        raise PolicyRejected((Violation(
            code="courier.no_encryption_key", field="csr", message="The courier has no "
            "encryption public key any more, so a key made by the platform could not be "
            "delivered to it. Submit a CSR, or set the courier's public key and resubmit."),))
    return courier.encryption_public_key_pem


def stored_request(order: Order) -> CertificateRequest:
    return CertificateRequest.from_dict(order.request).replace(
        provider_id=str(order.provider_id))


def _key_and_csr(order: Order, request: CertificateRequest, keyring: KeyEncryptionKeyring,
                 csr_needed: bool = True) -> tuple[object | None,
                                                   x509.CertificateSigningRequest | None]:
    """The requester's CSR; or the key made for this order (kept while it waits on a
    CA) and a CSR for it; or a new key. ``csr_needed`` False: no CSR for a key the
    platform makes (the Local PKI signs a public key; a CSR's self-signature proves
    nothing for a key the platform made itself, and building one cost ~6 % of a batch)."""
    if order.csr_pem:
        return None, x509.load_pem_x509_csr(order.csr_pem.encode())
    if order.pending_key_encrypted:
        key = load_private_key_pem(keyring.decrypt(order.pending_key_encrypted,
                                                   pending_key_binding(order.id)))
    else:
        if request.algorithm is None:
            raise ProviderRejectedError("The request names no key algorithm.")
        key = generate_private_key(request.algorithm)
    if not csr_needed:
        return key, None
    csr = build_csr(key, request.common_name or "", request.all_dns_names(),
                    request.ip_addresses, request.emails, digest=request.digest or "sha256")
    return key, csr


@dataclass(frozen=True)
class _Prepared:
    request: CertificateRequest           # as re-assessed (enforced values filled in)
    recipient: str | None
    key: object | None
    csr: x509.CertificateSigningRequest | None   # None: a platform-made key, no CSR asked

    def public_key(self) -> CertificateIssuerPublicKeyTypes:
        if self.csr is not None:
            return self.csr.public_key()
        return self.key.public_key()  # type: ignore[attr-defined,no-any-return]


def _prepare(order: Order, requester: Requester, keyring: KeyEncryptionKeyring,
             csr_needed: bool = True) -> _Prepared:
    """What every issuance of a claimed order does before its provider hears of it: the
    re-assessment (PolicyRejected when it now breaks a rule), the key's recipient, the
    key and (``csr_needed``, or the requester's) the CSR."""
    assessment = assess(stored_request(order), requester)
    if assessment.blocked:
        raise PolicyRejected(assessment.hard)
    request = assessment.request
    recipient = _key_recipient(order)
    key, csr = _key_and_csr(order, request, keyring, csr_needed)
    return _Prepared(request, recipient, key, csr)


def submit(order: Order) -> Outcome:
    """Send a claimed order to its provider. Raises PolicyRejected / ProviderRejectedError
    / PkiError for a permanent refusal, ProviderTransientError for a temporary one."""
    keyring = load_keyring()
    prepared = _prepare(order, requester_of(order), keyring)
    request, recipient, key, csr = (prepared.request, prepared.recipient, prepared.key,
                                    prepared.csr)
    assert csr is not None
    provider = build_provider(order.provider, order.id)
    if order.type == EXTERNAL_CA:      # a commercial CA: a second order is a second bill
        _mark_submission(order)
    result = provider.submit(request, csr)
    return settle(order, request, result, key, csr, keyring, recipient)


def _mark_submission(order: Order) -> None:
    """Orphan guard, committed before the CA hears of the order (see Order). Not for ACME:
    a second ACME order for the same names costs nothing and the CA may reuse it, so a
    lost worker there is recovered by sending it again."""
    db.session.execute(update(Order).where(Order.id == order.id).values(
        ca_submission_started_at=utcnow()).execution_options(synchronize_session=False))
    db.session.commit()
    db.session.refresh(order)


def resume(order: Order) -> Outcome:
    """Ask the CA about an order waiting on it (``external_id`` set). The request was
    judged when it was sent; the CA holds the rest of the state."""
    if not order.external_id:
        raise ProviderRejectedError("The order has no CA order to check.")
    request = stored_request(order)
    recipient = _key_recipient(order)
    keyring = load_keyring()
    key, csr = _key_and_csr(order, request, keyring)
    assert csr is not None
    result = build_provider(order.provider, order.id).poll(order.external_id, request, csr)
    return settle(order, request, result, key, csr, keyring, recipient)


def settle(order: Order, request: CertificateRequest, result: SubmitResult,
           key: object | None, csr: x509.CertificateSigningRequest,
           keyring: KeyEncryptionKeyring, recipient: str | None) -> Outcome:
    if result.status == SubmitStatus.PENDING:
        return _wait(order, result, key, keyring)
    if result.certificate is None:
        raise ProviderRejectedError("The provider answered without a certificate.")
    _check_matches(result.certificate, csr.public_key(), request)
    findings = None if order.provider.type == BUILTIN else \
        [f.to_dict() for f in lint(result.certificate)]
    return store_issued(order, request, result.certificate, result.chain, key, keyring,
                        recipient, findings)


def _check_matches(cert: x509.Certificate, public_key: CertificateIssuerPublicKeyTypes,
                   request: CertificateRequest) -> None:
    problems = mismatches(cert, public_key, dns_names=request.all_dns_names(),
                          ip_addresses=request.ip_addresses, emails=request.emails,
                          common_name=request.common_name)
    if problems:
        raise ProviderRejectedError("The CA's certificate does not match the order: "
                                    + "; ".join(problems) + ".", code="provider.mismatch")


@dataclass(frozen=True)
class Signed:
    """An order's certificate signed by the Local PKI, checked, not stored yet
    (``order_id``: read before any commit expires ``order``)."""
    order_id: uuid.UUID
    order: Order
    request: CertificateRequest
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    key: object | None
    recipient: str | None
    # The issuing CA's subject, RFC 4514 (the certificate's issuer): made once per CA, as a
    # certificate's own ``issuer.rfc4514_string()`` builds the name anew (~4 % of a batch job).
    issuer_dn: str


def sign_locally(order: Order, provider: LocalPKIProvider,
                 keyring: KeyEncryptionKeyring, requester: Requester) -> Signed:
    """What :func:`submit` does for a claimed Local PKI order up to storing: the same
    re-assessment and key, the provider's signature and the same checks of what it
    signed (no CSR is built for a platform-made key: the Local PKI signs its public key).
    For the batch path (``services/batch_issuance``), which stores many at once.
    ``requester``: :func:`requester_of` the order (a batch reads each requester once).
    Raises as :func:`submit` does for a refusal."""
    prepared = _prepare(order, requester, keyring, csr_needed=False)
    public_key = prepared.public_key()
    result = provider.sign_public_key(prepared.request, public_key)
    if result.status != SubmitStatus.ISSUED or result.certificate is None:
        raise ProviderRejectedError("The Local PKI answered without a certificate.")
    _check_matches(result.certificate, public_key, prepared.request)
    return Signed(order.id, order, prepared.request, result.certificate, result.chain,
                  prepared.key, prepared.recipient,
                  provider.host.issuing_ca(prepared.request.issuer_id).facts.subject_dn)


def _wait(order: Order, result: SubmitResult, key: object | None,
          keyring: KeyEncryptionKeyring) -> Waiting:
    if not result.external_id and not order.external_id:
        raise ProviderRejectedError("The provider answered 'pending' without an order id.")
    delay = max(int(result.retry_after or 0), 0)
    next_check = utcnow() + timedelta(seconds=delay)
    values: dict[str, object] = {"next_check_at": next_check,
                                 "external_id": order.external_id or result.external_id}
    if key is not None and not order.pending_key_encrypted:
        values["pending_key_encrypted"] = keyring.encrypt(
            private_key_to_pem(key), pending_key_binding(order.id))  # type: ignore[arg-type]
    db.session.execute(update(Order).where(
        Order.id == order.id, Order.status == OrderStatus.PROCESSING).values(**values)
        .execution_options(synchronize_session=False))
    when = "checking again at once" if delay < 1 else \
        f"next check {next_check:%H:%M:%S} UTC"
    what = result.note.rstrip(". ")
    note(order.id, OrderStatus.PROCESSING,
         f"Waiting for the CA{': ' + what if what else ''}; {when}.")
    db.session.commit()
    db.session.refresh(order)
    return Waiting(next_check_at=next_check, checks=order.checks)


def store_issued(order: Order, request: CertificateRequest, cert: x509.Certificate,
           chain: tuple[x509.Certificate, ...], key: object | None,
           keyring: KeyEncryptionKeyring, recipient: str | None,
           findings: list[dict[str, str]] | None) -> Issued:
    """``recipient``: the courier's public key PEM. A platform-made key for a courier is
    stored only as a JWE to it (``key_jwe``, handed out once), never under the KEK; a
    user's platform-made key is stored under the KEK for later export. ``findings``: the
    lint findings recorded for a certificate a CA returned."""
    row = certificate_row(order, request, cert, chain, key, keyring, recipient)
    certificate_id = row.id
    summary = issued_summary(row, findings)
    if not transition(order.id, OrderStatus.PROCESSING, OrderStatus.COMPLETE, summary,
                      finished_at=utcnow(), error=None, next_check_at=None,
                      pending_key_encrypted=None, lint_findings=findings):
        db.session.rollback()
        return Issued(None)
    db.session.add(row)
    try:
        db.session.flush()
        alerts.link_to_certificate(order.id, certificate_id)
        if order.certificate_profile_id is not None:  # a target system's: deploy it
            deployments.create(order, row, private_key_to_pem(key)  # type: ignore[arg-type]
                               if key is not None else None)
        announce_issue(order, row)
        # Read before the commit expires them (each read after it is a SELECT).
        local_pki = row.issuer_ca_id is not None
        revokes_predecessor = bool(order.revoke_predecessor and order.renews_certificate_id)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return Issued(None)
    if local_pki:
        _sign_ocsp_now(certificate_id)
    if revokes_predecessor and order.renews_certificate is not None:
        _revoke_predecessor(order, row)
    return Issued(certificate_id)


def certificate_row(order: Order, request: CertificateRequest, cert: x509.Certificate,
                    chain: tuple[x509.Certificate, ...], key: object | None,
                    keyring: KeyEncryptionKeyring, recipient: str | None,
                    issuer_dn: str | None = None) -> Certificate:
    """The certificate row an issued order stores (not added to the session). A
    platform-made key is kept under the KEK, or only as a JWE to the courier
    (``recipient``) — see :func:`store_issued`. ``issuer_dn``: the certificate's issuer,
    RFC 4514, when the caller knows it (the issuing CA's subject; the batch path)."""
    for_courier = key is not None and recipient is not None
    certificate_id = uuid.uuid4()
    provider = order.provider
    return Certificate(
        id=certificate_id, order_id=order.id, source="managed",
        common_name=request.common_name or (request.ip_addresses or ("",))[0],
        sans=[*request.all_dns_names(), *request.ip_addresses, *request.emails],
        issuer_dn=issuer_dn or cert.issuer.rfc4514_string(),
        issuer_ca_id=uuid.UUID(request.issuer_id) if request.issuer_id else None,
        provider=provider.name, provider_id=provider.id,
        algorithm=request.algorithm or _csr_algorithm(order),
        digest=request.digest or _signature_digest(cert),
        serial_hex=format(cert.serial_number, "x"), fingerprint_sha256=fingerprint_sha256(cert),
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
        certificate_pem=certificate_to_pem(cert).decode(),
        chain_pem="".join(certificate_to_pem(c).decode() for c in chain),
        encrypted_private_key=keyring.encrypt(private_key_to_pem(key),  # type: ignore[arg-type]
                                              certificate_key_binding(certificate_id))
        if key is not None and not for_courier else None,
        key_jwe=encrypt_to_public_key(private_key_to_pem(key),  # type: ignore[arg-type]
                                      recipient)  # type: ignore[arg-type]
        if for_courier else None,
        key_status=courier_keys.PENDING if for_courier else None,
        owner_user_id=_owner_of(order))


def issued_summary(row: Certificate, findings: list[dict[str, str]] | None) -> str:
    """The timeline entry of the move to ``complete``."""
    summary = f"Issued certificate serial {row.serial_hex}"
    if findings:
        summary += f"; lint recorded {len(findings)} finding{'s' if len(findings) > 1 else ''}"
    return summary


def announce_issue(order: Order, row: Certificate, hooks: list[Webhook] | None = None,
                   audit_events: list[AuditEvent] | None = None) -> None:
    """The audit event and the ``certificate.issued`` webhook deliveries of an issued
    certificate, in the caller's transaction (``hooks``: the subscribers, read once by a
    caller announcing many; ``audit_events``: where such a caller collects the audit
    events to insert them at once, instead of the session)."""
    event = audit.new_event(
        "certificate.issue", resource_type="certificate", resource_id=row.id,
        details={"common_name": row.common_name, "serial": row.serial_hex,
                 "order_id": str(order.id), "issuer": row.issuer_dn,
                 "not_after": row.not_after.isoformat(timespec="seconds"),
                 "requested_by": order.requested_by_label})
    if audit_events is None:
        db.session.add(event)
    else:
        audit_events.append(event)
    webhooks.emit("certificate.issued", {"certificate": {
        "id": str(row.id), "common_name": row.common_name, "sans": row.sans,
        "serial": row.serial_hex, "not_after": row.not_after.isoformat(timespec="seconds"),
        "order_id": str(order.id), "provider": row.provider,
        "renews_certificate_id": str(order.renews_certificate_id)
        if order.renews_certificate_id else None}}, hooks)


def _sign_ocsp_now(certificate_id: uuid.UUID) -> None:
    """A Local PKI certificate's OCSP answer ("good"), signed in this job rather than in a
    job of its own (a second job per order doubled the queue traffic of issuing). The
    certificate is issued either way: a failure here is logged and the ``ocsp-refresh``
    task signs it within the hour."""
    try:
        revocation_publishing.sign_certificate_ocsp(str(certificate_id))
    except Exception:
        db.session.rollback()
        log.exception("certificate %s: OCSP response not signed now; the ocsp-refresh "
                      "task will sign it", certificate_id)


def _revoke_predecessor(order: Order, row: Certificate) -> None:
    """The renewal asked for the renewed certificate to be revoked (``superseded``) once
    its successor is stored. The new certificate is committed already: a refusal (revoked
    meanwhile, no CA to revoke it at) is logged and audited by the service, not undone."""
    from app.services import revocation

    predecessor = order.renews_certificate
    assert predecessor is not None
    try:
        revocation.revoke_certificate(
            predecessor, "superseded", actor_label=f"renewal by {order.requested_by_label} "
            f"(superseded by serial {row.serial_hex})")
    except ServiceError as exc:
        db.session.rollback()
        log.warning("renewal %s: the predecessor %s was not revoked: %s", order.id,
                    predecessor.id, exc.message)
        note(order.id, OrderStatus.COMPLETE, "The renewed certificate was not revoked: "
             f"{exc.message}")
        db.session.commit()


def _owner_of(order: Order) -> int | None:
    """The requester, except that a renewal keeps the renewed certificate's owner (an
    administrator renewing a user's certificate renews it for that user)."""
    predecessor = order.renews_certificate
    if predecessor is not None and predecessor.owner_user_id is not None:
        return predecessor.owner_user_id
    return order.requested_by_user_id


def _signature_digest(cert: x509.Certificate) -> str:
    algorithm = cert.signature_hash_algorithm
    return algorithm.name if algorithm is not None else "none"


def _csr_algorithm(order: Order) -> str:
    request = CertificateRequest.from_dict(order.request)
    if request.csr_key is None:
        return "unknown"
    family = "ec" if request.csr_key.family == "ecdsa" else request.csr_key.family
    return f"{family}-{request.csr_key.bits}"

"""Issuing an order's certificate (runs in the worker: it decrypts and generates keys).

The order must already be ``processing`` (claimed by ``jobs.orders.issue_order``). This
re-checks the request against today's domains and policies, makes the key and CSR unless
the requester sent a CSR, has the provider sign, and stores the certificate and completes
the order in ONE transaction; the unique ``certificates.order_id`` makes a second
certificate for the same order impossible even if two runs got this far."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from cryptography import x509
from sqlalchemy.exc import IntegrityError

from app.domain.orders import OrderStatus
from app.domain.policy import Violation
from app.domain.request import CertificateRequest
from app.extensions import db
from app.models import Certificate, CertificateAuthority, Courier, Order, User
from app.models.base import utcnow
from app.pki.csr import build_csr
from app.pki.encoding import certificate_to_pem, fingerprint_sha256
from app.pki.key_encryption import KeyEncryptionKeyring
from app.pki.keys import generate_private_key, load_private_key_pem, private_key_to_pem
from app.providers.base import ProviderRejectedError, SubmitStatus
from app.providers.local_pki import IssuingCA, LocalPKIProvider
from app.services import alerts, audit, courier_keys
from app.services.couriers import requester_for_courier
from app.services.intake import assess
from app.services.jwe import encrypt_to_public_key
from app.services.keyring import load_keyring
from app.services.order_flow import transition
from app.services.orders import PolicyRejected
from app.services.requesters import Requester, requester_for_user


@dataclass(frozen=True)
class Issued:
    certificate_id: uuid.UUID | None      # None when another run completed the order first


def certificate_key_binding(certificate_id: uuid.UUID) -> bytes:
    return f"certificate:{certificate_id}".encode()


def ca_key_binding(ca_id: uuid.UUID) -> bytes:
    return f"ca:{ca_id}".encode()


def requester_of(order: Order) -> Requester:
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


def issue(order: Order) -> Issued:
    """Raises PolicyRejected / ProviderRejectedError / PkiError for a permanent refusal,
    ProviderTransientError for a temporary one."""
    request = CertificateRequest.from_dict(order.request)
    assessment = assess(request, requester_of(order))
    if assessment.blocked:
        raise PolicyRejected(assessment.hard)
    request = assessment.request
    recipient = _key_recipient(order)
    keyring = load_keyring()
    key = None
    if order.csr_pem:
        csr = x509.load_pem_x509_csr(order.csr_pem.encode())
    else:
        if request.algorithm is None:
            raise ProviderRejectedError("The request names no key algorithm.")
        key = generate_private_key(request.algorithm)
        csr = build_csr(key, request.common_name or "", request.all_dns_names(),
                        request.ip_addresses, request.emails, digest=request.digest or "sha256")
    result = _provider_for(request, keyring).submit(request, csr)
    if result.status != SubmitStatus.ISSUED or result.certificate is None:
        raise ProviderRejectedError("The provider did not issue a certificate.")
    return _store(order, request, result.certificate, result.chain, key, keyring, recipient)


def _provider_for(request: CertificateRequest,
                  keyring: KeyEncryptionKeyring) -> LocalPKIProvider:
    if (request.provider or "builtin") != "builtin":
        raise ProviderRejectedError(f"Provider '{request.provider}' is not available.")
    ca = db.session.get(CertificateAuthority, uuid.UUID(request.issuer_id)) \
        if request.issuer_id else None
    if ca is None or ca.is_root or not ca.can_sign or ca.certificate_pem is None:
        raise ProviderRejectedError("The chosen issuing CA can no longer sign (it was removed, "
                                    "expired or taken offline).")
    chain = []
    parent = ca.parent
    while parent is not None and parent.parent is not None:  # the root stays out of chains
        chain.append(x509.load_pem_x509_certificate(parent.certificate_pem.encode()))
        parent = parent.parent
    issuer_key = load_private_key_pem(
        keyring.decrypt(ca.encrypted_private_key or "", ca_key_binding(ca.id)))
    return LocalPKIProvider(IssuingCA(
        certificate=x509.load_pem_x509_certificate(ca.certificate_pem.encode()),
        private_key=issuer_key, chain=tuple(chain)))


def _store(order: Order, request: CertificateRequest, cert: x509.Certificate,
           chain: tuple[x509.Certificate, ...], key: object | None,
           keyring: KeyEncryptionKeyring, recipient: str | None = None) -> Issued:
    """``recipient``: the courier's public key PEM. A platform-made key for a courier is
    stored only as a JWE to it (``key_jwe``, handed out once), never under the KEK; a
    user's platform-made key is stored under the KEK for later export."""
    for_courier = key is not None and recipient is not None
    certificate_id = uuid.uuid4()
    row = Certificate(
        id=certificate_id, order_id=order.id, source="managed",
        common_name=request.common_name or (request.ip_addresses or ("",))[0],
        sans=[*request.all_dns_names(), *request.ip_addresses, *request.emails],
        issuer_dn=cert.issuer.rfc4514_string(),
        issuer_ca_id=uuid.UUID(request.issuer_id) if request.issuer_id else None,
        provider=request.provider or "builtin",
        algorithm=request.algorithm or _csr_algorithm(order), digest=request.digest or "sha256",
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
        owner_user_id=order.requested_by_user_id)
    if not transition(order.id, OrderStatus.PROCESSING, OrderStatus.COMPLETE,
                      f"Issued certificate serial {row.serial_hex}", finished_at=utcnow(),
                      error=None):
        db.session.rollback()
        return Issued(None)
    db.session.add(row)
    try:
        db.session.flush()
        alerts.link_to_certificate(order.id, certificate_id)
        audit.record("certificate.issue", resource_type="certificate",
                     resource_id=certificate_id, details={
                         "common_name": row.common_name, "serial": row.serial_hex,
                         "order_id": str(order.id), "issuer": row.issuer_dn,
                         "not_after": row.not_after.isoformat(timespec="seconds"),
                         "requested_by": order.requested_by_label})
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return Issued(None)
    return Issued(certificate_id)


def _csr_algorithm(order: Order) -> str:
    request = CertificateRequest.from_dict(order.request)
    if request.csr_key is None:
        return "unknown"
    family = "ec" if request.csr_key.family == "ecdsa" else request.csr_key.family
    return f"{family}-{request.csr_key.bits}"

"""The couriers' JSON API use cases (SPEC 8): submitting a certificate request (with
``Idempotency-Key`` replay), and the orders and certificates a courier may read (the rate
limits are in ``app.web.rate_limits``).

No rule lives here. A body becomes a :class:`CertificateRequest` through
``intake.request_from_values`` / ``intake.request_from_csr`` (as the wizard and the CSR
upload page do), is judged by ``intake.assess`` (active domains, the courier's allowed
domains, values, issuer, policies) and stored by ``orders.submit_order``, which judges it
again as the real gate. What is added here is API plumbing: the wizard's defaults for
fields the courier left out, the CSR/body name agreement, and the courier's encryption key
for platform-made keys.
"""
from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.domain.defaults import with_defaults
from app.domain.policy import Violation
from app.domain.providers import profile_for, unhonoured_fields
from app.domain.request import CertificateRequest
from app.domain.validation import parse_names
from app.extensions import db
from app.models import ApiIdempotencyKey, Certificate, Courier, Order
from app.services import alerts, renewals
from app.services.couriers import requester_for_courier
from app.services.errors import NotFound, ValidationFailed
from app.services.intake import (
    SUBJECT_FIELDS,
    assess,
    parse_csr_input,
    prefer_enforced_subject,
    request_from_csr,
    request_from_values,
)
from app.services.issuers import provider_of, with_default_provider
from app.services.lookup import by_uuid
from app.services.orders import PolicyRejected, submit_order

log = logging.getLogger(__name__)

PATHWAY = "courier"
MAX_IDEMPOTENCY_KEY_LENGTH = 255
# Options taken from the body with a CSR (the key and the subject come from the CSR).
CSR_OPTIONS = ("digest", "validity_days", "key_usage", "extended_key_usage", "provider_id",
               "issuer_id")
#: Body fields a provider may decide itself (refused when it does, not silently dropped).
CA_DECIDED_BODY = ("subject", "digest", "validity_days", "key_usage", "extended_key_usage")


@dataclass(frozen=True)
class Submission:
    order: Order
    warnings: tuple[Violation, ...]
    replayed: bool = False


# ---- submission ----------------------------------------------------------------------------

def body_hash(body: Mapping[str, Any]) -> str:
    """The request body's fingerprint for idempotency: canonical JSON, so key order and
    whitespace do not matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit_certificate(courier: Courier, body: Mapping[str, Any], *,
                       idempotency_key: str | None = None) -> Submission:
    """Turn a shape-checked body into a pending order of ``courier``.

    Raises PolicyRejected (422, every hard violation; nothing stored but the policy
    alerts) or ValidationFailed ``idempotency.key_reused``. With ``idempotency_key`` a
    retry with the same body returns the first order (``replayed``); the key row is
    inserted in the order's transaction, so two concurrent retries make one order."""
    digest = body_hash(body)
    if idempotency_key is not None:
        replay = _replay(courier, idempotency_key, digest)
        if replay is not None:
            return replay
    requester = requester_for_courier(courier)
    request, csr_pem, problems = _request_from_body(courier, body)
    request_key = _request_key(courier, idempotency_key)
    first = assess(request, requester, problems)
    if first.blocked:
        alerts.record_policy_alerts(first.violations, request_key=request_key,
                                    requester=requester, common_name=request.common_name)
        db.session.commit()
        raise PolicyRejected(first.hard)
    complete = with_defaults(request, first.evaluation)

    def claim_key(order: Order) -> None:
        if idempotency_key is not None:
            db.session.add(ApiIdempotencyKey(courier_id=courier.id, key=idempotency_key,
                                             request_hash=digest, order_id=order.id))
            db.session.flush()

    try:
        order, assessment = submit_order(complete, requester, pathway=PATHWAY,
                                         request_key=request_key, before_commit=claim_key,
                                         csr_pem=csr_pem)
    except IntegrityError:
        # A concurrent request with the same key won the unique constraint (submit_order
        # rolled this one back): answer as its replay.
        replay = _replay(courier, idempotency_key, digest) if idempotency_key else None
        if replay is None:
            raise
        log.info("courier %s: a concurrent request with the same Idempotency-Key won; "
                 "answering as its replay", courier.id)
        return replay
    return Submission(order=order, warnings=assessment.soft)


def _replay(courier: Courier, key: str, digest: str) -> Submission | None:
    row = db.session.scalar(select(ApiIdempotencyKey).where(
        ApiIdempotencyKey.courier_id == courier.id, ApiIdempotencyKey.key == key))
    if row is None:
        return None
    if row.request_hash != digest:
        raise ValidationFailed("This Idempotency-Key was already used with a different "
                               "request body; use a new key for a new request.",
                               code="idempotency.key_reused", field="Idempotency-Key")
    order = db.session.get(Order, row.order_id)
    if order is None:  # pragma: no cover - the key row cascades with its order
        return None
    # The warnings the first answer carried: the stored (final) request judged again.
    stored = CertificateRequest.from_dict(order.request)
    return Submission(order=order, replayed=True,
                      warnings=assess(stored, requester_for_courier(courier)).soft)


def _request_key(courier: Courier, idempotency_key: str | None) -> str:
    """Alerts are recorded once per request and rule: with an Idempotency-Key a retry is
    the same request; without one every POST is a request of its own."""
    tail = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40] if idempotency_key \
        else uuid.uuid4().hex
    return f"api:{courier.id.hex}:{tail}"


def _request_from_body(courier: Courier, body: Mapping[str, Any]
                       ) -> tuple[CertificateRequest, str | None, list[Violation]]:
    options = {k: body.get(k) for k in CSR_OPTIONS}
    if body.get("csr") is not None:
        parsed, problems = parse_csr_input(body["csr"])
        if parsed is None:
            raise PolicyRejected(tuple(problems))
        request, problems = request_from_csr(parsed, options)
        request = prefer_enforced_subject(with_default_provider(request))
        problems += _names_disagree(request, body) + _not_honoured(request, body)
        return request, parsed.pem, problems
    values = {**options, "common_name": body.get("common_name") or "",
              "sans": body.get("sans") or [], "algorithm": body.get("algorithm"),
              **{k: (body.get("subject") or {}).get(k) for k in SUBJECT_FIELDS}}
    request, problems = request_from_values(values)
    request = with_default_provider(request)
    problems += _not_honoured(request, body)
    if not courier.encryption_public_key_pem:
        problems.append(Violation(
            code="courier.no_encryption_key", field="csr",
            message="This courier has no encryption public key, so the platform cannot "
                    "make the key for it (the key is only ever returned encrypted to that "
                    "public key). Send a CSR, or ask an administrator to set the "
                    "courier's public key."))
    return request, None, problems


def _not_honoured(request: CertificateRequest, body: Mapping[str, Any]) -> list[Violation]:
    """Options the chosen provider decides itself (an ACME CA's validity, usages ...)."""
    provider = provider_of(request)
    if provider is None:
        return []
    given = {("organization" if k == "subject" else k): body[k]
             for k in CA_DECIDED_BODY if body.get(k) is not None}
    found = unhonoured_fields(given, profile_for(provider.type, provider.config),
                              provider.name)
    return [Violation(code=v.code, field="subject" if v.field == "organization" else v.field,
                      message=v.message) for v in found]


def _name_set(request: CertificateRequest) -> set[str]:
    names = {*request.all_dns_names(), *request.ip_addresses, *request.emails}
    if request.common_name:
        names.add(request.common_name)
    return names


def _names_disagree(request: CertificateRequest, body: Mapping[str, Any]) -> list[Violation]:
    """With a CSR the names come from the CSR; names also given in the body must be the
    same (compared normalised; the CN counts as a SAN, as in the certificate)."""
    found = []
    if body.get("common_name") is not None:
        given, *_ = parse_names(body["common_name"], [])
        if given != request.common_name:
            found.append(Violation(
                code="csr.names_mismatch", field="common_name",
                message=f"The common name '{str(body['common_name'])[:80]}' differs from the "
                        f"CSR's '{request.common_name}'; omit it or send the CSR's."))
    if body.get("sans") is not None:
        _, dns, ips, emails, _ = parse_names(request.common_name, body["sans"])
        given_names = {*dns, *ips, *emails, request.common_name} - {""}
        if given_names != _name_set(request):
            csr_sans = sorted(_name_set(request) - {request.common_name})
            found.append(Violation(
                code="csr.names_mismatch", field="sans",
                message=("The subject alternative names differ from the CSR's ("
                         + ", ".join(csr_sans) + "); omit them or send the CSR's.")
                if csr_sans else
                ("The CSR has no subject alternative names besides its common name; omit "
                 "'sans' or send an empty list.")))
    return found


# ---- renewal -------------------------------------------------------------------------------

NO_ENCRYPTION_KEY = Violation(
    code="courier.no_encryption_key", field="csr",
    message="This courier has no encryption public key, so the platform cannot make the "
            "key for it (the key is only ever returned encrypted to that public key). "
            "Send a CSR, or ask an administrator to set the courier's public key.")


def renew_certificate(courier: Courier, certificate_id: str, body: Mapping[str, Any]
                      ) -> Submission:
    """Renew one of the courier's certificates (``renewals.renew``: the same intake and
    gate as a new request, under ``certificate.renew``)."""
    cert = certificate_for(courier, certificate_id)
    extra = []
    if body.get("csr") is None and cert.order is not None \
            and not renewals.needs_csr(cert.order) and not courier.encryption_public_key_pem:
        extra.append(NO_ENCRYPTION_KEY)
    order, assessment = renewals.renew(
        cert, requester_for_courier(courier), pathway=PATHWAY, csr=body.get("csr"),
        revoke_predecessor=bool(body.get("revoke_predecessor")), extra_problems=extra)
    return Submission(order=order, warnings=assessment.soft)


# ---- reading -------------------------------------------------------------------------------

def order_for(courier: Courier, order_id: str) -> Order:
    """The order if ``courier`` made it; NotFound otherwise (a user's or another
    courier's order id reveals nothing)."""
    order = by_uuid(Order, order_id)
    if order is None or order.requested_by_courier_id != courier.id:
        raise NotFound("No such order.", code="order.not_found")
    return order


def certificate_for(courier: Courier, certificate_id: str) -> Certificate:
    certificate = by_uuid(Certificate, certificate_id)
    if certificate is None or certificate.order is None \
            or certificate.order.requested_by_courier_id != courier.id:
        raise NotFound("No such certificate.", code="certificate.not_found")
    return certificate

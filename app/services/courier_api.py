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
from collections.abc import Callable, Mapping, Sequence
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
from app.services.batch_reads import shared_reads
from app.services.couriers import requester_for_courier
from app.services.errors import NotFound, ServiceError, ValidationFailed
from app.services.intake import (
    SUBJECT_FIELDS,
    assess,
    batch_preloaded,
    parse_csr_input,
    prefer_enforced_subject,
    request_from_csr,
    request_from_values,
)
from app.services.issuers import provider_of, with_default_provider
from app.services.lookup import by_uuid
from app.services.orders import OrderDraft, PolicyRejected, submit_order, submit_orders
from app.services.requesters import Requester

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
    return _replay_of(row, digest, requester_for_courier(courier))


def _replay_of(row: ApiIdempotencyKey, digest: str, requester: Requester
               ) -> Submission | None:
    """The answer to a request whose key ``row`` holds: the first order, or
    ``idempotency.key_reused`` for another body."""
    if row.request_hash != digest:
        raise ValidationFailed("This Idempotency-Key was already used with a different "
                               "request body; use a new key for a new request.",
                               code="idempotency.key_reused", field="Idempotency-Key")
    order = db.session.get(Order, row.order_id)
    if order is None:  # pragma: no cover - the key row cascades with its order
        return None
    # The warnings the first answer carried: the stored (final) request judged again.
    stored = CertificateRequest.from_dict(order.request)
    return Submission(order=order, replayed=True, warnings=assess(stored, requester).soft)


# ---- batch submission ----------------------------------------------------------------------

MAX_BATCH_REQUESTS = 100


@dataclass(frozen=True)
class BatchItem:
    """One request of a batch: its shape-checked body (the single endpoint's) and its
    own Idempotency-Key, or ``refused``, the error the single endpoint gives its shape."""
    body: Mapping[str, Any] | None = None
    idempotency_key: str | None = None
    refused: ServiceError | None = None


@dataclass(frozen=True)
class BatchResult:
    """What the single endpoint would answer the item: a submission or an error."""
    submission: Submission | None = None
    error: ServiceError | None = None


def submit_many(courier: Courier, items: Sequence[BatchItem]) -> list[BatchResult]:
    """:func:`submit_certificate` for each item, one result per item in order, as one use
    case: the courier's scope built once, the configuration rows read once
    (``batch_reads.shared_reads``), the default provider worked out once, the policy
    index and the active domains of every item read once (``intake.batch_preloaded``);
    each item through the same intake and gate (``orders.submit_orders``), whose accepted
    orders are written in one transaction and queued in one Redis round trip. A refused
    item records its policy alerts, as alone.

    Idempotency keys work per item as the header does for one request (the same key
    space: a batch item replays an order made by the single endpoint and vice versa).
    A concurrent request that claims one of the keys first makes the whole transaction
    fail on the unique constraint: it is then run once more, answering that item as the
    winner's replay."""
    try:
        return _submit_many(courier, items)
    except IntegrityError:
        if not any(item.idempotency_key for item in items):
            raise
        log.info("courier %s: a concurrent request claimed an Idempotency-Key of this "
                 "batch first; running the batch again", courier.id)
        return _submit_many(courier, items)


@dataclass(frozen=True)
class _Parsed:
    index: int
    item: BatchItem
    digest: str
    request: CertificateRequest
    csr_pem: str | None
    problems: list[Violation]


def _submit_many(courier: Courier, items: Sequence[BatchItem]) -> list[BatchResult]:
    requester = requester_for_courier(courier)
    with_provider = _default_provider_once()
    results: list[BatchResult | None] = [None] * len(items)
    stored_keys = _key_rows(courier, {item.idempotency_key for item in items
                                      if item.idempotency_key and item.body is not None})
    with shared_reads():
        parsed: list[_Parsed] = []
        for index, item in enumerate(items):
            if item.body is None:
                results[index] = BatchResult(error=item.refused)
                continue
            digest = body_hash(item.body)
            try:
                row = stored_keys.get(item.idempotency_key) if item.idempotency_key else None
                replay = _replay_of(row, digest, requester) if row is not None else None
                if replay is not None:
                    results[index] = BatchResult(submission=replay)
                    continue
                request, csr_pem, problems = _request_from_body(courier, item.body,
                                                                with_provider=with_provider)
            except ServiceError as error:
                results[index] = BatchResult(error=error)
                continue
            parsed.append(_Parsed(index, item, digest, request, csr_pem, problems))
        drafts: list[tuple[int, OrderDraft]] = []
        with batch_preloaded(p.request for p in parsed):
            for p in parsed:
                request_key = _request_key(courier, p.item.idempotency_key)
                first = assess(p.request, requester, p.problems)
                if first.blocked:
                    alerts.record_policy_alerts(first.violations, request_key=request_key,
                                                requester=requester,
                                                common_name=p.request.common_name)
                    results[p.index] = BatchResult(error=PolicyRejected(first.hard))
                    continue
                drafts.append((p.index, OrderDraft(
                    with_defaults(p.request, first.evaluation), request_key,
                    csr_pem=p.csr_pem,
                    claim=_claim(courier, p.item.idempotency_key, p.digest)
                    if p.item.idempotency_key else None,
                    earlier_alerts=p.item.idempotency_key is not None)))
            outcomes = submit_orders([d for _, d in drafts], requester, pathway=PATHWAY)
    for (index, _), outcome in zip(drafts, outcomes, strict=True):
        if isinstance(outcome, ServiceError):
            results[index] = BatchResult(error=outcome)
        else:
            order, assessment = outcome
            results[index] = BatchResult(submission=Submission(order=order,
                                                               warnings=assessment.soft))
    if any(r is None for r in results):  # pragma: no cover - every branch above answers
        raise RuntimeError("a batch item was left without a result")
    return results  # type: ignore[return-value]


def _default_provider_once() -> Callable[[CertificateRequest], CertificateRequest]:
    """``with_default_provider`` worked out once per (provider, issuer) asked for: its
    answer depends on nothing else of the request."""
    chosen: dict[tuple[str | None, str | None], CertificateRequest] = {}

    def resolve(request: CertificateRequest) -> CertificateRequest:
        asked = (request.provider_id, request.issuer_id)
        if asked not in chosen:
            chosen[asked] = with_default_provider(request)
        done = chosen[asked]
        return request.replace(provider_id=done.provider_id, issuer_id=done.issuer_id)

    return resolve


def _key_rows(courier: Courier, keys: set[str | None]) -> dict[str, ApiIdempotencyKey]:
    """The courier's stored idempotency keys among ``keys``, in one query."""
    wanted = sorted(k for k in keys if k)
    if not wanted:
        return {}
    return {row.key: row for row in db.session.scalars(select(ApiIdempotencyKey).where(
        ApiIdempotencyKey.courier_id == courier.id, ApiIdempotencyKey.key.in_(wanted)))}


def _claim(courier: Courier, key: str | None, digest: str) -> Callable[[Order], None]:
    """The key row, added in the order's transaction (the batch flushes once)."""
    def claim(order: Order) -> None:
        db.session.add(ApiIdempotencyKey(courier_id=courier.id, key=key, request_hash=digest,
                                         order_id=order.id))
    return claim


def _request_key(courier: Courier, idempotency_key: str | None) -> str:
    """Alerts are recorded once per request and rule: with an Idempotency-Key a retry is
    the same request; without one every POST is a request of its own."""
    tail = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40] if idempotency_key \
        else uuid.uuid4().hex
    return f"api:{courier.id.hex}:{tail}"


def _request_from_body(courier: Courier, body: Mapping[str, Any], *,
                       with_provider: Callable[[CertificateRequest], CertificateRequest]
                       = with_default_provider
                       ) -> tuple[CertificateRequest, str | None, list[Violation]]:
    options = {k: body.get(k) for k in CSR_OPTIONS}
    if body.get("csr") is not None:
        parsed, problems = parse_csr_input(body["csr"])
        if parsed is None:
            raise PolicyRejected(tuple(problems))
        request, problems = request_from_csr(parsed, options)
        request = prefer_enforced_subject(with_provider(request))
        problems += _names_disagree(request, body) + _not_honoured(request, body)
        return request, parsed.pem, problems
    values = {**options, "common_name": body.get("common_name") or "",
              "sans": body.get("sans") or [], "algorithm": body.get("algorithm"),
              **{k: (body.get("subject") or {}).get(k) for k in SUBJECT_FIELDS}}
    request, problems = request_from_values(values)
    request = with_provider(request)
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

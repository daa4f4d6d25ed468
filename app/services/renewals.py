"""Renewal (SPEC 10): a new order built from the original order's request, in the channel
the renewal arrives through, judged again by today's domains and policies under the
``certificate.renew`` action, and stored by ``orders.submit_order`` like every request.

A platform-made key is always new (the request carries no key, the worker makes one); a
CSR order's renewal needs a new CSR; an external provider's certificate renews at the same
provider (the stored request names it). The new order names the order and certificate it
renews (``renews_order_id`` / ``renews_certificate_id``)."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from app.domain.policy import Violation
from app.domain.request import CertificateRequest
from app.domain.roles import Role
from app.extensions import db
from app.models import Certificate, Courier, Order, User
from app.services import alerts
from app.services.certificates import get_certificate_for
from app.services.couriers import requester_for_courier
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.intake import (
    MAX_CSR_BYTES,
    Assessment,
    ParsedCSR,
    assess,
    parse_csr_input,
    prefer_enforced_subject,
    request_from_csr,
)
from app.services.issuers import issuer_choices, provider_of, with_default_provider
from app.services.orders import PolicyRejected, submit_order
from app.services.requesters import Requester, requester_for_user

__all__ = ["MAX_CSR_BYTES", "RENEW_ACTION", "renew"]

RENEW_ACTION = "certificate.renew"
#: Revoking the renewed certificate (reason ``superseded``) once the renewal is issued:
#: ``issuance.store_issued`` calls the revocation service after the new certificate commits.
REVOKE_PREDECESSOR_AVAILABLE = True
#: Besides the owner, these roles may renew any certificate (SPEC 10).
RENEWER_ROLES = frozenset({Role.SUPER_ADMIN, Role.PKI_ADMIN})
#: Options a CSR renewal takes from the original request (the key and names are the CSR's).
CSR_OPTIONS = ("digest", "validity_days", "key_usage", "extended_key_usage", "provider_id",
               "issuer_id")


# ---- who and what ----------------------------------------------------------------------

def may_renew(cert: Certificate, user: User) -> bool:
    return cert.owner_user_id == user.id or user.role in RENEWER_ROLES


def renewable_for(certificate_id: object, user: User) -> Certificate:
    """The certificate if ``user`` may renew it; NotFound otherwise (also when they may see
    it but not renew it: the page shows no Renew button then)."""
    cert = get_certificate_for(certificate_id, user)
    if not may_renew(cert, user):
        raise NotFound("No such certificate.", code="certificate.not_found")
    return cert


def renewals_of(cert: Certificate) -> list[Order]:
    """Orders renewing ``cert``, newest first."""
    return list(db.session.scalars(select(Order).where(
        Order.renews_certificate_id == cert.id).order_by(Order.submitted_at.desc())))


def open_renewal(cert: Certificate) -> Order | None:
    """The renewal under way or done (a failed one does not count: renew again)."""
    return next((o for o in renewals_of(cert) if o.status != "failed"), None)


def original_order(cert: Certificate) -> Order:
    """The order that made ``cert``; Conflict when it cannot be renewed here."""
    if cert.order is None:
        raise Conflict("This certificate was not issued through the platform, so there is "
                       "no request to renew; request a new certificate for its names.",
                       code="renewal.no_order")
    existing = open_renewal(cert)
    if existing is not None:
        raise Conflict(f"This certificate is already being renewed (order {existing.id}, "
                       f"{existing.status}).", code="renewal.exists")
    return cert.order


def needs_csr(order: Order) -> bool:
    return order.csr_pem is not None


def original_requester(order: Order) -> Requester:
    """Who asked for ``order`` (the CLI renews on their behalf, in their scope)."""
    if order.requested_by_courier_id is not None:
        courier = db.session.get(Courier, order.requested_by_courier_id)
        if courier is not None and courier.enabled:
            return requester_for_courier(courier)
    elif order.requested_by_user_id is not None:
        user = db.session.get(User, order.requested_by_user_id)
        if user is not None and user.enabled:
            return requester_for_user(user)
    raise Conflict("The original requester is disabled or removed; renew from the "
                   "certificate page as an administrator instead.",
                   code="renewal.requester_gone")


# ---- the request -----------------------------------------------------------------------

def csr_options(order: Order) -> dict[str, Any]:
    """The original's certificate options, as the CSR upload page and couriers prefill."""
    stored = order.request or {}
    return {k: stored.get(k) for k in CSR_OPTIONS}


def _current_issuer(request: CertificateRequest) -> CertificateRequest:
    """A Local PKI request keeps its intermediate while it can still sign; otherwise the
    newest one signs the renewal (a retired CA must not block renewing)."""
    provider = provider_of(request)
    if provider is None or not provider.is_builtin or request.issuer_id is None:
        return with_default_provider(request)
    if any(c.issuer_id == request.issuer_id for c in issuer_choices()):
        return request
    return with_default_provider(request.replace(issuer_id=None))


def csr_prefill(order: Order) -> dict[str, Any]:
    """The CSR upload page's first options for a renewal: the original's, less a Local
    PKI intermediate that can no longer sign (the page then offers the newest)."""
    options = {k: v for k, v in csr_options(order).items() if v not in (None, [], "")}
    options.pop("provider_id", None)
    if options.get("issuer_id") and not any(c.issuer_id == options["issuer_id"]
                                            for c in issuer_choices()):
        options.pop("issuer_id")
    if "validity_days" in options:
        options["validity_days"] = str(options["validity_days"])
    return options


def renewal_request(order: Order, parsed: ParsedCSR | None,
                    options: dict[str, Any] | None = None
                    ) -> tuple[CertificateRequest, list[Violation]]:
    """The original request under ``certificate.renew``; with a CSR, the CSR's names and
    key with ``options`` (default: the original's). A CSR order without a new CSR is
    refused."""
    if parsed is None:
        if needs_csr(order):
            raise ValidationFailed(
                "This certificate was issued for a CSR: its renewal needs a new CSR (the "
                "platform never has that key).", code="renewal.csr_required", field="csr")
        stored = CertificateRequest.from_dict(order.request)
        request = stored.replace(action=RENEW_ACTION, provider_id=str(order.provider_id))
        return _current_issuer(request), []
    chosen = csr_options(order) if options is None else options
    request, problems = request_from_csr(parsed, chosen, action=RENEW_ACTION)
    return _current_issuer(prefer_enforced_subject(request)), problems


def parse_csr(text: str | bytes | None) -> ParsedCSR | None:
    """A CSR given with a renewal, or None; a bad one is refused like a new request's."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    parsed, problems = parse_csr_input(text)
    if parsed is None:
        raise PolicyRejected(tuple(problems))
    return parsed


def judge(order: Order, parsed: ParsedCSR | None, requester: Requester,
          options: dict[str, Any] | None = None) -> tuple[CertificateRequest, Assessment]:
    request, problems = renewal_request(order, parsed, options)
    return request, assess(request, requester, problems)


# ---- submitting ------------------------------------------------------------------------

def renew(cert: Certificate, requester: Requester, *, pathway: str,
          csr: str | bytes | None = None, revoke_predecessor: bool = False,
          extra_problems: list[Violation] | None = None,
          options: dict[str, Any] | None = None) -> tuple[Order, Assessment]:
    """Submit the renewal of ``cert``. Raises Conflict (nothing to renew, already
    renewing), ValidationFailed ``renewal.csr_required``, PolicyRejected (every hard
    violation, as for a new request; only alerts are stored). ``options``: certificate
    options chosen for a CSR renewal (the CSR upload page); default the original's."""
    if revoke_predecessor and not REVOKE_PREDECESSOR_AVAILABLE:
        raise ValidationFailed(
            "Revoking the renewed certificate is not available on this platform yet; "
            "renew without it and revoke the old certificate once the new one is in use.",
            code="renewal.revoke_unavailable", field="revoke_predecessor")
    order = original_order(cert)
    parsed = parse_csr(csr)
    request, first = judge(order, parsed, requester, options)
    request_key = f"renew:{cert.id.hex}:{uuid.uuid4().hex[:16]}"
    violations = [*first.violations, *(extra_problems or [])]
    hard = [v for v in violations if v.severity != "soft"]
    if hard:
        alerts.record_policy_alerts(tuple(violations), request_key=request_key,
                                    requester=requester, common_name=request.common_name)
        db.session.commit()
        raise PolicyRejected(tuple(hard))

    def link(new: Order) -> None:
        new.renews_order_id = order.id
        new.renews_certificate_id = cert.id
        new.revoke_predecessor = revoke_predecessor

    return submit_order(request, requester, pathway=pathway, request_key=request_key,
                        csr_pem=parsed.pem if parsed else None, before_commit=link,
                        timeline_note=f"Renewal of certificate serial {cert.serial_hex}")

"""Request New Certificate: the server-side draft behind the four wizard steps."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select, update

from app.domain.request import CertificateRequest
from app.extensions import db
from app.models import Order, User, WizardDraft
from app.services import alerts
from app.services.errors import Conflict, NotFound
from app.services.intake import SUBJECT_FIELDS, Assessment, assess, request_from_values
from app.services.issuers import (
    check_complete_for_provider,
    provider_of,
    with_default_provider,
)
from app.services.lookup import by_uuid
from app.services.orders import PolicyRejected, submit_order
from app.services.requesters import requester_for_user

STEPS = ("names", "subject", "crypto", "review")
STEP_FIELDS: dict[str, tuple[str, ...]] = {
    "names": ("common_name", "sans"),
    "subject": SUBJECT_FIELDS,
    "crypto": ("provider_id", "issuer_id", "algorithm", "digest", "validity_days",
               "key_usage", "extended_key_usage"),
    "review": (),
}
LIST_FIELDS = {"sans", "key_usage", "extended_key_usage"}


def start_or_resume(user: User) -> WizardDraft:
    """The user's latest unsubmitted draft, or a new one: a reload never loses input."""
    draft = db.session.scalar(select(WizardDraft).where(
        WizardDraft.user_id == user.id, WizardDraft.order_id.is_(None))
        .order_by(WizardDraft.updated_at.desc()).limit(1))
    return draft or new_draft(user)


def new_draft(user: User) -> WizardDraft:
    draft = WizardDraft(user_id=user.id, step=0, data={})
    db.session.add(draft)
    db.session.commit()
    return draft


def get_draft(draft_id: str, user: User) -> WizardDraft:
    draft = by_uuid(WizardDraft, draft_id)
    if draft is None or draft.user_id != user.id:
        raise NotFound("No such request draft.", code="draft.not_found")
    return draft


def values_upto(draft: WizardDraft, step: str) -> dict[str, Any]:
    """The draft's values of ``step`` and the steps before it: what was "entered so far"."""
    keys = {k for s in STEPS[: STEPS.index(step) + 1] for k in STEP_FIELDS[s]}
    return {k: v for k, v in draft.data.items() if k in keys}


def assess_values(values: dict[str, Any], user: User) -> Assessment:
    request, problems = request_from_values(values)
    if "provider_id" in values or "issuer_id" in values:
        request = with_default_provider(request)
    return assess(request, requester_for_user(user), problems)


def assess_draft(draft: WizardDraft, user: User, step: str) -> Assessment:
    return assess_values(values_upto(draft, step), user)


def save_values(draft: WizardDraft, step: str, values: dict[str, Any]) -> None:
    data = dict(draft.data)  # a new dict, so SQLAlchemy sees the JSON change
    for key in STEP_FIELDS[step]:
        if key in values:
            data[key] = values[key]
    if step == "crypto" and data.get("provider_id"):
        chosen = provider_of(CertificateRequest(common_name="", provider_id=str(
            data["provider_id"])))
        if chosen is not None and not chosen.is_builtin:
            data["issuer_id"] = ""   # an issuing CA belongs to the Local PKI only
    draft.data = data


def advance(draft: WizardDraft, step: str, values: dict[str, Any], user: User) -> Assessment:
    """Save the step and judge everything entered so far. On success the draft may move on;
    policy violations become alerts once per draft and rule, whatever the outcome."""
    _ensure_open(draft)
    save_values(draft, step, values)
    assessment = assess_draft(draft, user, step)
    if step == "crypto":  # the last input step: the request must now be complete
        assessment = replace(assessment, violations=(
            *assessment.violations, *check_complete_for_provider(assessment.request)))
    if not assessment.blocked:
        draft.step = max(draft.step, STEPS.index(step) + 1)
    alerts.record_policy_alerts(assessment.violations, request_key=_request_key(draft),
                                requester=requester_for_user(user),
                                common_name=str(draft.data.get("common_name", "")))
    db.session.commit()
    return assessment


def go_back(draft: WizardDraft, step: str, values: dict[str, Any]) -> None:
    """Keep what was typed on this step without judging it."""
    _ensure_open(draft)
    save_values(draft, step, values)
    db.session.commit()


def submit(draft: WizardDraft, user: User) -> Order:
    """Turn the draft into a pending order, once. A second submit raises Conflict."""
    _ensure_open(draft)
    request, problems = request_from_values(draft.data)
    if problems:
        raise PolicyRejected(tuple(problems))

    def claim(order: Order) -> None:
        claimed = db.session.execute(update(WizardDraft).where(
            WizardDraft.id == draft.id, WizardDraft.order_id.is_(None)
        ).values(order_id=order.id)).rowcount
        if not claimed:
            raise Conflict("This request was already submitted.", code="draft.submitted")

    order, _ = submit_order(with_default_provider(request), requester_for_user(user),
                            pathway="wizard", request_key=_request_key(draft),
                            before_commit=claim)
    return order


def _ensure_open(draft: WizardDraft) -> None:
    if draft.is_submitted:
        raise Conflict("This request was already submitted.", code="draft.submitted")


def _request_key(draft: WizardDraft) -> str:
    return f"draft:{draft.id}"


def draft_from_request(user: User, request: CertificateRequest) -> WizardDraft:
    """A new draft holding ``request``'s values, ready for review (Resubmit)."""
    data: dict[str, Any] = {
        "common_name": request.common_name,
        "sans": [*request.dns_names, *request.ip_addresses, *request.emails],
        "provider_id": request.provider_id or "",
        "issuer_id": request.issuer_id or "", "algorithm": request.algorithm or "",
        "digest": request.digest or "",
        "validity_days": str(request.validity_days or ""),
        "key_usage": list(request.key_usage),
        "extended_key_usage": list(request.extended_key_usage),
    }
    data.update({f: getattr(request, f) or "" for f in SUBJECT_FIELDS})
    draft = WizardDraft(user_id=user.id, step=STEPS.index("review"), data=data)
    db.session.add(draft)
    db.session.commit()
    return draft


def draft_from_values(user: User, values: dict[str, Any]) -> WizardDraft:
    """A new draft holding ``values`` (names and subject), opened at its first step: the
    requester reviews the names, the subject and chooses the rest (Request a replacement)."""
    keys = {*STEP_FIELDS["names"], *STEP_FIELDS["subject"]}
    draft = WizardDraft(user_id=user.id, step=0,
                        data={k: v for k, v in values.items() if k in keys})
    db.session.add(draft)
    db.session.commit()
    return draft

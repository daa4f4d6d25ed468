"""Audit trail writer. ``record`` joins the caller's transaction so the event commits (or
rolls back) with the change it describes."""
from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from app.extensions import db
from app.models import AuditEvent, User

SUCCESS = "success"
FAILURE = "failure"
DENIED = "denied"


def record(
    action: str,
    *,
    outcome: str = SUCCESS,
    resource_type: str = "",
    resource_id: object = "",
    details: dict[str, Any] | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """An audit event, added to the session (written with the caller's transaction)."""
    event = new_event(action, outcome=outcome, resource_type=resource_type,
                      resource_id=resource_id, details=details, actor=actor,
                      actor_label=actor_label)
    db.session.add(event)
    return event


def new_event(
    action: str,
    *,
    outcome: str = SUCCESS,
    resource_type: str = "",
    resource_id: object = "",
    details: dict[str, Any] | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """:func:`record`'s event, not added to the session (a batch inserts many at once)."""
    actor = actor if actor is not None else _current_actor()
    return AuditEvent(
        actor_id=actor.id if actor else None,
        actor_label=actor_label or (actor.email if actor else "system"),
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id),
        outcome=outcome,
        details=details or {},
        source_ip=request.remote_addr if has_request_context() else None,
    )


def _current_actor() -> User | None:
    if has_request_context() and current_user.is_authenticated:
        return current_user._get_current_object()  # type: ignore[no-any-return]
    return None


def commit() -> None:
    """For views that record an event outside another use case (e.g. logout)."""
    db.session.commit()

"""Signed webhooks (SPEC 10): endpoints managed by super admins (Admin → Notifications),
events fanned out to deliveries, and the worker's delivery job with its log.

Each delivery POSTs the JSON body with ``X-Webhook-Timestamp`` and ``X-Webhook-Signature:
sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``; the secret is sealed to the worker's
public key when saved (only the worker, which signs, can open it). A failed attempt
(network error or a non-2xx answer) is retried after 1 min, 5 min, 30 min and 2 h
(``WEBHOOK_RETRY_SECONDS``); every attempt is logged with its status and duration. The URL
passes the outbound-safety check when saved and again when called."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.jobs.enqueue import enqueue
from app.models import User, Webhook, WebhookAttempt, WebhookDelivery
from app.models.base import utcnow
from app.net.outbound import OutboundBlocked, OutboundSession, check_url
from app.services import audit
from app.services.errors import NotFound, ValidationFailed
from app.services.lookup import by_uuid
from app.services.mailer import retry_intervals
from app.services.providers import outbound_policy
from app.services.worker_keys import open_sealed, seal_for_worker

log = logging.getLogger(__name__)

EVENTS = ("certificate.expiring", "certificate.expired", "certificate.issued",
          "certificate.revoked", "order.failed")
MIN_SECRET_LENGTH = 16
MAX_URL_LENGTH = 2000


class DeliveryFailed(Exception):
    """The receiver did not take the delivery (the job is retried)."""


def signature(secret: str, timestamp: str, body: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _binding(webhook_id: uuid.UUID) -> str:
    return f"webhook:{webhook_id}:secret"


# ---- managing ------------------------------------------------------------------------------

def list_webhooks() -> list[Webhook]:
    return list(db.session.scalars(select(Webhook).order_by(Webhook.name)))


def get_webhook(webhook_id: object) -> Webhook:
    row = by_uuid(Webhook, webhook_id)
    if row is None:
        raise NotFound("No such webhook.", code="webhook.not_found")
    return row


def _clean(name: str, url: str, events: Iterable[str], exclude: uuid.UUID | None
           ) -> tuple[str, str, list[str]]:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("Give the webhook a name of 1 to 100 characters.",
                               code="webhook.name", field="name")
    clash = db.session.scalar(select(Webhook.id).where(Webhook.name == name))
    if clash is not None and clash != exclude:
        raise ValidationFailed(f"A webhook named '{name}' already exists.",
                               code="webhook.name_taken", field="name")
    url = (url or "").strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValidationFailed("The URL is too long.", code="webhook.url", field="url")
    try:
        check_url(url, outbound_policy())
    except OutboundBlocked as exc:
        raise ValidationFailed(str(exc), code=exc.code, field="url") from exc
    chosen = sorted(set(events))
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown or not chosen:
        raise ValidationFailed("Choose at least one event of " + ", ".join(EVENTS) + ".",
                               code="webhook.events", field="events")
    return name, url, chosen


def _check_secret(secret: str) -> None:
    if len(secret) < MIN_SECRET_LENGTH or len(secret) > 200:
        raise ValidationFailed(f"The secret must be {MIN_SECRET_LENGTH} to 200 characters.",
                               code="webhook.secret", field="secret")


def create_webhook(name: str, url: str, events: Iterable[str], secret: str, *,
                   actor: User | None = None, active: bool = True) -> Webhook:
    name, url, chosen = _clean(name, url, events, None)
    _check_secret(secret)
    row = Webhook(id=uuid.uuid4(), name=name, url=url, events=chosen, active=active)
    row.secret_sealed = seal_for_worker(secret, _binding(row.id))
    db.session.add(row)
    audit.record("webhook.create", resource_type="webhook", resource_id=row.id, actor=actor,
                 details={"name": name, "url": url, "events": chosen})
    db.session.commit()
    return row


def update_webhook(row: Webhook, *, name: str, url: str, events: Iterable[str],
                   secret: str | None, active: bool, actor: User | None = None) -> None:
    """An empty ``secret`` keeps the stored one (secrets are write-only)."""
    name, url, chosen = _clean(name, url, events, row.id)
    if secret:
        _check_secret(secret)
        row.secret_sealed = seal_for_worker(secret, _binding(row.id))
    row.name, row.url, row.events, row.active = name, url, chosen, active
    audit.record("webhook.update", resource_type="webhook", resource_id=row.id, actor=actor,
                 details={"name": name, "url": url, "events": chosen, "active": active,
                          "secret_changed": bool(secret)})
    db.session.commit()


def delete_webhook(row: Webhook, *, actor: User | None = None) -> None:
    audit.record("webhook.delete", resource_type="webhook", resource_id=row.id, actor=actor,
                 details={"name": row.name})
    db.session.delete(row)
    db.session.commit()


def recent_deliveries(row: Webhook, limit: int = 50) -> list[WebhookDelivery]:
    return list(db.session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.webhook_id == row.id).order_by(WebhookDelivery.id.desc())
        .limit(limit)))


# ---- events --------------------------------------------------------------------------------

def subscribers(event_name: str) -> list[Webhook]:
    if event_name not in EVENTS:
        raise ValueError(f"unknown webhook event {event_name!r}")
    return [h for h in db.session.scalars(select(Webhook).where(Webhook.active.is_(True)))
            if event_name in (h.events or [])]


def emit(event_name: str, data: Mapping[str, Any], hooks: list[Webhook] | None = None
         ) -> list[int]:
    """Add one delivery per active webhook subscribed to ``event_name`` (flushed, not
    committed: they go to the worker when the caller's transaction commits). ``hooks``:
    the subscribers, when the caller emits many events of one kind."""
    hooks = subscribers(event_name) if hooks is None else hooks
    if not hooks:
        return []
    rows = []
    for hook in hooks:
        delivery_id = uuid.uuid4().hex
        body = json.dumps({"id": delivery_id, "event": event_name,
                           "created_at": utcnow().isoformat(timespec="seconds"),
                           "data": data}, sort_keys=True, separators=(",", ":"), default=str)
        rows.append(WebhookDelivery(webhook_id=hook.id, event=event_name, body=body,
                                    status="pending", attempts=0))
    db.session.add_all(rows)
    db.session.flush()
    db.session.info.setdefault(_PENDING, []).extend(
        (r.id, json.loads(r.body)["id"]) for r in rows)
    return [r.id for r in rows]


_PENDING = "webhook_deliveries_to_dispatch"


@event.listens_for(Session, "after_commit")
def _dispatch_committed(session: Session) -> None:
    """Deliveries are handed to the worker once the transaction that made them commits
    (whoever commits it: the scan, the issuance, the state machine's move to failed)."""
    ids = session.info.pop(_PENDING, None)
    if ids:
        dispatch(ids)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def dispatch(deliveries: list[tuple[int, str]]) -> None:
    """(row id, the body's delivery uuid) of committed deliveries → jobs (the uuid keeps
    job ids unique when row ids restart in a rebuilt database)."""
    intervals = retry_intervals("WEBHOOK_RETRY_SECONDS")
    for delivery_id, token in deliveries:
        enqueue("deliver_webhook", f"webhook-{token}-deliver", delivery_id,
                description=f"deliver webhook {delivery_id}", job_timeout=120,
                retry_intervals=intervals or None)


# ---- delivering (worker) -------------------------------------------------------------------

def deliver(delivery_id: int) -> None:
    """POST one delivery; log the attempt; raise DeliveryFailed so RQ retries it."""
    row = db.session.get(WebhookDelivery, delivery_id)
    if row is None or row.status != "pending":
        return
    hook = row.webhook
    row.attempts += 1
    attempt = WebhookAttempt(delivery_id=row.id, attempt=row.attempts, at=utcnow())
    started = time.monotonic()
    error: str | None = None
    try:
        secret = open_sealed(hook.secret_sealed, _binding(hook.id))
        stamp = str(int(time.time()))
        with OutboundSession(outbound_policy()) as session:
            policy = session.policy
            response = session.post(hook.url, data=row.body.encode(), headers={
                "Content-Type": "application/json", "User-Agent": "cert-platform-webhooks",
                "X-Webhook-Event": row.event, "X-Webhook-Delivery": str(row.id),
                "X-Webhook-Timestamp": stamp,
                "X-Webhook-Signature": signature(secret, stamp, row.body)},
                timeout=(policy.connect_timeout, policy.read_timeout), allow_redirects=False)
        attempt.status_code = response.status_code
        if not 200 <= response.status_code < 300:
            error = f"HTTP {response.status_code}"
    except (OutboundBlocked, OSError) as exc:   # requests' errors are OSErrors
        error = f"{exc.__class__.__name__}: {str(exc)[:200]}"
    except Exception as exc:  # a secret that no longer opens: logged, retried, then failed
        error = f"{exc.__class__.__name__}"
    attempt.duration_ms = int((time.monotonic() - started) * 1000)
    attempt.error = error
    row.last_status_code = attempt.status_code
    db.session.add(attempt)
    if error is None:
        row.status, row.finished_at = "delivered", utcnow()
        db.session.commit()
        return
    if row.attempts > len(retry_intervals("WEBHOOK_RETRY_SECONDS")):
        row.status, row.finished_at = "failed", utcnow()
    db.session.commit()
    log.warning("webhook delivery %s (attempt %s) failed: %s", row.id, row.attempts, error)
    if row.status == "pending":
        raise DeliveryFailed(error)

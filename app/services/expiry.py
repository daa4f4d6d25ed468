"""Expiry monitoring (SPEC 10): the daily ``expiry-scan``.

Each certificate gets one ``CertificateAlert`` per threshold it crosses — ``expiring_30``,
``expiring_14``, ``expiring_7`` (``EXPIRY_ALERT_DAYS``) and ``expired`` — never twice:
the alerts themselves are the bookkeeping: the scan reads the certificates in each
threshold's window (the ``not_after`` index) that have no alert of that threshold or a
tighter one (the alerts' ``certificate_id`` index), and the alerts' unique (request_key,
type) constraint backs it. Nothing is written to the certificates (updating a million
rows would rewrite every index of the inventory). A certificate first seen past several
thresholds gets the tightest only. Revoked certificates and certificates already renewed
(a renewal order of theirs has its certificate) are skipped.

Notifications: one e-mail per recipient per scan (the owner, unless they turned e-mails
off, and the operations address ``EXPIRY_OPS_EMAIL``) listing all their certificates that
crossed a threshold, and a webhook event per certificate (``certificate.expiring`` /
``certificate.expired``). Everything is written in one transaction, then handed to the
worker, so a scan run twice notifies once."""
from __future__ import annotations

import html
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import String, cast, exists, insert, literal, select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Certificate, CertificateAlert, Order, User
from app.models.base import UTCDateTime, utcnow
from app.services import mailer, webhooks

EXPIRED = 0
BATCH = 5000
#: Certificates listed in one e-mail (the rest are counted, the inventory has them all).
MAX_LISTED = 200


def thresholds() -> tuple[int, ...]:
    """The configured thresholds in days, widest first (invalid entries are ignored)."""
    raw = str(current_app.config.get("EXPIRY_ALERT_DAYS") or "")
    days = {int(x) for x in raw.replace(" ", "").split(",") if x.isdigit() and int(x) > 0}
    return tuple(sorted(days, reverse=True))


def alert_type(days: int) -> str:
    return "expired" if days == EXPIRED else f"expiring_{days}"


@dataclass
class Due:
    id: Any
    common_name: str
    serial_hex: str
    not_after: datetime
    owner_user_id: int | None
    order_id: Any
    source: str
    level: int


@dataclass
class ScanReport:
    alerts: dict[str, int] = field(default_factory=dict)
    emails: int = 0
    webhook_deliveries: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"alerts": self.alerts, "alerts_total": sum(self.alerts.values()),
                "emails": self.emails, "webhook_deliveries": self.webhook_deliveries,
                "seconds": round(self.seconds, 3)}


def _renewed():
    """Certificates a renewal has replaced: an order renewing them has its certificate."""
    successor = aliased(Certificate)
    return exists(select(Order.id).join(successor, successor.order_id == Order.id)
                  .where(Order.renews_certificate_id == Certificate.id))


def _due(level: int, wider: int | None, now: datetime) -> list[Due]:
    """Certificates whose tightest crossed threshold is ``level`` and not yet alerted."""
    query = select(Certificate.id, Certificate.common_name, Certificate.serial_hex,
                   Certificate.not_after, Certificate.owner_user_id, Certificate.order_id,
                   Certificate.source).where(
        Certificate.revoked.is_(False),
        Certificate.not_after <= now + timedelta(days=level),
        ~exists(select(CertificateAlert.id).where(
            CertificateAlert.certificate_id == Certificate.id,
            CertificateAlert.type.in_([alert_type(t) for t in levels() if t <= level]))),
        ~_renewed())
    if level != EXPIRED:
        query = query.where(Certificate.not_after > now + timedelta(days=wider or 0))
    return [Due(*row, level=level) for row in db.session.execute(query)]


def _message_sql(level: int) -> Any:
    if level == EXPIRED:
        return literal("The certificate ") + Certificate.common_name + literal(" has expired.")
    return (literal("The certificate ") + Certificate.common_name
            + literal(f" expires within {level} days."))


def _record(due: list[Due], level: int, now: datetime) -> None:
    """Set-based: one INSERT … SELECT of the alerts per batch of ids."""
    kind = alert_type(level)
    columns = ("type", "request_key", "policy_name", "rule", "code", "message",
               "common_name", "requester_user_id", "requester_label", "order_id",
               "certificate_id", "created_at")
    for start in range(0, len(due), BATCH):
        ids = [c.id for c in due[start:start + BATCH]]
        rows = select(
            literal(kind), literal("expiry:") + cast(Certificate.id, String),
            literal(""), literal(""), literal(f"certificate.{kind}"), _message_sql(level),
            Certificate.common_name, Certificate.owner_user_id, literal(""),
            Certificate.order_id, Certificate.id,
            literal(now, UTCDateTime())).where(Certificate.id.in_(ids))
        db.session.execute(insert(CertificateAlert.__table__).from_select(columns, rows))


def _webhook_data(c: Due, now: datetime) -> dict[str, Any]:
    return {"certificate": {"id": str(c.id), "common_name": c.common_name,
                            "serial": c.serial_hex, "source": c.source,
                            "not_after": c.not_after.isoformat(timespec="seconds"),
                            "order_id": str(c.order_id) if c.order_id else None},
            "threshold_days": c.level, "days_left": (c.not_after - now).days}


def _emit_webhooks(due: list[Due], now: datetime) -> list[int]:
    ids: list[int] = []
    for event, wanted in (("certificate.expiring", lambda c: c.level != EXPIRED),
                          ("certificate.expired", lambda c: c.level == EXPIRED)):
        hooks = webhooks.subscribers(event)
        if hooks:
            for c in due:
                if wanted(c):
                    ids += webhooks.emit(event, _webhook_data(c, now), hooks)
    return ids


def _recipients(due: list[Due]) -> dict[str, list[Due]]:
    by_address: dict[str, list[Due]] = defaultdict(list)
    owner_ids = {c.owner_user_id for c in due if c.owner_user_id is not None}
    owners = {u.id: u.email for u in db.session.scalars(select(User).where(
        User.id.in_(owner_ids), User.enabled.is_(True),
        User.email_notifications.is_(True)))} if owner_ids else {}
    ops = [a.strip() for a in str(current_app.config.get("EXPIRY_OPS_EMAIL") or "")
           .replace(";", ",").split(",") if a.strip()]
    for c in due:
        address = owners.get(c.owner_user_id) if c.owner_user_id is not None else None
        if address:
            by_address[address].append(c)
        for op in ops:
            if op != address:
                by_address[op].append(c)
    return by_address


def compose(certs: list[Due], now: datetime) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of one recipient's message."""
    ordered = sorted(certs, key=lambda c: c.not_after)
    expired = sum(1 for c in certs if c.level == EXPIRED)
    subject = (f"{len(certs)} certificate{'s' if len(certs) != 1 else ''} "
               + (f"expiring or expired ({expired} expired)" if expired else "expiring soon"))
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    lines, rows = [], []
    for c in ordered[:MAX_LISTED]:
        status = "EXPIRED" if c.level == EXPIRED else f"{max(0, (c.not_after - now).days)} days"
        when = c.not_after.strftime("%Y-%m-%d %H:%M UTC")
        link = f"{base}/certificates/{c.id}" if base else f"/certificates/{c.id}"
        lines.append(f"- {c.common_name}  serial {c.serial_hex}  not after {when}  "
                     f"({status})  {link}")
        rows.append(f"<tr><td><a href=\"{html.escape(link)}\">{html.escape(c.common_name)}"
                    f"</a></td><td><code>{html.escape(c.serial_hex)}</code></td>"
                    f"<td>{when}</td><td>{status}</td></tr>")
    more = len(ordered) - MAX_LISTED
    tail = f"\n… and {more} more: see the certificate inventory.\n" if more > 0 else "\n"
    text = ("These certificates crossed an expiry threshold:\n\n" + "\n".join(lines) + tail
            + "\nRenew them from their certificate page. You can turn these e-mails off on "
              "your Account page.\n")
    body = ("<p>These certificates crossed an expiry threshold:</p>"
            "<table><thead><tr><th>Common name</th><th>Serial</th><th>Not after</th>"
            "<th>Left</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
            + (f"<p>… and {more} more: see the certificate inventory.</p>" if more > 0 else "")
            + "<p>Renew them from their certificate page. You can turn these e-mails off on "
              "your Account page.</p>")
    return subject, text, f"<!doctype html><html><body>{body}</body></html>"


def _queue_emails(due: list[Due], now: datetime) -> list[Any]:
    if not mailer.enabled() or not due:
        return []
    rows = []
    for address, certs in _recipients(due).items():
        subject, text, body = compose(certs, now)
        rows.append(mailer.queue_message(address, subject, text, body))
    return rows


def levels() -> list[int]:
    """Tightest first: expired, then each threshold."""
    return [EXPIRED, *sorted(thresholds())]


def scan(now: datetime | None = None
         ) -> tuple[ScanReport, list[tuple[int, datetime]], list[int]]:
    """Record the alerts and the notifications of one scan (committed). Returns the
    report and the e-mail and webhook delivery ids to hand to the worker."""
    now = now or utcnow()
    started = time.monotonic()
    report = ScanReport()
    all_due: list[Due] = []
    previous: int | None = None
    for level in levels():
        due = _due(level, previous, now)
        previous = level
        report.alerts[alert_type(level)] = len(due)
        _record(due, level, now)
        all_due += due
    deliveries = _emit_webhooks(all_due, now)
    messages = _queue_emails(all_due, now)
    db.session.flush()
    message_ids = [(m.id, m.created_at) for m in messages]
    db.session.commit()
    report.emails, report.webhook_deliveries = len(message_ids), len(deliveries)
    report.seconds = time.monotonic() - started
    return report, message_ids, deliveries


def run_scan(now: datetime | None = None) -> ScanReport:
    """One scan, then its e-mails handed to the worker (webhook deliveries go when the
    scan's transaction commits)."""
    report, message_ids, _ = scan(now)
    mailer.dispatch(message_ids)
    return report


def alert_types() -> Iterable[str]:
    return [alert_type(level) for level in levels()]

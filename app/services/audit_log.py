"""Reading the audit trail (Admin → Audit log): filters from the URL, keyset pages, the
names of the resources events are about, and a streamed export of the filtered view.

Exports read in keyset batches of plain rows (never ORM objects, so nothing accumulates in
the session's identity map): memory stays flat whether the view holds ten events or ten
million, on SQLite and PostgreSQL alike."""
from __future__ import annotations

import csv
import io
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import (
    AcmeAccount,
    AcmeServer,
    AuditEvent,
    Certificate,
    CertificateAlert,
    CertificateAuthority,
    Courier,
    Domain,
    Order,
    PolicyRecord,
    User,
)
from app.services import audit

OUTCOMES = ("success", "failure", "denied")
EXPORT_COLUMNS = ("id", "timestamp", "actor", "action", "resource_type", "resource_id",
                  "outcome", "source_ip", "details")
# Spreadsheet programs run a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilters:
    """The audit log's filters, as bookmarkable URL arguments. ``action`` is an exact
    action or ``<prefix>.*`` for a family (``order.*``); dates are UTC days, inclusive."""

    actor: str = ""
    action: str = ""
    resource_type: str = ""
    outcome: str = ""
    since: str = ""
    until: str = ""
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilters:
        problems: list[str] = []

        def text(name: str, limit: int) -> str:
            return (args.get(name) or "").strip()[:limit]

        def day(name: str, label: str) -> str:
            value = text(name, 10)
            if not value:
                return ""
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                problems.append(f"Ignored the {label} date '{value}': use YYYY-MM-DD.")
                return ""

        outcome = text("outcome", 16)
        if outcome and outcome not in OUTCOMES:
            problems.append(f"Ignored outcome '{outcome}': choose one of {', '.join(OUTCOMES)}.")
            outcome = ""
        since, until = day("since", "from"), day("until", "to")
        if since and until and since > until:
            problems.append("The 'from' date is after the 'to' date, so nothing can match; "
                            "the dates were swapped.")
            since, until = until, since
        return cls(actor=text("actor", 254), action=text("action", 64),
                   resource_type=text("resource_type", 32), outcome=outcome,
                   since=since, until=until, problems=tuple(problems))

    def as_args(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in ("actor", "action", "resource_type", "outcome",
                                              "since", "until") if getattr(self, k)}

    def apply(self, query: Select) -> Select:
        if self.actor:
            query = query.where(func.lower(AuditEvent.actor_label).contains(
                self.actor.lower(), autoescape=True))
        if self.action.endswith(".*"):
            query = query.where(AuditEvent.action.startswith(self.action[:-1],
                                                             autoescape=True))
        elif self.action:
            query = query.where(AuditEvent.action == self.action)
        if self.resource_type:
            query = query.where(AuditEvent.resource_type == self.resource_type)
        if self.outcome:
            query = query.where(AuditEvent.outcome == self.outcome)
        if self.since:
            start = datetime.combine(date.fromisoformat(self.since), time.min, tzinfo=UTC)
            query = query.where(AuditEvent.timestamp >= start)
        if self.until:
            end = datetime.combine(date.fromisoformat(self.until), time.min, tzinfo=UTC)
            query = query.where(AuditEvent.timestamp < end + timedelta(days=1))
        return query


def page_of_events(filters: AuditFilters, before: int | None,
                   size: int) -> tuple[list[AuditEvent], int | None]:
    """Newest first (by id, stable under inserts); the page and the id to continue below."""
    query = filters.apply(select(AuditEvent)).order_by(AuditEvent.id.desc()).limit(size + 1)
    if before:
        query = query.where(AuditEvent.id < before)
    events = list(db.session.scalars(query))
    return events[:size], (events[size - 1].id if len(events) > size else None)


def _distinct(column: Any) -> list[str]:
    """Distinct values of an indexed column by skipping through the index (one small
    query per value), so the filter lists stay cheap on a table of millions of rows."""
    values: list[str] = []
    last: str | None = None
    while True:
        query = select(func.min(column))
        if last is not None:
            query = query.where(column > last)
        value = db.session.scalar(query)
        if value is None:
            return values
        values.append(value)
        last = value


def action_choices() -> dict[str, list[str]]:
    """The recorded actions grouped by family (``order`` → ``order.fail``, …)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for action in _distinct(AuditEvent.action):
        groups[action.split(".", 1)[0]].append(action)
    return dict(groups)


def resource_type_choices() -> list[str]:
    return [t for t in _distinct(AuditEvent.resource_type) if t]


# ---- resources by name --------------------------------------------------------------------

@dataclass(frozen=True)
class ResourceRef:
    """What an event is about: its name today (or as recorded, when it is gone), and the
    id to link to while it still exists."""

    name: str
    exists: bool
    link_id: str | None = None      # the id the link needs (an alert links to its order)
    link_type: str | None = None


def _uuids(ids: Iterable[str]) -> list[uuid.UUID]:
    found = []
    for raw in ids:
        try:
            found.append(uuid.UUID(raw))
        except ValueError:
            continue
    return found


def _ints(ids: Iterable[str]) -> list[int]:
    return [int(raw) for raw in ids if raw.isdigit() and len(raw) < 12]


def resolve_resources(events: Iterable[AuditEvent]) -> dict[tuple[str, str], ResourceRef]:
    """One query per resource type on the page. Events about something deleted keep the
    name their details recorded, without a link."""
    wanted: dict[str, set[str]] = defaultdict(set)
    events = list(events)
    for e in events:
        if e.resource_type and e.resource_id:
            wanted[e.resource_type].add(e.resource_id)
    found: dict[tuple[str, str], ResourceRef] = {}

    def by_uuid(kind: str, model: Any, name_of: Any) -> None:
        for row in db.session.scalars(select(model).where(model.id.in_(_uuids(wanted[kind])))):
            found[(kind, str(row.id))] = ResourceRef(name_of(row), True, str(row.id), kind)

    if wanted.get("order"):
        by_uuid("order", Order, lambda o: o.common_name)
    if wanted.get("certificate"):
        by_uuid("certificate", Certificate, lambda c: c.common_name)
    if wanted.get("ca"):
        by_uuid("ca", CertificateAuthority, lambda c: c.common_name)
    if wanted.get("policy"):
        by_uuid("policy", PolicyRecord, lambda p: p.name)
    if wanted.get("courier"):
        by_uuid("courier", Courier, lambda c: c.name)
    if wanted.get("acme_server"):
        by_uuid("acme_server", AcmeServer, lambda s: s.name)
    if wanted.get("acme_account"):
        for row in db.session.scalars(select(AcmeAccount).where(
                AcmeAccount.id.in_(_uuids(wanted["acme_account"])))):
            found[("acme_account", str(row.id))] = ResourceRef(
                f"{row.name} ({row.server.name})", True, str(row.server_id), "acme_server")
    if wanted.get("domain"):
        for row in db.session.scalars(select(Domain).where(
                Domain.id.in_(_ints(wanted["domain"])))):
            found[("domain", str(row.id))] = ResourceRef(row.display_name, True, str(row.id),
                                                         "domain")
    if wanted.get("user"):
        ids = wanted["user"]
        users = db.session.scalars(select(User).where(
            User.id.in_(_ints(ids)) | User.email.in_([i for i in ids if "@" in i])))
        for row in users:
            ref = ResourceRef(row.email, True, str(row.id), "user")
            found[("user", str(row.id))] = ref
            found[("user", row.email)] = ref
    if wanted.get("alert"):
        for row in db.session.scalars(select(CertificateAlert).where(
                CertificateAlert.id.in_(_ints(wanted["alert"])))):
            target = ("certificate", row.certificate_id) if row.certificate_id \
                else ("order", row.order_id) if row.order_id else (None, None)
            found[("alert", str(row.id))] = ResourceRef(
                f"{row.common_name} ({row.policy_name})", True,
                str(target[1]) if target[1] else None, target[0])
    for e in events:
        key = (e.resource_type, e.resource_id)
        if e.resource_type and key not in found:
            found[key] = ResourceRef(_recorded_name(e), False)
    return found


def _recorded_name(event: AuditEvent) -> str:
    details = event.details or {}
    for key in ("common_name", "name", "email"):
        if isinstance(details.get(key), str) and details[key]:
            return details[key]
    return event.resource_id


# ---- export -------------------------------------------------------------------------------

def record_export(fmt: str, filters: AuditFilters, *, actor: User) -> None:
    """Exporting the trail is itself audited (committed before the first byte goes out)."""
    audit.record("audit.export", actor=actor, details={"format": fmt,
                                                       "filters": filters.as_args()})
    db.session.commit()


def _rows(filters: AuditFilters, batch_size: int) -> Iterator[Any]:
    """Every event of the filtered view, newest first, ``batch_size`` rows per query."""
    table = AuditEvent.__table__
    last: int | None = None
    while True:
        query = filters.apply(select(*(table.c[n] for n in (
            "id", "timestamp", "actor_label", "action", "resource_type", "resource_id",
            "outcome", "source_ip", "details")))).order_by(table.c.id.desc()).limit(batch_size)
        if last is not None:
            query = query.where(table.c.id < last)
        rows = db.session.execute(query).all()
        yield from rows
        if len(rows) < batch_size:
            return
        last = rows[-1].id


def _record(row: Any) -> dict[str, Any]:
    timestamp = row.timestamp if row.timestamp.tzinfo else row.timestamp.replace(tzinfo=UTC)
    return {"id": row.id, "timestamp": timestamp.astimezone(UTC).isoformat(timespec="seconds"),
            "actor": row.actor_label, "action": row.action, "resource_type": row.resource_type,
            "resource_id": row.resource_id, "outcome": row.outcome, "source_ip": row.source_ip,
            "details": row.details or {}}


def _cell(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict) \
        else "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_csv(filters: AuditFilters, batch_size: int = 1000) -> Iterator[str]:
    """CSV text in chunks (one per batch), header first. Cells that a spreadsheet would run
    as a formula get a leading apostrophe (OWASP's advice for CSV exports)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for count, row in enumerate(_rows(filters, batch_size), start=1):
        record = _record(row)
        writer.writerow([_cell(record[c]) for c in EXPORT_COLUMNS])
        if count % batch_size == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_json(filters: AuditFilters, batch_size: int = 1000) -> Iterator[str]:
    """A JSON array of event objects, produced piece by piece."""
    yield "["
    first = True
    chunk: list[str] = []
    for row in _rows(filters, batch_size):
        chunk.append(("\n" if first else ",\n") + json.dumps(_record(row), sort_keys=True))
        first = False
        if len(chunk) >= batch_size:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk) + ("\n]\n" if not first else "]\n")

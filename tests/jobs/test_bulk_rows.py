"""``bulk_rows.insert_new``: new rows written by one executemany statement per set of
columns, with the columns' defaults, in the caller's transaction, the objects left out of
the session."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.services import audit
from app.services.bulk_rows import insert_new, insert_rows


def test_rows_are_written_with_their_defaults_and_the_objects_stay_out_of_the_session(ctx):
    events = [audit.new_event("bulk.test", resource_type="order", resource_id=f"r{i}",
                              details={"i": i}) for i in range(3)]
    # Another set of columns (no resource_type, details, actor or source_ip given): a
    # statement of its own, the missing columns' defaults applied.
    events.append(AuditEvent(action="bulk.test", actor_label="system", outcome="success",
                             resource_id="r3"))
    insert_new(events)
    assert all(event not in db.session for event in events)
    db.session.commit()
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "bulk.test")
                              .order_by(AuditEvent.resource_id)).all()
    assert [r.resource_id for r in rows] == ["r0", "r1", "r2", "r3"]
    assert [r.details for r in rows] == [{"i": 0}, {"i": 1}, {"i": 2}, {}]   # default=dict
    assert all(r.timestamp is not None for r in rows)                       # default=utcnow
    assert rows[3].resource_type == ""                                      # default=""


def test_rows_are_written_in_the_callers_transaction(ctx):
    insert_new([audit.new_event("bulk.rolled-back", resource_id="x")])
    db.session.rollback()
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "bulk.rolled-back")) is None


def test_nothing_to_insert_writes_nothing(ctx):
    insert_new([])
    assert not db.session.new


@pytest.mark.parametrize("count", [1, 250])
def test_any_number_of_rows(ctx, count):
    insert_new([audit.new_event("bulk.many", resource_id=str(i)) for i in range(count)])
    db.session.commit()
    assert len(db.session.scalars(select(AuditEvent.id).where(
        AuditEvent.action == "bulk.many")).all()) == count


def test_plain_rows_get_the_same_defaults(ctx):
    insert_rows(AuditEvent, [{"action": "bulk.rows", "actor_label": "system",
                              "outcome": "success", "resource_id": str(i)} for i in range(2)])
    db.session.commit()
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "bulk.rows")
                              .order_by(AuditEvent.resource_id)).all()
    assert [(r.resource_id, r.details, r.resource_type) for r in rows] == [
        ("0", {}, ""), ("1", {}, "")]
    assert all(r.timestamp is not None for r in rows)

"""Moving orders through the state machine, safely under concurrency.

Every move is a conditional UPDATE (``WHERE status = <expected>``): of two workers racing
for one order exactly one wins, and the loser learns it from the row count. Each move that
happens writes an OrderEvent in the same transaction (the caller commits); a move to
``failed`` also writes an ``order.fail`` audit event with the reason, whichever path failed
the order (the job, RQ's last-retry callback, the sweeper)."""
from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import update

from app.domain.orders import OrderStatus, check_transition
from app.extensions import db
from app.models import Order, OrderEvent
from app.services import audit, webhooks
from app.services.bulk_rows import insert_rows


def transition(order_id: uuid.UUID, current: OrderStatus, target: OrderStatus, message: str,
               **values: Any) -> bool:
    """Move the order from ``current`` to ``target`` if it is still in ``current``.
    Returns False (and changes nothing) when another process got there first."""
    check_transition(current, target)
    moved = db.session.execute(
        update(Order).where(Order.id == order_id, Order.status == current.value)
        .values(status=target.value, **values)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        return False
    db.session.add(OrderEvent(order_id=order_id, from_status=current.value,
                              to_status=target.value, message=message[:2000]))
    if target == OrderStatus.FAILED:
        order = db.session.get(Order, order_id)
        audit.record("order.fail", outcome=audit.FAILURE, resource_type="order",
                     resource_id=order_id, details={
                         "common_name": order.common_name if order else "",
                         "reason": message[:2000], "from_status": current.value})
        webhooks.emit("order.failed", {"order": {
            "id": str(order_id), "common_name": order.common_name if order else "",
            "pathway": order.pathway if order else "", "reason": message[:2000]}})
    return True


def note(order_id: uuid.UUID, status: str, message: str) -> None:
    """A timeline entry that is not a transition (e.g. the queue was unreachable)."""
    db.session.add(OrderEvent(order_id=order_id, from_status=status, to_status=status,
                              message=message[:2000]))


def transition_many(order_ids: Sequence[uuid.UUID], current: OrderStatus,
                    target: OrderStatus, messages: Mapping[uuid.UUID, str],
                    **values: Any) -> set[uuid.UUID]:
    """:func:`transition` for many orders with the same values, as one conditional UPDATE
    (``RETURNING`` tells which moved) and one multi-row INSERT of their timeline entries
    (``messages``: one per order). Returns the orders that moved; the others were moved
    by another process first and are left alone. Not for ``failed`` (its audit and
    webhook are per order: use :func:`transition`)."""
    check_transition(current, target)
    if target == OrderStatus.FAILED:
        raise ValueError("transition_many does not fail orders; use transition")
    if not order_ids:
        return set()
    moved = set(db.session.scalars(
        update(Order).where(Order.id.in_(list(order_ids)), Order.status == current.value)
        .values(status=target.value, **values).returning(Order.id)
        .execution_options(synchronize_session=False)))
    insert_rows(OrderEvent, [{"order_id": order_id, "from_status": current.value,
                              "to_status": target.value, "message": messages[order_id][:2000]}
                             for order_id in order_ids if order_id in moved])
    return moved

"""The order state machine (SPEC section 7): pending → processing → complete | failed.

Only these moves exist. ``processing → pending`` is the retry path: a transient provider
error, or the sweeper recovering an order whose worker died. Terminal states never change.
"""
from __future__ import annotations

from enum import StrEnum

from app.domain.errors import DomainError


class OrderStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETE = "complete"
    FAILED = "failed"


TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PROCESSING, OrderStatus.FAILED}),
    OrderStatus.PROCESSING: frozenset({OrderStatus.COMPLETE, OrderStatus.FAILED,
                                       OrderStatus.PENDING}),
    OrderStatus.COMPLETE: frozenset(),
    OrderStatus.FAILED: frozenset(),
}
TERMINAL = frozenset({OrderStatus.COMPLETE, OrderStatus.FAILED})


class IllegalTransition(DomainError):
    """A move the state machine does not allow (a programming error, not user input)."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"An order cannot go from {current} to {target}.",
                         code="order.illegal_transition")
        self.current = current
        self.target = target
        self.args = (current, target)


def check_transition(current: str, target: str) -> None:
    """Raise IllegalTransition unless ``current → target`` is allowed."""
    try:
        allowed = TRANSITIONS[OrderStatus(current)]
        ok = OrderStatus(target) in allowed
    except ValueError:
        ok = False
    if not ok:
        raise IllegalTransition(current, target)


def is_terminal(status: str) -> bool:
    return status in TERMINAL

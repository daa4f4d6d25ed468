"""The order state machine (SPEC section 7): pending → processing → complete | failed.

Only these moves exist. ``processing → pending`` is the retry path: a transient provider
error, or the sweeper recovering an order whose worker died. Terminal states never change.
"""
from __future__ import annotations

from enum import StrEnum

from app.domain.errors import DomainError
from app.domain.providers import BUILTIN


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


def issued_in_batch(provider_type: str, certificate_profile_id: object,
                    revoke_predecessor: bool, renews_certificate_id: object) -> bool:
    """Whether an order may be issued by a batch job (``services/batch_issuance``): the
    Local PKI signs at once — it never waits on a CA and never bills — so nothing needs
    guarding per order before signing; an order of a certificate profile (it deploys)
    and a renewal that revokes its predecessor keep their own job, which does that work
    after storing."""
    return provider_type == BUILTIN and certificate_profile_id is None \
        and not (revoke_predecessor and renews_certificate_id)

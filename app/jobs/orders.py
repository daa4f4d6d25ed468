"""The order jobs: thin (an id in, one service call; see ``services/order_processing``)."""
from __future__ import annotations

from typing import Any

from rq.job import Job

from app.services import batch_issuance, order_processing


def issue_order(order_id: str) -> str:
    """Send a pending order to its provider (see ``order_processing.process_order``)."""
    return order_processing.process_order(order_id)


def issue_orders(*order_ids: str) -> dict[str, int]:
    """Issue a batch of Local PKI orders (see ``batch_issuance.process_orders``)."""
    return batch_issuance.process_orders(order_ids)


def check_order(order_id: str, checks: int) -> str:
    """Continue an order waiting on its CA (see ``order_processing.check_order``)."""
    return order_processing.check_order(order_id, int(checks))


def on_issue_failure(job: Job, connection: Any, exc_type: type, exc: BaseException,
                     tb: Any) -> None:
    """RQ calls this after every failed attempt; only the last one fails the order."""
    if job.retries_left:
        return
    order_processing.give_up(job.args[0], exc)

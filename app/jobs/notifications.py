"""Notification jobs: thin (see ``services/mailer``, ``services/webhooks``,
``services/expiry``). Sending jobs raise on failure so RQ retries them with backoff."""
from __future__ import annotations

from app.services import expiry, mailer, webhooks


def send_email(message_id: int) -> None:
    mailer.send(message_id)


def deliver_webhook(delivery_id: int) -> None:
    webhooks.deliver(delivery_id)


def expiry_scan() -> dict[str, object]:
    return expiry.run_scan().as_dict()

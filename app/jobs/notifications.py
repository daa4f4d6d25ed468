"""Notification jobs: thin (see ``services/mailer``, ``services/webhooks``). They raise on
failure so RQ retries them with backoff."""
from __future__ import annotations

from app.services import mailer, webhooks


def send_email(message_id: int) -> None:
    mailer.send(message_id)


def deliver_webhook(delivery_id: int) -> None:
    webhooks.deliver(delivery_id)

"""E-mail over SMTP: the outbox (``email_outbox`` rows written in the transaction that
decided to send them) and the worker's sending job, retried with backoff.

``SMTP_URL``: ``smtp://user:pass@host:587?starttls=true`` (STARTTLS, the certificate is
verified), ``smtps://host:465`` (implicit TLS) or plain ``smtp://host:25`` (a local relay).
Credentials never reach the logs or the job arguments (a job carries a message id)."""
from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

from app.extensions import db
from app.jobs.enqueue import enqueue
from app.models import EmailMessage
from app.models.base import utcnow

log = logging.getLogger(__name__)


class SmtpConfigError(ValueError):
    """SMTP_URL cannot be used."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpSettings:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SmtpConfigError("SMTP_URL must look like smtp://user:pass@host:587?starttls=true "
                              "or smtps://host:465.")
    query = parse_qs(parts.query)
    starttls = (query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes"))
    implicit = parts.scheme == "smtps"
    return SmtpSettings(host=parts.hostname, port=parts.port or (465 if implicit else 25),
                        implicit_tls=implicit, starttls=starttls and not implicit,
                        username=unquote(parts.username) if parts.username else None,
                        password=unquote(parts.password) if parts.password else None)


def enabled() -> bool:
    return bool(current_app.config.get("SMTP_URL"))


def retry_intervals(name: str) -> list[int]:
    raw = str(current_app.config.get(name) or "")
    return [int(x) for x in raw.replace(" ", "").split(",") if x.strip()]


def queue_message(recipient: str, subject: str, text: str, html: str) -> EmailMessage:
    """Add a message to the outbox (the caller commits, then calls :func:`dispatch`)."""
    row = EmailMessage(recipient=recipient, subject=subject[:200], body_text=text,
                       body_html=html, status="pending", attempts=0, created_at=utcnow())
    db.session.add(row)
    return row


def job_id(message_id: int, created_at: datetime) -> str:
    """Derived from the row (its id and creation time: ids restart in a rebuilt database,
    job ids in Redis must not)."""
    return f"email-{message_id}-{int(created_at.timestamp() * 1_000_000)}-send"


def dispatch(messages: list[tuple[int, datetime]]) -> None:
    """Hand committed outbox rows (id, created_at) to the worker."""
    intervals = retry_intervals("EMAIL_RETRY_SECONDS")
    for message_id, created_at in messages:
        enqueue("send_email", job_id(message_id, created_at), message_id,
                description=f"send e-mail {message_id}", job_timeout=60,
                retry_intervals=intervals or None)


def mime(row: EmailMessage, sender: str) -> MimeMessage:
    message = MimeMessage()
    message["From"] = sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(row.body_text)
    message.add_alternative(row.body_html, subtype="html")
    return message


def _send(message: MimeMessage, settings: SmtpSettings, timeout: float) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.implicit_tls:
        smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with smtp:
        if settings.starttls:
            smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message)


def send(message_id: int) -> None:
    """Worker: send one outbox message. Raises on failure so the job is retried; a sent
    message is never sent again (a duplicate job finds it ``sent``)."""
    row = db.session.get(EmailMessage, message_id)
    if row is None or row.status == "sent":
        return
    config = current_app.config
    row.attempts += 1
    try:
        _send(mime(row, config["SMTP_FROM"]), parse_smtp_url(config["SMTP_URL"]),
              float(config.get("SMTP_TIMEOUT", 20)))
    except (OSError, smtplib.SMTPException, SmtpConfigError) as exc:
        row.error = f"{exc.__class__.__name__}: {str(exc)[:300]}"
        if row.attempts > len(retry_intervals("EMAIL_RETRY_SECONDS")):
            row.status = "failed"
        db.session.commit()
        log.warning("e-mail %s to the SMTP server failed (attempt %s): %s", message_id,
                    row.attempts, exc.__class__.__name__)
        raise
    row.status, row.sent_at, row.error = "sent", utcnow(), None
    db.session.commit()

"""Real receivers for notifications: an SMTP server (aiosmtpd) and an HTTP server on
loopback ports, each recording what it received; and certificate rows at chosen expiry
dates (the scan reads rows, not PEM)."""
from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from app.extensions import db
from app.models import Certificate
from app.models.base import utcnow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for _, rcpts, m in self.messages if address in rcpts]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[str, Mailbox]]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}", mailbox
    controller.stop()


@pytest.fixture
def mailbox(app: Flask, smtp_server, monkeypatch) -> Mailbox:
    url, box = smtp_server
    box.messages.clear()
    monkeypatch.setitem(app.config, "SMTP_URL", url)
    monkeypatch.setitem(app.config, "SMTP_FROM", "pki@example.com")
    monkeypatch.setitem(app.config, "EXPIRY_OPS_EMAIL", "ops@example.com")
    return box


@dataclass
class Receiver:
    url: str
    answers: list[int] = field(default_factory=list)       # status codes to answer, in turn
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def receiver(app: Flask, monkeypatch) -> Iterator[Receiver]:
    """An HTTP receiver on loopback (the outbound check allows loopback and plain http
    only by these test settings)."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append({"headers": dict(self.headers), "body": body.decode()})
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/pki"
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOW_HTTP", True)
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SECONDS", "1,1,1,1")
    yield state
    server.shutdown()
    server.server_close()


def add_certificate(app: Flask, common_name: str, days_left: float, *,
                    owner_id: int | None = None, revoked: bool = False,
                    source: str = "managed") -> str:
    """A certificate row expiring ``days_left`` days from now."""
    with app.app_context():
        now = utcnow()
        row = Certificate(
            id=uuid.uuid4(), source=source, common_name=common_name, sans=[common_name],
            issuer_dn="CN=Test Issuing", provider="Local PKI", algorithm="ec-256",
            digest="sha256", serial_hex=uuid.uuid4().hex[:16],
            fingerprint_sha256=uuid.uuid4().hex + uuid.uuid4().hex,
            not_before=now - timedelta(days=30), not_after=now + timedelta(days=days_left),
            revoked=revoked, certificate_pem="-----BEGIN CERTIFICATE-----\n",
            owner_user_id=owner_id)
        db.session.add(row)
        db.session.commit()
        return str(row.id)


def body_of(delivery: dict[str, Any]) -> dict[str, Any]:
    return json.loads(delivery["body"])

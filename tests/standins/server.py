"""A small HTTPS JSON server on a loopback port for the commercial-CA stand-ins: routes
by method and path pattern, records every request (so a test sees what the client sent,
e.g. the revoke call), optionally requires a client certificate from a given CA."""
from __future__ import annotations

import contextlib
import json
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.interop.servers import ListenerTLS, make_listener_tls


@dataclass
class Answer:
    status: int = 200
    body: Any = None                  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0                # seconds before answering (a slow CA)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    client_subject: str | None


Handler = Callable[[Recorded, "re.Match[str]"], Answer]


class JsonStandIn:
    def __init__(self, directory: Path, *, client_ca_pem: str | None = None) -> None:
        self.tls: ListenerTLS = make_listener_tls(directory)
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        #: Called with each request before it is answered (a test looks at the platform's
        #: state at the moment the CA hears of something).
        self.observe: Callable[[Recorded], None] | None = None
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                peer = self.connection.getpeercert() if hasattr(self.connection,
                                                                "getpeercert") else None
                subject = None
                if peer:
                    subject = ",".join(f"{k}={v}" for rdn in peer.get("subject", ())
                                       for k, v in rdn)
                recorded = Recorded(self.command, self.path, dict(self.headers.items()), body,
                                    subject)
                with server.lock:
                    server.requests.append(recorded)
                if server.observe is not None:
                    server.observe(recorded)
                answer = server.dispatch(recorded)
                if answer.delay:
                    time.sleep(answer.delay)
                payload = answer.body if isinstance(answer.body, bytes) else (
                    b"" if answer.body is None else json.dumps(answer.body).encode())
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json"} | answer.headers
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert_path, self.tls.key_path)
        if client_ca_pem:
            context.verify_mode = ssl.CERT_REQUIRED
            with tempfile.NamedTemporaryFile("w", suffix=".pem", dir=directory,
                                             delete=False) as handle:
                handle.write(client_ca_pem)
            context.load_verify_locations(handle.name)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern + r"/?(\?.*)?$"), handler))

    def dispatch(self, recorded: Recorded) -> Answer:
        for method, pattern, handler in self.routes:
            match = pattern.match(recorded.path)
            if method == recorded.method and match:
                return handler(recorded, match)
        return Answer(404, {"errors": [{"code": "not_found", "message": "No such endpoint."}]})

    def url(self, path: str = "", host: str = "localhost") -> str:
        return f"https://{host}:{self.port}{path}"

    def calls(self, method: str, contains: str = "") -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method and contains in r.path]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

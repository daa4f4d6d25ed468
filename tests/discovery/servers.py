"""Loopback endpoints for scan tests: real TLS servers (Python ``ssl``) and servers that
misbehave (never answer, close at once, speak plain HTTP). Each runs in a thread on a free
port until stopped."""
from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path


class LoopbackServer:
    """Accepts connections on 127.0.0.1 and hands each to ``handle`` in its own thread;
    counts how many connections are open at once (``peak``)."""

    def __init__(self, handle: Callable[[socket.socket], None], port: int = 0) -> None:
        self._handle = handle
        self._sock = socket.create_server(("127.0.0.1", port))
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.open = 0
        self.peak = 0
        self.accepted = 0
        self.accept_times: list[float] = []
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.open += 1
                self.accepted += 1
                self.accept_times.append(time.monotonic())
                self.peak = max(self.peak, self.open)
                self._clients.append(client)
            threading.Thread(target=self._run, args=(client,), daemon=True).start()

    def _run(self, client: socket.socket) -> None:
        try:
            self._handle(client)
        except OSError:
            pass
        finally:
            with self._lock:
                self.open -= 1

    def reset_counts(self) -> None:
        with self._lock:
            self.peak = self.open
            self.accepted = 0
            self.accept_times = []

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)
        with self._lock:
            for client in self._clients:
                client.close()


def tls_server(cert_file: Path, key_file: Path, port: int = 0) -> LoopbackServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)

    def handle(client: socket.socket) -> None:
        client.settimeout(5)
        try:
            with context.wrap_socket(client, server_side=True) as tls:
                tls.recv(1)             # until the scanner hangs up
        except (ssl.SSLError, OSError):
            pass
    return LoopbackServer(handle, port)


def silent_server() -> LoopbackServer:
    """Accepts and reads, but never says a word (until the scanner hangs up)."""
    def handle(client: socket.socket) -> None:
        client.settimeout(30)
        while client.recv(4096):
            pass
    return LoopbackServer(handle)


def closing_server() -> LoopbackServer:
    """Accepts and closes the connection at once (reads the hello first, then hangs up)."""
    def handle(client: socket.socket) -> None:
        client.settimeout(5)
        client.recv(1024)
        client.close()
    return LoopbackServer(handle)


def plain_http_server() -> LoopbackServer:
    """Answers whatever arrives the way an HTTP server answers garbage."""
    def handle(client: socket.socket) -> None:
        client.settimeout(5)
        client.recv(4096)
        client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                       b"Connection: close\r\n\r\n")
        client.close()
    return LoopbackServer(handle)


def free_port() -> int:
    """A loopback port nothing listens on (so connecting is refused)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]

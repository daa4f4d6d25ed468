"""Read the certificate chain a TLS endpoint serves (discovery scans). Network only: no
application imports.

This is the one place the platform connects over TLS **without verifying** the peer, on
purpose: a scan records what an endpoint serves, and an expired, self-signed or
wrongly-named certificate is exactly what it must find. Nothing is sent over the
connection and nothing read from it is trusted: the chain is only stored for display.
The target still passes the outbound-safety check, and the socket connects to an address
that was checked (no second lookup)."""
from __future__ import annotations

import ipaddress
import select
import socket
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL

from app.net.outbound import OutboundBlocked, OutboundPolicy, check_host_port

REFUSED, TIMEOUT, CLOSED, NOT_TLS, TLS_ERROR = "refused", "timeout", "closed", "not_tls", \
    "tls_error"
BLOCKED, UNREACHABLE, NO_CERTIFICATE = "blocked", "unreachable", "no_certificate"

#: OpenSSL reasons that mean "the other side does not speak TLS" (e.g. plain HTTP).
_NOT_TLS_REASONS = ("wrong version number", "packet length too long", "http request",
                    "unknown protocol", "record layer failure", "record_layer_failure",
                    "wrong_version_number", "packet_length_too_long")


@dataclass(frozen=True)
class ProbeResult:
    chain_der: tuple[bytes, ...] = ()    # as served: the leaf first
    address: str = ""
    error_code: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_code is None


def _failed(code: str, message: str, address: str = "") -> ProbeResult:
    return ProbeResult(address=address, error_code=code, error_message=message)


def _context() -> SSL.Context:
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    # Deliberately unverified (see the module docstring): the scan must see bad chains.
    context.set_verify(SSL.VERIFY_NONE, lambda *_: True)
    # Offer old protocols and ciphers too, so an outdated server's certificate is found;
    # no application data is ever exchanged on this connection.
    context.set_min_proto_version(0)
    context.set_cipher_list(b"ALL:@SECLEVEL=0")
    return context


def _wait(sock: socket.socket, *, write: bool, deadline: float) -> bool:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    readable, writable, _ = select.select([] if write else [sock], [sock] if write else [],
                                          [], remaining)
    return bool(readable or writable)


def _handshake(conn: SSL.Connection, sock: socket.socket, deadline: float) -> None:
    while True:
        try:
            conn.do_handshake()
            return
        except SSL.WantReadError:
            if not _wait(sock, write=False, deadline=deadline):
                raise TimeoutError from None
        except SSL.WantWriteError:
            if not _wait(sock, write=True, deadline=deadline):
                raise TimeoutError from None


def _tls_failure(exc: SSL.Error, address: str) -> ProbeResult:
    if isinstance(exc, SSL.ZeroReturnError) or (
            isinstance(exc, SSL.SysCallError) and exc.args and exc.args[0] in (
                -1, 104, 32)):
        return _failed(CLOSED, "The server closed the connection during the TLS handshake.",
                       address)
    text = str(exc).lower()
    if any(reason in text for reason in _NOT_TLS_REASONS):
        return _failed(NOT_TLS, "The endpoint answered, but not with TLS (a plain-text "
                       "service such as HTTP?).", address)
    return _failed(TLS_ERROR, f"The TLS handshake failed: {_reason(exc)}.", address)


def _reason(exc: SSL.Error) -> str:
    try:
        return "; ".join(str(e[2]) for e in exc.args[0]) or exc.__class__.__name__
    except (IndexError, TypeError):
        return str(exc) or exc.__class__.__name__


def sni_for(host: str) -> str:
    """The SNI name to send for ``host``: none for an IP address (RFC 6066 forbids it)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.rstrip(".").lower()
    return ""


def probe(host: str, port: int, server_name: str, policy: OutboundPolicy,
          timeout: float) -> ProbeResult:
    """Connect to ``host:port`` (sending ``server_name`` as SNI when given), complete a
    TLS handshake within ``timeout`` seconds and return the served chain — or why not."""
    deadline = time.monotonic() + timeout
    try:
        addresses = check_host_port(host, port, policy)
    except OutboundBlocked as exc:
        code = "unresolvable" if exc.code == "outbound.unresolvable" else BLOCKED
        return _failed(code, str(exc).replace("OUTBOUND_ALLOWED_NETWORKS",
                                              "DISCOVERY_ALLOWED_NETWORKS"))
    result = _failed(UNREACHABLE, "No address could be reached.")
    for address in addresses:
        result = _probe_address(str(address), port, server_name, deadline)
        if result.error_code not in (REFUSED, UNREACHABLE):
            return result
    return result


def _probe_address(address: str, port: int, server_name: str, deadline: float) -> ProbeResult:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return _failed(TIMEOUT, "No answer within the time limit.", address)
    try:
        sock = socket.create_connection((address, port), timeout=remaining)
    except ConnectionRefusedError:
        return _failed(REFUSED, "The connection was refused (nothing listens on that port).",
                       address)
    except TimeoutError:
        return _failed(TIMEOUT, "The connection was not accepted within the time limit.",
                       address)
    except OSError as exc:
        return _failed(UNREACHABLE, f"The endpoint cannot be reached: {exc.strerror or exc}.",
                       address)
    try:
        sock.setblocking(False)
        conn = SSL.Connection(_context(), sock)
        if server_name:
            conn.set_tlsext_host_name(server_name.encode("idna"))
        conn.set_connect_state()
        try:
            _handshake(conn, sock, deadline)
        except TimeoutError:
            return _failed(TIMEOUT, "The TLS handshake did not finish within the time limit "
                           "(the server accepted the connection but did not answer).",
                           address)
        except SSL.Error as exc:
            return _tls_failure(exc, address)
        chain = conn.get_peer_cert_chain(as_cryptography=True) or []
        if not chain:
            return _failed(NO_CERTIFICATE, "The server completed the handshake without "
                           "presenting a certificate.", address)
        return ProbeResult(chain_der=tuple(c.public_bytes(Encoding.DER) for c in chain),
                           address=address)
    finally:
        sock.close()

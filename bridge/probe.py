"""Which certificate a TLS endpoint serves (its serial and SHA-256 fingerprint)."""
from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes


@dataclass(frozen=True)
class Served:
    serial: str              # lower-case hex, no leading zeros
    fingerprint: str         # colon-separated upper-case hex


def served_certificate(host: str, port: int, sni: str | None, timeout: float = 5.0) -> Served:
    """The leaf the endpoint presents. Not verified on purpose: the point is to see WHAT
    is served (compared by fingerprint with what was deployed), whoever signed it."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # identification only: no data is sent
    with socket.create_connection((host, port), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=sni or None) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise OSError("The endpoint presented no certificate.")
    cert = x509.load_der_x509_certificate(der)
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return Served(serial=format(cert.serial_number, "x"),
                  fingerprint=":".join(digest[i:i + 2] for i in range(0, len(digest), 2)))


def wait_for(host: str, port: int, sni: str | None, fingerprint: str,
             timeout: float) -> tuple[Served | None, str]:
    """Probe until the endpoint serves ``fingerprint`` or ``timeout`` passes (a reload
    is asynchronous: the old workers may answer for a moment). Returns the last
    certificate seen (None if none) and what happened, for the report."""
    deadline = time.monotonic() + timeout
    last: Served | None = None
    problem = ""
    while True:
        try:
            last = served_certificate(host, port, sni)
            if last.fingerprint == fingerprint:
                return last, f"{host}:{port} serves serial {last.serial}"
            problem = f"{host}:{port} serves serial {last.serial}, not the new certificate"
        except (OSError, ssl.SSLError, ValueError) as exc:
            problem = f"{host}:{port}: {exc}"
        if time.monotonic() >= deadline:
            return last, problem
        time.sleep(0.25)

"""Which certificate a TLS endpoint serves (its serial and SHA-256 fingerprint)."""
from __future__ import annotations

import re
import socket
import ssl
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes

CERTIFICATE_BLOCK = re.compile(
    r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")


def certificates_only(pem: str) -> str:
    """The certificate blocks of a PEM text (a haproxy file also holds the key)."""
    return "\n".join(CERTIFICATE_BLOCK.findall(pem)) + "\n"


@dataclass(frozen=True)
class Served:
    serial: str              # lower-case hex, no leading zeros
    fingerprint: str         # colon-separated upper-case hex


def served_certificate(host: str, port: int, sni: str | None, trust_pem: str,
                       timeout: float = 5.0) -> Served:
    """The leaf the endpoint presents, verified against ``trust_pem`` (the deployed
    certificate's chain, or the certificate itself): verification stays on, and a
    certificate from elsewhere is an error. Which leaf it is (serial, fingerprint) is then
    compared with what was deployed; the name is not checked because the probe may use
    an address the certificate does not name."""
    context = ssl.create_default_context(cadata=trust_pem)
    # The platform's intermediate (or the leaf) is the anchor: the root need not be here.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.check_hostname = False
    with socket.create_connection((host, port), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=sni or None) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise OSError("The endpoint presented no certificate.")
    cert = x509.load_der_x509_certificate(der)
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return Served(serial=format(cert.serial_number, "x"),
                  fingerprint=":".join(digest[i:i + 2] for i in range(0, len(digest), 2)))


def wait_for(host: str, port: int, sni: str | None, fingerprint: str, trust_pem: str,
             timeout: float) -> tuple[Served | None, str]:
    """Probe until the endpoint serves ``fingerprint`` or ``timeout`` passes (a reload
    is asynchronous: the old workers may answer for a moment). Returns the last
    certificate seen (None if none) and what happened, for the report."""
    deadline = time.monotonic() + timeout
    last: Served | None = None
    problem = ""
    while True:
        try:
            last = served_certificate(host, port, sni, trust_pem)
            if last.fingerprint == fingerprint:
                return last, f"{host}:{port} serves serial {last.serial}"
            problem = f"{host}:{port} serves serial {last.serial}, not the new certificate"
        except (OSError, ssl.SSLError, ValueError) as exc:
            problem = f"{host}:{port}: {exc}"
        if time.monotonic() >= deadline:
            return last, problem
        time.sleep(0.25)

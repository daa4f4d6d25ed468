"""JSON over HTTPS to a commercial CA (DigiCert CertCentral, GlobalSign Atlas): one client
that every call goes through, so each vendor client only says *what* to ask.

- Every URL passes the outbound-safety check (``OutboundSession``: https only, public
  addresses unless allowed, checked again at connection time, bounded bodies, timeouts).
- A client certificate (GlobalSign's mutual TLS) is written to a private temporary
  directory only for the duration of one call (``requests`` takes files, not bytes).
- Errors become the provider error tree, in plain words with the CA's own message:
  429 (with its ``Retry-After``), 5xx, timeouts and unreachable hosts are transient
  (the order job is rescheduled); any other 4xx is permanent (the order fails with the
  CA's message); a body that is not the JSON the API documents is ``MalformedAnswer``.
- A create call (``idempotent=False``) whose answer never arrived (read timeout) is NOT
  transient: the CA may have taken the order, and sending it again could order twice.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from cryptography import x509

from app.net.outbound import OutboundBlocked, OutboundPolicy, OutboundSession
from app.providers.acme_net import retry_after_seconds
from app.providers.base import ProviderRejectedError, ProviderTransientError

USER_AGENT = "certificate-platform (rest)"
MAX_MESSAGE = 400


class MalformedAnswer(ProviderRejectedError):
    """The CA answered, but not with what its API documents (not JSON, a field missing)."""

    code = "provider.malformed"


@dataclass(frozen=True)
class ClientCertificate:
    cert_pem: str
    key_pem: str = field(repr=False)


@dataclass(frozen=True)
class RestResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    vendor: str

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedAnswer(f"{self.vendor} answered HTTP {self.status} with a body "
                                  "that is not JSON.") from exc

    def text(self) -> str:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedAnswer(f"{self.vendor} answered with a body that is not "
                                  "text.") from exc


def require(data: Any, *path: str | int, vendor: str, what: str) -> Any:
    """``data[path…]`` or MalformedAnswer naming the missing field."""
    value = data
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            value = None
        if value is None:
            raise MalformedAnswer(f"{vendor}'s answer to {what} has no "
                                  f"'{'.'.join(str(p) for p in path)}'.")
    return value


ErrorText = Callable[[Any], str | None]


def generic_error_text(data: Any) -> str | None:
    """The message of the usual error shapes: ``{"errors": [{"message"}]}``,
    ``{"detail"|"description"|"message"|"title": …}``."""
    if not isinstance(data, dict):
        return None
    errors = data.get("errors")
    if isinstance(errors, list):
        parts = [str(e.get("message") or e.get("code")) for e in errors
                 if isinstance(e, dict) and (e.get("message") or e.get("code"))]
        if parts:
            return "; ".join(parts)
    for key in ("detail", "description", "message", "title", "error"):
        if isinstance(data.get(key), str) and data[key].strip():
            return str(data[key])
    return None


class RestClient:
    def __init__(self, base_url: str, policy: OutboundPolicy, *, vendor: str,
                 headers: Mapping[str, str] | None = None,
                 client_certificate: ClientCertificate | None = None,
                 error_text: ErrorText = generic_error_text) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.vendor = vendor
        self.headers = {"Accept": "application/json", "User-Agent": USER_AGENT,
                        **(headers or {})}
        self.client_certificate = client_certificate
        self.error_text = error_text

    def url(self, path: str) -> str:
        return path if path.startswith(("https://", "http://")) \
            else self.base_url + "/" + path.lstrip("/")

    def call(self, method: str, path: str, *, what: str, body: Any = None,
             headers: Mapping[str, str] | None = None, idempotent: bool = True
             ) -> RestResponse:
        """Send one request; a 2xx answer is returned, anything else raised as the
        provider error it means. ``what`` names the step for messages ("ordering")."""
        all_headers = dict(self.headers) | dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        try:
            with self._cert_files() as cert, OutboundSession(self.policy) as session:
                response = session.request(method, self.url(path), data=data,
                                           headers=all_headers, cert=cert,
                                           allow_redirects=False)
        except OutboundBlocked as exc:
            raise ProviderRejectedError(f"{what}: {exc}", code=exc.code) from exc
        except requests.exceptions.SSLError as exc:
            raise ProviderRejectedError(
                f"{what}: the TLS connection to {self.vendor} failed ({_reason(exc)}); "
                "check the base URL, the CA bundle and the client certificate.",
                code="provider.tls") from exc
        except requests.ReadTimeout as exc:
            if not idempotent:
                raise ProviderRejectedError(
                    f"{what}: {self.vendor} did not answer in time. It may have received "
                    "the request, so it is not sent again automatically; check the account "
                    "at the CA before resubmitting.", code="provider.unknown_outcome") from exc
            raise ProviderTransientError(f"{what}: {self.vendor} did not answer in "
                                         "time.") from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ProviderTransientError(f"{what}: {self.vendor} could not be reached "
                                         f"({exc.__class__.__name__}).") from exc
        except requests.RequestException as exc:
            raise ProviderTransientError(f"{what}: the call to {self.vendor} failed "
                                         f"({exc.__class__.__name__}).") from exc
        answer = RestResponse(response.status_code, response.headers, response.content,
                              self.vendor)
        if 200 <= answer.status < 300:
            return answer
        raise self._error(answer, response, what)

    def _error(self, answer: RestResponse, response: requests.Response,
               what: str) -> Exception:
        message = self._message(answer)
        said = f": {message}" if message else "."
        if answer.status == 429:
            return ProviderTransientError(
                f"{what}: {self.vendor} is rate limiting (HTTP 429){said}",
                retry_after=retry_after_seconds(response, 60), code="provider.rate_limited")
        if answer.status >= 500:
            retry = retry_after_seconds(response, 30) \
                if response.headers.get("Retry-After") else None
            return ProviderTransientError(
                f"{what}: {self.vendor} had a server error (HTTP {answer.status}){said}",
                retry_after=retry)
        if answer.status in (401, 403):
            return ProviderRejectedError(
                f"{what}: {self.vendor} refused the credentials (HTTP {answer.status})"
                f"{said} Check the provider's API key.", code="provider.auth")
        if 300 <= answer.status < 400:
            return ProviderRejectedError(f"{what}: {self.vendor} answered with a redirect "
                                         f"(HTTP {answer.status}); check the base URL.")
        return ProviderRejectedError(f"{what}: {self.vendor} refused the request "
                                     f"(HTTP {answer.status}){said}",
                                     code="provider.rejected")

    def _message(self, answer: RestResponse) -> str:
        try:
            data = json.loads(answer.body.decode("utf-8")) if answer.body else None
        except (UnicodeDecodeError, ValueError):
            return ""
        text = self.error_text(data) or ""
        text = " ".join(text.split())
        return text[:MAX_MESSAGE] + ("…" if len(text) > MAX_MESSAGE else "")

    @contextlib.contextmanager
    def _cert_files(self) -> Iterator[tuple[str, str] | None]:
        if self.client_certificate is None:
            yield None
            return
        with tempfile.TemporaryDirectory(prefix="provider-mtls-") as directory:
            cert_path = Path(directory) / "client.pem"
            key_path = Path(directory) / "client.key"
            cert_path.write_text(self.client_certificate.cert_pem)
            descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(self.client_certificate.key_pem)
            yield str(cert_path), str(key_path)


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed",
                   "TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_HANDSHAKE_FAILURE",
                   "alert certificate required", "handshake failure", "hostname mismatch"):
        if marker in text:
            return marker.lower().replace("_", " ")
    return exc.__class__.__name__


def certificates_from_pem(text: str, *, vendor: str, what: str
                          ) -> tuple[x509.Certificate, tuple[x509.Certificate, ...]]:
    """(leaf, chain without the root) from a PEM bundle the CA sent, leaf first."""
    try:
        found = x509.load_pem_x509_certificates(text.encode())
    except ValueError as exc:
        raise MalformedAnswer(f"{vendor}'s {what} is not PEM certificates.") from exc
    if not found:
        raise MalformedAnswer(f"{vendor}'s {what} holds no certificate.")
    leaf, *rest = found
    return leaf, tuple(c for c in rest if c.subject != c.issuer)


@contextlib.contextmanager
def answer_again_later() -> Iterator[None]:
    """While checking an order the CA already holds, an answer that is not what the API
    documents is asked again later (the CA keeps the order; nothing is ordered twice)."""
    try:
        yield
    except MalformedAnswer as exc:
        raise ProviderTransientError(f"{exc} Asking again later.") from exc

"""The ACME client's network layer: the ``acme`` library's ``ClientNetwork`` on the guarded
outbound session, with badNonce handled as RFC 8555 6.5 says, and one translation of
every failure into the provider error tree."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import josepy as jose
import requests
from acme import client as acme_client
from acme import errors as acme_errors
from acme import messages

from app.net.outbound import OutboundBlocked, OutboundPolicy, OutboundSession
from app.providers.base import ProviderRejectedError, ProviderTransientError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How often one request is re-sent after a badNonce answer. RFC 8555 6.5: the client
#: SHOULD retry with the fresh nonce the error carries; the acme library retries once,
#: which a CA rejecting a few percent of nonces defeats often enough to matter.
MAX_BAD_NONCE_RETRIES = 10
TRANSIENT_ACME_ERRORS = {"rateLimited", "serverInternal", "badNonce"}
USER_AGENT = "certificate-platform (acme)"


class GuardedClientNetwork(acme_client.ClientNetwork):
    """``ClientNetwork`` whose HTTP goes through ``OutboundSession`` (address checks,
    https only, timeouts, bounded bodies, pinned CA bundle)."""

    def __init__(self, key: jose.JWK | None, policy: OutboundPolicy, *,
                 alg: jose.JWASignature = jose.ES256) -> None:
        super().__init__(key=key, alg=alg, verify_ssl=True, user_agent=USER_AGENT,
                         timeout=int(policy.read_timeout))
        self.session.close()
        self.session = OutboundSession(policy)
        self.last_response: requests.Response | None = None
        self.bad_nonce_retries = 0

    def _send_request(self, method: str, url: str, *args: Any,
                      **kwargs: Any) -> requests.Response:
        kwargs.pop("verify", None)
        kwargs.setdefault("headers", {}).setdefault("User-Agent", self.user_agent)
        response = self.session.request(method, url, *args, **kwargs)
        response.encoding = "utf-8"
        self.last_response = response
        return response

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        for attempt in range(MAX_BAD_NONCE_RETRIES + 1):
            try:
                return self._post_once(*args, **dict(kwargs))
            except messages.Error as error:
                if error.code != "badNonce" or attempt == MAX_BAD_NONCE_RETRIES:
                    raise
                self.bad_nonce_retries += 1
                log.info("ACME server rejected a nonce; retrying (%d)", attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover

    def _post_once(self, url: str, obj: jose.JSONDeSerializable,
                   content_type: str = acme_client.ClientNetwork.JOSE_CONTENT_TYPE,
                   **kwargs: Any) -> requests.Response:
        new_nonce_url = kwargs.pop("new_nonce_url", None)
        if not self.key:
            raise acme_errors.Error("No account key to sign with.")
        data = self._wrap_in_jws(obj, self._get_nonce(url, new_nonce_url), url)
        kwargs.setdefault("headers", {"Content-Type": content_type})
        response = self._send_request("POST", url, data=data, **kwargs)
        # Keep the nonce of every answer, errors included: a badNonce answer carries the
        # fresh nonce the retry must use.
        with contextlib.suppress(acme_errors.NonceError):
            self._add_nonce(response)
        return self._check_response(response, content_type=content_type)


def retry_after_seconds(response: requests.Response | None, default: int,
                        *, low: int = 1, high: int = 3600) -> int:
    """The response's Retry-After (seconds or HTTP date) clamped to [low, high]."""
    value = response.headers.get("Retry-After", "") if response is not None else ""
    seconds: float = default
    if value.strip().isdigit():
        seconds = int(value.strip())
    elif value:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
    return int(min(max(seconds, low), high))


def describe(error: messages.Error) -> str:
    detail = (error.detail or error.description or error.typ or "no detail").strip()
    code = error.code or (error.typ or "").rsplit(":", 1)[-1]
    return f"{detail} ({code})" if code else detail


@contextlib.contextmanager
def acme_errors_translated(net: GuardedClientNetwork | None, what: str) -> Iterator[None]:
    """Run an ACME exchange; raise ProviderTransientError / ProviderRejectedError for
    whatever goes wrong (``what`` says which step, for the order's timeline)."""
    try:
        yield
    except (ProviderTransientError, ProviderRejectedError):
        raise
    except OutboundBlocked as exc:
        raise ProviderRejectedError(f"{what}: {exc}", code=exc.code) from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ProviderTransientError(f"{what}: the ACME server could not be reached "
                                     f"({exc.__class__.__name__}).") from exc
    except messages.Error as exc:
        response = net.last_response if net is not None else None
        status = response.status_code if response is not None else 0
        if exc.code in TRANSIENT_ACME_ERRORS or status >= 500:
            raise ProviderTransientError(
                f"{what}: {describe(exc)}",
                retry_after=retry_after_seconds(response, 30)) from exc
        raise ProviderRejectedError(f"{what}: the CA refused: {describe(exc)}",
                                    code="acme." + (exc.code or "error")) from exc
    except acme_errors.ClientError as exc:
        response = exc.args[0] if exc.args and isinstance(exc.args[0], requests.Response) \
            else (net.last_response if net is not None else None)
        status = response.status_code if isinstance(response, requests.Response) else 0
        if status >= 500 or status in (429, 0):
            raise ProviderTransientError(
                f"{what}: the ACME server answered HTTP {status or 'with an error'}.",
                retry_after=retry_after_seconds(response, 30)) from exc
        raise ProviderRejectedError(f"{what}: unexpected answer from the ACME server "
                                    f"(HTTP {status}).") from exc
    except (acme_errors.Error, jose.DeserializationError, ValueError) as exc:
        raise ProviderRejectedError(f"{what}: unexpected answer from the ACME server "
                                    f"({exc.__class__.__name__}).") from exc


def call(net: GuardedClientNetwork | None, what: str, func: Callable[[], T]) -> T:
    with acme_errors_translated(net, what):
        return func()

"""Keep-alive connections spread over the web processes when a process is busy.

A gevent web worker serves every connection it accepted, and a keep-alive connection
stays with that process for good. Clients that open their connections together (a
courier's pool of 16, or nginx's upstream connections after a restart) are split between
the processes by whichever accepted first — in the submission benchmark 105/726 and
659/172 requests a run — and the process holding most of them queues the CPU-heavy
submissions (a batch of 20 is ~30 ms of CPU) while the other idles: the p99 then
depends on that split, not on the load.

So a courier's certificate write (``POST /api/v1/courier/certificates…``: submissions,
renewals, revocations) answered while another one is in flight in the same process is
answered with ``Connection: close``: the
client's next request opens a new connection, which the process that is free to accept
takes first. An idle process keeps its connections (the common case costs nothing), and
a reconnect (~0.1 ms) is small against a submission. Status polls and pages are left
alone: they are cheap, and thousands of polling tabs must keep their connections.

gevent's server honours the header; gunicorn's own workers (sync, gthread) drop
hop-by-hop headers an application sets, so there it changes nothing."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

#: The courier's certificate writes: single and batch submissions, renewal and revocation
#: (``/api/v1/courier/certificates/<id>/renew``, ``…/revoke``).
SUBMISSION_PREFIX = "/api/v1/courier/certificates"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class CloseWhenBusy:
    """WSGI layer counting the submissions in flight in this process (one process, one
    counter: under gevent they interleave in one thread)."""

    def __init__(self, wsgi_app: WsgiApp) -> None:
        self.wsgi_app = wsgi_app
        self.in_flight = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or \
                not environ.get("PATH_INFO", "").startswith(SUBMISSION_PREFIX):
            return self.wsgi_app(environ, start_response)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if self.in_flight > 1:
                headers = [*headers, ("Connection", "close")]
            return start_response(status, headers, exc_info)

        self.in_flight += 1
        try:
            return self.wsgi_app(environ, start)
        finally:
            self.in_flight -= 1

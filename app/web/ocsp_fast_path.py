"""The OCSP responder's fast path: a WSGI layer in front of Flask that answers
``GET /pki/ocsp/<request>`` and ``POST /pki/ocsp`` from the responses the worker
pre-signed into Redis (``services/ocsp_cache.py``), without a request context, a session
or a database round trip.

It answers only what it is sure of: a well-formed SHA-1 CertID request for an issuer the
in-process index knows whose response is in Redis.
Everything else — a malformed request, an unknown issuer or serial, a stale index, Redis
unreachable or without the response — goes on to the Flask route, which answers from the
database as before, with the same body and headers. Relying parties cannot tell which
path answered (tests compare both)."""
from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from app.services import revocation_serving
from app.services.revocation_serving import MAX_OCSP_REQUEST, Published
from app.web.headers import SECURITY_HEADERS

GET_PREFIX = "/pki/ocsp/"
POST_PATH = "/pki/ocsp"
MIMETYPE = "application/ocsp-response"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class OcspFastPath:
    def __init__(self, wsgi_app: WsgiApp, redis_url: str) -> None:
        self.wsgi_app = wsgi_app
        self.redis_url = redis_url

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        der: bytes | None = None
        if method == "GET" and path.startswith(GET_PREFIX):
            der = revocation_serving.decode_get_path(path[len(GET_PREFIX):])
        elif method == "POST" and path == POST_PATH:
            der = self._read_body(environ)
        if der:
            published = revocation_serving.cached_ocsp_answer(der, self.redis_url)
            if published is not None:
                return self._respond(published, start_response)
        return self.wsgi_app(environ, start_response)

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> bytes | None:
        """The POSTed request, put back for Flask to read again if this path passes."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if not 0 < length <= MAX_OCSP_REQUEST:
            return None
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    @staticmethod
    def _respond(published: Published, start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        headers = [("Content-Type", MIMETYPE), ("Content-Length", str(len(published.body))),
                   *published.cache_headers().items(), *SECURITY_HEADERS.items()]
        start_response("200 OK", headers)
        return [published.body]

"""``/pki/*``: what relying parties fetch — CRLs, the OCSP responder, CA certificates
(caIssuers). Public, over plain http as well as https (no HSTS here; see
``web/headers.py``), no session cookie, and cacheable until the data's nextUpdate. Every
answer comes from what the worker signed; the web holds no CA key."""
from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime
from urllib.parse import unquote

from flask import Blueprint, Response, request

from app.services import revocation_serving
from app.services.revocation_serving import Published

bp = Blueprint("pki_public", __name__, url_prefix="/pki")


def _cached(published: Published, mimetype: str, filename: str | None = None) -> Response:
    response = Response(published.body, mimetype=mimetype)
    now = datetime.now(UTC)
    if published.next_update is not None and published.next_update > now:
        seconds = int((published.next_update - now).total_seconds())
        response.headers["Cache-Control"] = f"public, max-age={seconds}, no-transform"
        response.expires = published.next_update
        if published.this_update is not None:
            response.last_modified = published.this_update
        response.set_etag(hashlib.sha256(published.body).hexdigest()[:32])
    elif published.next_update is None and filename is not None:
        response.headers["Cache-Control"] = "public, max-age=3600"
    else:
        response.headers["Cache-Control"] = "no-cache"
    if filename:
        response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@bp.get("/<ca_id>/crl")
def crl(ca_id: str) -> Response:
    return _cached(revocation_serving.latest_crl(ca_id), "application/pkix-crl",
                   "crl.der").make_conditional(request)


@bp.get("/<ca_id>/crl.pem")
def crl_pem(ca_id: str) -> Response:
    return _cached(revocation_serving.latest_crl(ca_id, pem=True), "application/x-pem-file",
                   "crl.pem").make_conditional(request)


@bp.get("/<ca_id>/ca.crt")
def ca_certificate(ca_id: str) -> Response:
    return _cached(revocation_serving.ca_certificate_der(ca_id), "application/pkix-cert",
                   "ca.crt")


def _ocsp(der: bytes) -> Response:
    return _cached(revocation_serving.ocsp_answer(der), "application/ocsp-response")


@bp.post("/ocsp")
def ocsp_post() -> Response:
    # Read at most one byte more than a request may have: the service refuses it.
    return _ocsp(request.stream.read(revocation_serving.MAX_OCSP_REQUEST + 1))


@bp.get("/ocsp/<path:encoded>")
def ocsp_get(encoded: str) -> Response:
    """RFC 6960 A.1: the DER request, base64, URL-encoded, after the responder's URL."""
    try:
        raw = unquote(encoded)
        der = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        der = b""
    return _ocsp(der)

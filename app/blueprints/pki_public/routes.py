"""``/pki/*``: what relying parties fetch — CRLs, the OCSP responder, CA certificates
(caIssuers). Public, over plain http as well as https (no HSTS here; see
``web/headers.py``), no session cookie, and cacheable until the data's nextUpdate. Every
answer comes from what the worker signed; the web holds no CA key."""
from __future__ import annotations

from flask import Blueprint, Response, request

from app.services import revocation_serving
from app.services.revocation_serving import Published

bp = Blueprint("pki_public", __name__, url_prefix="/pki")


def _cached(published: Published, mimetype: str, filename: str | None = None) -> Response:
    response = Response(published.body, mimetype=mimetype)
    response.headers.update(published.cache_headers(filename))
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
    """RFC 6960 A.1 (the fast path, ``web/ocsp_fast_path.py``, answers most of these
    from Redis before Flask sees them)."""
    return _ocsp(revocation_serving.decode_get_path(encoded))

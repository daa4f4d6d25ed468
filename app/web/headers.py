"""Security headers on every response.

The Content-Security-Policy fits htmx: scripts and styles only from this site (htmx is
vendored; its inline indicator style is off and the indicator CSS lives in app.css; no
inline script or event-handler attributes anywhere), images from this site or data: URIs
(Pico's icons), nothing framed, forms posting only here. HSTS is sent in production,
where the platform is served over HTTPS."""
from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.wrappers import Response

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HSTS = "max-age=31536000"  # one year; subdomains are not ours to pin


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    # /pki/* (CRLs, OCSP, CA certificates) is fetched over plain http by relying parties;
    # HSTS there would make browsers refuse those URLs.
    if current_app.config["APP_ENV"] == "production" and not request.path.startswith("/pki/"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def register(app: Flask) -> None:
    app.after_request(security_headers)

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


#: Sent on every response (the OCSP fast path, which answers before Flask, sends them too).
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def security_headers(response: Response) -> Response:
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    # /pki/* (CRLs, OCSP, CA certificates) is fetched over plain http by relying parties;
    # HSTS there would make browsers refuse those URLs.
    if current_app.config["APP_ENV"] == "production" and not request.path.startswith("/pki/"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def register(app: Flask) -> None:
    app.after_request(security_headers)

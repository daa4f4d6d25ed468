"""http-01 answers for the platform's own ACME orders (RFC 8555 8.3): the key
authorization of a pending challenge, from the database, to anyone (the CA asks over plain
HTTP on port 80; nothing secret is served)."""
from __future__ import annotations

from flask import Blueprint, Response, abort

from app.services.challenges import key_authorization_for

bp = Blueprint("http01", __name__)


@bp.get("/.well-known/acme-challenge/<token>")
def answer(token: str) -> Response:
    key_authorization = key_authorization_for(token)
    if key_authorization is None:
        abort(404)
    return Response(key_authorization, mimetype="application/octet-stream",
                    headers={"Cache-Control": "no-store"})

"""Reading the http-01 challenges the worker publishes (see ``provider_runtime``)."""
from __future__ import annotations

import re

from app.extensions import db
from app.models import ProviderChallenge

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")   # base64url, RFC 8555 8.1


def key_authorization_for(token: str) -> str | None:
    if not TOKEN.fullmatch(token):
        return None
    row = db.session.get(ProviderChallenge, token)
    return row.key_authorization if row is not None else None

"""Odd input stops at the edge, before any view or query sees it.

- A NUL character anywhere in the path, the query string, a form field (name or value),
  an uploaded file's name or a JSON body's strings is refused with 400 (PostgreSQL cannot
  store NUL in text, and no field of ours has a use for it). Under ``/api/`` the API's
  error handler turns the 400 into its JSON error.
- ``<int:…>`` in a route matches only numbers an INTEGER column can hold, so a huge id is
  a 404, not a database overflow; ``int_arg`` reads a query parameter the same way.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

# The largest value of a 32-bit signed INTEGER column (PostgreSQL ``integer``).
MAX_DB_INT = 2**31 - 1
NUL = "\x00"
NUL_MESSAGE = "The request contains a NUL character, which no field accepts."


class DatabaseIntConverter(IntegerConverter):
    """``<int:x>``: 0 … MAX_DB_INT, so a larger number simply does not match (404)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_DB_INT)
        super().__init__(map, *args, **kwargs)


def int_arg(name: str, *, minimum: int = 1, maximum: int = MAX_DB_INT) -> int | None:
    """A query parameter as an int in [minimum, maximum], else None (absent, not a
    number, or out of range: a hand-edited cursor means the first page, not an error)."""
    raw = request.args.get(name, "")
    if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 20:
        return None
    value = int(raw)
    return value if minimum <= value <= maximum else None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _json_has_nul() -> bool:
    if not request.is_json:
        return False
    raw = request.get_data(cache=True)
    if b"\\u0000" not in raw.lower() and b"\x00" not in raw:
        return False  # the common case: no need to parse twice
    try:
        return _has_nul(json.loads(raw))
    except ValueError:
        return False  # not JSON at all: the view answers that with its own 400


def refuse_nul() -> None:
    if NUL in request.path or any(NUL in key or NUL in value
                                  for key, value in request.args.items(multi=True)):
        raise BadRequest(NUL_MESSAGE)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if any(NUL in key or NUL in value for key, value in request.form.items(multi=True)):
            raise BadRequest(NUL_MESSAGE)
        if any(NUL in (upload.filename or "") for upload in request.files.values()):
            raise BadRequest(NUL_MESSAGE)
    elif _json_has_nul():
        raise BadRequest(NUL_MESSAGE)


def install(app: Flask) -> None:
    """Call before the blueprints are registered (routes bind converters when added)."""
    app.url_map.converters["int"] = DatabaseIntConverter
    app.before_request(refuse_nul)

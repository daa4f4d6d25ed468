"""Template filters, globals, and the request hooks every page relies on."""
from __future__ import annotations

from datetime import datetime

from flask import Flask, has_request_context, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.domain.labels import (
    ALERT_TYPE_LABELS,
    ALGORITHM_LABELS,
    EXTENDED_KEY_USAGE_LABELS,
    KEY_USAGE_LABELS,
    ORDER_TYPE_LABELS,
    PATHWAY_LABELS,
    SOURCE_LABELS,
    count_noun,
    requested_by_text,
)
from app.domain.roles import ROLE_LABELS, Permission, Role

ALLOWED_WHILE_PASSWORD_CHANGE = {"auth.change_password", "auth.logout", "static", "clm.favicon"}


# URLs that depend on nothing but the endpoint (the menu's ~25 links, the static files),
# built once per script root: every page's layout asks for them again.
_FIXED_URLS: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
MAX_FIXED_URLS = 512


def fixed_url_for(endpoint: str, **values: object) -> str:
    """``url_for`` for templates: remembered when the URL can only ever be the same —
    an absolute endpoint with no values but a static file's name; anything else (ids,
    query strings, ``_external``, blueprint-relative names, a template rendered outside a
    request) is built each time."""
    if (endpoint.startswith(".") or not has_request_context()
            or any(key != "filename" or not isinstance(value, str)
                   for key, value in values.items())):
        return url_for(endpoint, **values)
    key = (request.script_root, endpoint, tuple(values.items()))  # type: ignore[arg-type]
    url = _FIXED_URLS.get(key)
    if url is None:
        url = url_for(endpoint, **values)
        if len(_FIXED_URLS) < MAX_FIXED_URLS:
            _FIXED_URLS[key] = url
    return url


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.globals.update(Permission=Permission, url_for=fixed_url_for)
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["role_label"] = lambda r: ROLE_LABELS.get(Role(r), r)
    app.jinja_env.filters["days_left"] = days_left
    app.jinja_env.filters["combine_status"] = lambda args, status: {**args, "status": status}
    app.jinja_env.filters["compact_time"] = compact_time
    app.jinja_env.filters["iso"] = lambda v: v.isoformat(timespec="seconds") if v else ""
    app.jinja_env.filters["count_noun"] = count_noun
    app.jinja_env.filters["algorithm_label"] = lambda a: ALGORITHM_LABELS.get(a or "", a)
    app.jinja_env.filters["pathway_label"] = lambda p: PATHWAY_LABELS.get(p, p)
    app.jinja_env.filters["order_type_label"] = lambda t: ORDER_TYPE_LABELS.get(t, t)
    app.jinja_env.filters["alert_type_label"] = lambda t: ALERT_TYPE_LABELS.get(t, t)
    app.jinja_env.filters["source_label"] = lambda s: SOURCE_LABELS.get(s, s)
    app.jinja_env.filters["requested_by"] = lambda o: requested_by_text(
        o.requested_by_label, o.requested_by_kind, o.pathway)
    app.jinja_env.globals.update(KEY_USAGE_LABELS=KEY_USAGE_LABELS,
                                 EXTENDED_KEY_USAGE_LABELS=EXTENDED_KEY_USAGE_LABELS)

    @app.before_request
    def force_password_change() -> Response | None:
        if (current_user.is_authenticated and current_user.must_change_password
                and request.endpoint not in ALLOWED_WHILE_PASSWORD_CHANGE):
            return redirect(url_for("auth.change_password"))
        return None


def format_datetime(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def compact_time(value: datetime | None, now: datetime | None = None) -> str:
    """Short enough for a table column: the time today, the day and time this year, the
    date before that (the full UTC time goes in the cell's title)."""
    if value is None:
        return "—"
    from app.models.base import utcnow

    now = now or utcnow()
    if value.date() == now.date():
        return value.strftime("%H:%M:%S")
    if value.year == now.year:
        return value.strftime("%b %d %H:%M")
    return value.strftime("%Y-%m-%d")


def days_left(value: datetime | None) -> str:
    if value is None:
        return "—"
    from app.models.base import utcnow

    return str((value - utcnow()).days)

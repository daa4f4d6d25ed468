"""The order-status poll's fast path: a WSGI layer in front of Flask that answers an htmx
``GET /orders/<id>/status`` of an open order with the fragment the route rendered for
the same session a moment ago (``services/status_fragments.py``), after one database
query — no request context, no session load, no template.

It answers only when it is sure the route would send the same bytes: a canonical order
id, no query string, ``HX-Request: true`` (not a history restore), a session cookie
signed with this app's key that names a live session the route would take without
writing (``status_fragments.read_poll``), an open order whose fingerprint equals the
kept fragment's. Everything else — no cookie, a stale or foreign fragment, a terminal
order, Redis or the database failing — goes on to Flask, which checks and renders as
before (tests compare the two paths byte for byte). A session due for its once-a-minute
touch goes on to Flask once per process (which touches it); the same session's other
polls are answered here meanwhile, for ``TOUCH_HANDOFF_SECONDS``: one tab's touch
suffices, and sending every tab of a session to the slow path at once costs a full
render per tab (docs/performance.md, "the 2,000-tab stall").

Flask-Login's session protection must not be "strong" (it would need the client's
address and agent checked here); in the default "basic" mode a changed address only
marks the session non-fresh, which changes nothing this fragment shows."""
from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from flask import Flask
from itsdangerous import BadSignature
from werkzeug.http import parse_cookie

from app.models.base import utcnow
from app.services import status_fragments
from app.services.sessions import Limits
from app.web.headers import HSTS, SECURITY_HEADERS
from app.web.poll_batching import BatchedPollReader

log = logging.getLogger(__name__)

#: Verified cookies kept per process (when full it starts over: a miss costs one check).
MAX_KNOWN_COOKIES = 8192
#: Sessions whose touch hand-off a process remembers (when full it starts over: a miss
#: costs one more poll on the slow path).
MAX_KNOWN_HANDOFFS = 8192
#: How long after handing a session's due touch to the route the other polls of that
#: session are answered here; after it (a failed touch, say) the next poll goes again.
TOUCH_HANDOFF_SECONDS = 5.0

PATH = re.compile(r"/orders/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/status")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class StatusFastPath:
    def __init__(self, wsgi_app: WsgiApp, app: Flask,
                 polls: status_fragments.PollReader | BatchedPollReader) -> None:
        self.wsgi_app = wsgi_app
        self.polls = polls
        self.redis_url: str = app.config["REDIS_URL"]
        self.copies = status_fragments.LocalCopies(self.redis_url)
        self.cookie_name: str = app.config["SESSION_COOKIE_NAME"]
        self.cookie_max_age = int(app.permanent_session_lifetime.total_seconds())
        self.serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        # Cookies this process has verified: (token, signed at). A tab sends the same cookie
        # every second, and verifying it (base64, HMAC, JSON) was a tenth of a poll's cost.
        # Keyed by the whole cookie, signature included, so a changed cookie is verified.
        self._tokens: dict[str, tuple[str, float]] = {}
        # Sessions whose due touch this process handed to the route: id -> when.
        self._touches: dict[int, float] = {}
        self.limits = Limits(idle=timedelta(seconds=app.config["SESSION_IDLE_SECONDS"]),
                             maximum=timedelta(seconds=app.config["SESSION_MAX_SECONDS"]))
        self.headers = [("Content-Type", "text/html; charset=utf-8"), ("Vary", "HX-Request"),
                        ("Cache-Control", "no-store"), *SECURITY_HEADERS.items()]
        if app.config["APP_ENV"] == "production":
            self.headers.append(("Strict-Transport-Security", HSTS))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        order_id = self._polled_order(environ)
        body = self.kept_fragment(environ, order_id) if order_id else None
        if body is None:
            return self.wsgi_app(environ, start_response)
        start_response("200 OK", [*self.headers, ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _polled_order(environ: dict[str, Any]) -> uuid.UUID | None:
        """The order id of an htmx status poll this layer may answer, else None."""
        if (environ.get("REQUEST_METHOD") != "GET"
                or environ.get("HTTP_HX_REQUEST") != "true"
                or environ.get("HTTP_HX_HISTORY_RESTORE_REQUEST") == "true"
                or environ.get("QUERY_STRING")):
            return None
        match = PATH.fullmatch(environ.get("PATH_INFO", ""))
        return uuid.UUID(match.group(1)) if match else None

    def kept_fragment(self, environ: dict[str, Any], order_id: uuid.UUID) -> bytes | None:
        """The body the route would send for this poll, or None to let the route answer."""
        token = self._session_token(environ)
        if token is None:
            return None
        try:
            poll = self.polls.read(hashlib.sha256(token.encode()).hexdigest(), order_id,
                                   utcnow(), self.limits)
        except self.polls.errors as error:  # the route answers instead, and reports
            log.warning("status fast path: database read failed: %s", type(error).__name__)
            return None
        if poll is None or not poll.session_usable or poll.fingerprint is None:
            return None
        if poll.touch_due and self._hand_touch_to_route(poll.session_id):
            return None
        return self.copies.body(order_id, poll.session_id, poll.fingerprint)

    def _hand_touch_to_route(self, session_id: int) -> bool:
        """True for the first poll of a session due for its touch (the route will write
        it), and again once ``TOUCH_HANDOFF_SECONDS`` have passed without the touch
        being seen; False for the polls in between."""
        now = time.monotonic()
        handed = self._touches.get(session_id)
        if handed is not None and now - handed < TOUCH_HANDOFF_SECONDS:
            return False
        if len(self._touches) >= MAX_KNOWN_HANDOFFS:
            self._touches.clear()
        self._touches[session_id] = now
        return True

    def _session_token(self, environ: dict[str, Any]) -> str | None:
        """The server-side session token in the signed Flask session cookie (what
        Flask-Login's user loader gets), if the cookie is genuine and not too old."""
        cookie = parse_cookie(environ).get(self.cookie_name)
        if not cookie:
            return None
        now = time.time()
        known = self._tokens.get(cookie)
        if known is None:
            known = self._unsign(cookie)
            if known is None:
                return None
            if len(self._tokens) >= MAX_KNOWN_COOKIES:
                self._tokens.clear()
            self._tokens[cookie] = known
        token, signed_at = known
        # The age check itsdangerous makes, made again on every poll of a known cookie.
        return token if 0 <= now - signed_at <= self.cookie_max_age else None

    def _unsign(self, cookie: str) -> tuple[str, float] | None:
        """(token, when the cookie was signed) of a genuine cookie naming a session."""
        try:
            data, signed = self.serializer.loads(cookie, max_age=self.cookie_max_age,
                                                 return_timestamp=True)
        except BadSignature:
            return None
        token = data.get("_user_id") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            return None
        return token, signed.timestamp()

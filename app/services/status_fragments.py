"""Rendered status fragments of open orders, kept in Redis for the polling fast path.

An open order's page polls its fragment every second (``orders.status``), so a platform
with thousands of open tabs serves thousands of identical renderings a second. The route
keeps what it rendered for an htmx poll of an open order in Redis under
``statusfrag:<order id>:<session id>``, tagged with the order's *fingerprint*: every
column the fragment shows that can change while the order is open (status, the CA-side
progress, the last timeline event, the order's alerts). ``app/web/status_fast_path.py``
answers a poll from there after one database query that reads the cookie's session, its
user and the order's fingerprint together.

Correctness rules:
- The database stays the source of truth. A kept fragment is served only when the
  fingerprint read *now* equals the one it was rendered under, and the route reads the
  fingerprint *before* it renders, so a kept body is never older than its tag (a change
  between the two makes the tag stale, which only costs one more slow poll).
- Kept per session, not per user or order: the fragment may carry the session's CSRF
  token (alert acknowledgement forms), and only a session that passed the route's access
  check gets a key.
- A session is good for the fast path only while the route would accept it:
  live, its user enabled and not made to change the password (``session_usable``).
  The route writes the session's ``last_seen_at`` once a minute
  (``sessions.TOUCH_INTERVAL``); when that is due (``touch_due``) the fast path hands
  ONE poll per session and process to the route, which touches, and answers the
  others meanwhile — so the slow path still sees every session at least once a
  minute, without every tab of a session falling to it in the same moment.
- Terminal orders are never answered here (their fragment stops polling, and the route
  answers a repeat with an ETag and 304).
- The provider's name is part of the fingerprint (a renamed provider reaches the next
  poll). What else the fragment shows is fixed for an open order (the requester's
  label, the request, UTC times) or follows the user rather than the order (the alert
  panel's actions for their role): that may show stale for at most
  ``FRAGMENT_TTL_SECONDS`` (5 minutes)."""
from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine, Uuid, bindparam, text
from sqlalchemy.exc import SQLAlchemyError

from app.domain.orders import is_terminal
from app.extensions import db
from app.jobs.queue import pooled_redis
from app.models.base import UTCDateTime
from app.services import sessions
from app.services.sessions import Limits

log = logging.getLogger(__name__)

FRAGMENT_TTL_SECONDS = 300
#: Each copy lives a random part of the TTL, at least this share of it: copies kept in the
#: same second (every tab of a busy minute, or all of them after Redis restarted) must not
#: all expire in the same second, or every open tab falls to the slow path at once. A
#: copy is re-rendered at its end (a full Flask request, ~8 ms of CPU that holds a gevent
#: worker's loop): for 2,000 open tabs, copies of 30-60 s mean ~45 renders a second
#: (tabs / mean life), which doubled the polls' measured p50; copies of 150-300 s, ~9.
FRAGMENT_TTL_MIN_SHARE = 0.5


def client(url: str) -> Redis:
    """Short timeouts: a slow Redis sends polls to the slow path rather than hold them."""
    return pooled_redis(url, connect_timeout=0.5, read_timeout=1.0)


def key(order_id: uuid.UUID | str, session_id: int) -> str:
    return f"statusfrag:{order_id}:{session_id}"


# What an open order's fragment shows that can change while it is open (one place: the
# route and the fast path both read it through the statements below). Plain SQL with
# typed parameters: the fast path runs it thousands of times a second, and a text
# statement's cache key costs nothing next to a Core select with three subqueries.
_FINGERPRINT = """o.status, o.external_id, o.next_check_at, o.checks,
  (SELECT p.name FROM certificate_providers p WHERE p.id = o.provider_id),
  (SELECT max(e.id) FROM order_events e WHERE e.order_id = o.id),
  (SELECT count(a.id) FROM certificate_alerts a WHERE a.order_id = o.id),
  (SELECT count(a.acknowledged_at) FROM certificate_alerts a WHERE a.order_id = o.id)"""

_ORDER_FINGERPRINT_SQL = f"SELECT {_FINGERPRINT} FROM orders o WHERE o.id = :order_id"  # noqa: S608 (constants)
# The fast path's read of many polls at once: each (session token's hash, order id) with
# its position. PostgreSQL takes the asks as two arrays (one statement text whatever their
# number, so it stays prepared); SQLite as a VALUES list.
_POLLS_FROM = """SELECT q.i, s.id, s.created_at, s.last_seen_at, s.ended_at, u.enabled,
  u.must_change_password, {fingerprint}
FROM {asks}
  JOIN user_sessions s ON s.token_hash = q.token_hash JOIN users u ON u.id = s.user_id
  LEFT OUTER JOIN orders o ON o.id = q.order_id"""
_POLLS_SQL_POSTGRESQL = _POLLS_FROM.format(
    fingerprint=_FINGERPRINT,
    asks="unnest(%(token_hashes)s::text[], %(order_ids)s::uuid[]) WITH ORDINALITY "
         "AS q(token_hash, order_id, i)")

_ORDER_FINGERPRINT = text(_ORDER_FINGERPRINT_SQL).bindparams(
    bindparam("order_id", type_=Uuid()))


def _fingerprint(values: Sequence[object]) -> str | None:
    """The fingerprint of an open order from its ``_FINGERPRINT`` values; None for a
    missing or terminal order (never served from the cache)."""
    status = values[0]
    if status is None or is_terminal(str(status)):
        return None
    return "|".join("" if v is None else str(v) for v in values)


def current_fingerprint(order_id: str) -> str | None:
    """The fingerprint of the order in the URL, read in the request's transaction (the
    route's access check comes after, and a fragment is kept only if it passes)."""
    try:
        parsed = uuid.UUID(order_id)
    except ValueError:
        return None
    row = db.session.execute(_ORDER_FINGERPRINT, {"order_id": parsed}).one_or_none()
    return _fingerprint(row) if row is not None else None


@dataclass(frozen=True)
class Poll:
    """What the fast path learns from its one query."""

    session_id: int
    session_usable: bool         # live and the route would take it (a touch aside)
    fingerprint: str | None
    touch_due: bool = False      # the route would write its once-a-minute touch


def _same(value: object) -> object:
    return value


class PollReader:
    """Runs the polls' query on a raw DBAPI connection of ``engine``'s pool: the fast path
    runs it thousands of times a second, and SQLAlchemy's statement execution and result
    objects cost as much as the round trip. Parameters and the session's timestamps go
    through SQLAlchemy's own type processors, so both backends read the same values.
    ``read_many`` answers many polls with one statement (``web/poll_batching.py`` gathers
    a gevent worker's concurrent polls); ``read`` is one of them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = engine.dialect
        #: What a failed read raises: the pool's errors and the driver's.
        self.errors: tuple[type[Exception], ...] = (SQLAlchemyError, dialect.loaded_dbapi.Error)
        self.postgresql = dialect.name == "postgresql"
        self.uuid_param = Uuid().dialect_impl(dialect).bind_processor(dialect) or _same
        self.timestamp = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None) \
            or _same

    def read(self, token_hash: str, order_id: uuid.UUID, now: datetime,
             limits: Limits) -> Poll | None:
        """The cookie's session (by its token's hash), whether the route would take it
        without writing, and the order's fingerprint — one round trip. None: no such
        session."""
        return self.read_many([(token_hash, order_id)], now, limits)[0]

    def read_many(self, asks: Sequence[tuple[str, uuid.UUID]], now: datetime,
                  limits: Limits) -> list[Poll | None]:
        """``read`` for each (token hash, order id) of ``asks``, in order, in one round
        trip."""
        sql, params = self._statement(asks)
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            cursor.close()
        finally:
            connection.close()  # back to the pool
        polls: list[Poll | None] = [None] * len(asks)
        for row in rows:
            polls[int(row[0]) - 1] = self._poll(row[1:], now, limits)
        return polls

    def _statement(self, asks: Sequence[tuple[str, uuid.UUID]]
                   ) -> tuple[str, dict[str, object] | tuple[object, ...]]:
        if self.postgresql:
            return _POLLS_SQL_POSTGRESQL, {
                "token_hashes": [token_hash for token_hash, _ in asks],
                "order_ids": [self.uuid_param(order_id) for _, order_id in asks]}
        values = ", ".join("(?, ?, ?)" for _ in asks)
        sql = _POLLS_FROM.format(
            fingerprint=_FINGERPRINT,
            asks="(SELECT column1 AS i, column2 AS token_hash, column3 AS order_id "  # noqa: S608
                 f"FROM (VALUES {values})) AS q")  # (placeholders only)
        params = tuple(value for i, (token_hash, order_id) in enumerate(asks, start=1)
                       for value in (i, token_hash, self.uuid_param(order_id)))
        return sql, params

    def _poll(self, row: Sequence[object], now: datetime, limits: Limits) -> Poll:
        session_id, enabled, must_change = row[0], row[4], row[5]
        created, last_seen, ended = (self.timestamp(v) for v in row[1:4])
        usable = (ended is None and bool(enabled) and not must_change
                  and sessions.end_reason(created, last_seen, now, limits) is None)
        return Poll(session_id=int(session_id),  # type: ignore[call-overload]
                    session_usable=usable, fingerprint=_fingerprint(row[6:]),
                    touch_due=sessions.needs_touch(last_seen, now))


def keep(redis_url: str, order_id: uuid.UUID, session_id: int, fingerprint: str,
         body: bytes) -> None:
    """Keep a fragment the route rendered under ``fingerprint`` (best effort: without
    Redis the polls simply stay on the slow path). Value: the fingerprint, the Unix time
    the copy expires, the body — one line each but the body. The copy lives between
    ``FRAGMENT_TTL_MIN_SHARE`` of ``FRAGMENT_TTL_SECONDS`` and all of it, at random."""
    shortest = int(FRAGMENT_TTL_SECONDS * FRAGMENT_TTL_MIN_SHARE * 1000)
    ttl_ms = random.randint(shortest, FRAGMENT_TTL_SECONDS * 1000)  # noqa: S311 (not a secret)
    expires = time.time() + ttl_ms / 1000
    value = b"%s\n%.3f\n%s" % (fingerprint.encode(), expires, body)
    try:
        client(redis_url).set(key(order_id, session_id), value, px=ttl_ms)
    except RedisError as error:
        log.warning("status fragment not cached: %s", type(error).__name__)


@dataclass(frozen=True)
class Kept:
    fingerprint: str
    expires: float  # Unix time
    body: bytes


def kept(redis_url: str, order_id: uuid.UUID, session_id: int) -> Kept | None:
    """The fragment kept for this order and session, if any (None without Redis)."""
    try:
        value = client(redis_url).get(key(order_id, session_id))
    except RedisError:
        return None
    if not value:
        return None
    tag, expires, body = bytes(value).split(b"\n", 2)
    return Kept(fingerprint=tag.decode(), expires=float(expires), body=body)


class LocalCopies:
    """A web process's own copies of kept fragments, so a repeat poll this process
    answered before costs no Redis round trip. Same rules as Redis: a copy is served only
    under the fingerprint it was rendered with, and not after the kept fragment expires.
    Bounded: when full it starts over (a miss only costs one Redis GET)."""

    def __init__(self, redis_url: str, max_entries: int = 4096) -> None:
        self.redis_url = redis_url
        self.max_entries = max_entries
        self._copies: dict[tuple[uuid.UUID, int], Kept] = {}

    def body(self, order_id: uuid.UUID, session_id: int, fingerprint: str) -> bytes | None:
        slot = (order_id, session_id)
        now = time.time()
        copy = self._copies.get(slot)
        if copy is None or copy.fingerprint != fingerprint or copy.expires <= now:
            copy = kept(self.redis_url, order_id, session_id)
            if copy is None or copy.fingerprint != fingerprint or copy.expires <= now:
                return None
            if len(self._copies) >= self.max_entries:
                self._copies.clear()
            self._copies[slot] = copy
        return copy.body

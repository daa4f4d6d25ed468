"""Pre-signed OCSP responses in Redis, for the responder's fast path.

Boulder's model ("ROCSP"): the database stays the record (``ocsp_responses``); the worker
also writes each response it signs to Redis under ``ocsp:<issuing CA id>:<serial hex>``,
expiring at the response's nextUpdate, and the web answers from Redis when it can
(``app/web/ocsp_fast_path.py``), falling back to the database otherwise. One Redis GET
instead of a Flask request with a database round trip.

Correctness rule: Redis may lack a response or hold an older one that is still valid,
but never a ``good`` for a certificate the database says is revoked. So a batch that
changes a status deletes those keys *before* its database commit (and fails if it
cannot: the job is retried), and writes the new responses after the commit (if that
fails, the web falls back to the database for them).

Value: 8 bytes thisUpdate + 8 bytes nextUpdate (Unix seconds, big-endian) + the DER."""
from __future__ import annotations

import logging
import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

from app.jobs.queue import pooled_redis

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">qq")


@dataclass(frozen=True)
class CachedResponse:
    der: bytes
    this_update: datetime
    next_update: datetime


def enabled() -> bool:
    return bool(current_app.config.get("OCSP_REDIS_CACHE", True))


def client(url: str) -> Redis:
    """The pooled client the OCSP cache uses: short timeouts, because the fast path falls
    back to the database rather than wait for a slow Redis."""
    return pooled_redis(url, connect_timeout=1.0, read_timeout=2.0)


def key(ca_id: uuid.UUID | str, serial_hex: str) -> str:
    return f"ocsp:{ca_id}:{serial_hex.lower().lstrip('0') or '0'}"


def pack(der: bytes, this_update: datetime, next_update: datetime) -> bytes:
    return _HEADER.pack(int(this_update.timestamp()), int(next_update.timestamp())) + der


def unpack(value: bytes) -> CachedResponse:
    this_update, next_update = _HEADER.unpack_from(value)
    return CachedResponse(value[_HEADER.size:], datetime.fromtimestamp(this_update, UTC),
                          datetime.fromtimestamp(next_update, UTC))


def forget(ca_id: uuid.UUID, serials: Iterable[str]) -> None:
    """Delete the cached responses of ``serials`` (before a commit that changes their
    status). Raises RedisError: a stale ``good`` must not outlive a revocation."""
    keys = [key(ca_id, s) for s in serials]
    if keys and enabled():
        client(current_app.config["REDIS_URL"]).delete(*keys)


def store(ca_id: uuid.UUID, rows: Iterable[tuple[str, bytes, datetime, datetime]]) -> None:
    """Cache (serial hex, DER, thisUpdate, nextUpdate) rows, each expiring at its
    nextUpdate. Best effort: a failure leaves the web reading the database."""
    if not enabled():
        return
    now = datetime.now(UTC)
    try:
        with client(current_app.config["REDIS_URL"]).pipeline(transaction=False) as pipe:
            for serial_hex, der, this_update, next_update in rows:
                ttl_ms = int((_aware(next_update) - now).total_seconds() * 1000)
                if ttl_ms > 0:
                    pipe.set(key(ca_id, serial_hex), pack(der, _aware(this_update),
                                                          _aware(next_update)), px=ttl_ms)
            pipe.execute()
    except RedisError as exc:
        log.warning("ocsp cache: could not store responses (the web reads the database "
                    "for them): %s", type(exc).__name__)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

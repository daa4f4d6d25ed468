"""The Orders page's status cards at scale: exact counts while a set is small, and once it
holds ORDER_COUNTS_CACHE_MIN_ROWS orders or more, counts shared through Redis for
ORDER_COUNTS_CACHE_SECONDS (the cards poll every 5 s, so a million-row count runs once per
interval per filter set instead of once per open tab). While one request recounts an
expired entry the others get the previous counts (a lock per entry), so a hot entry costs
one count per interval, not one per concurrent viewer. Redis trouble means counting in the
database: the database stays the source of truth (docs/decisions.md)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import current_app, has_request_context, request
from redis.exceptions import RedisError

from app.jobs.queue import redis_connection

PREFIX = "order-counts:v1:"
STALE_FACTOR = 12        # the previous counts stay servable this many intervals
LOCK_SECONDS = 30        # a recount that dies lets the next request try again after this
MEMO = "platform.order_counts"  # the request's counts so far (WSGI environ key)


def cache_key(parts: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]
    return PREFIX + digest


def counts_for(parts: dict[str, Any], count: Callable[[], dict[str, int]]) -> dict[str, int]:
    """``count()`` — or its recent result for the same ``parts`` (viewer scope and filters)
    when the set is large. Once per request: a search asks before its page (to choose how
    to read it) and again for the cards."""
    key = cache_key(parts)
    if not has_request_context():
        return _counts(key, count)
    memo = request.environ.setdefault(MEMO, {})
    if key not in memo:
        memo[key] = _counts(key, count)
    return memo[key]


def _counts(key: str, count: Callable[[], dict[str, int]]) -> dict[str, int]:
    seconds = int(current_app.config.get("ORDER_COUNTS_CACHE_SECONDS", 5))
    if seconds <= 0:
        return count()
    try:
        redis = redis_connection()
        fresh, stale = redis.mget(key, key + ":stale")
        if fresh:
            return json.loads(fresh)
        if stale and not redis.set(key + ":lock", b"1", nx=True, ex=LOCK_SECONDS):
            return json.loads(stale)  # another request is recounting right now
    except RedisError:
        return count()
    counts = count()
    if sum(counts.values()) >= int(current_app.config.get("ORDER_COUNTS_CACHE_MIN_ROWS",
                                                           10_000)):
        _store(redis, key, counts, seconds)
    return counts


def _store(redis: Any, key: str, counts: dict[str, int], seconds: int) -> None:
    payload = json.dumps(counts)
    try:
        with redis.pipeline() as pipe:
            pipe.set(key, payload, ex=seconds)
            pipe.set(key + ":stale", payload, ex=seconds * STALE_FACTOR)
            pipe.delete(key + ":lock")
            pipe.execute()
    except RedisError:
        pass  # the next request counts again

"""Rate limits with Flask-Limiter on the platform's Redis.

- Courier authentication: COURIER_AUTH_RATE_LIMIT_PER_MINUTE attempts per client address,
  checked before the body is read, so guessing costs no scrypt hash and no audit row once
  over the limit. (No per-courier-uuid limit: anyone who knows a courier's uuid could use
  it to lock the courier out, and the 256-bit secrets make guessing hopeless anyway.)
- Every authenticated courier call: COURIER_RATE_LIMIT_PER_MINUTE per courier, one budget
  shared by all API endpoints (0 disables it).

Over a limit: 429 with ``Retry-After`` (seconds to the end of the fixed one-minute window)
and, under ``/api/``, the JSON error ``rate_limited``. If Redis cannot be reached the
request is allowed and the failure logged: the limits protect the platform, and refusing
every courier while Redis is down would stop issuance the database could still accept.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import Storage
from limits.strategies import RateLimiter

COURIER_SCOPE = "courier-api"
_EXTENSION_KEY = "platform_rate_limits"


class PlatformLimiter(Limiter):
    """Flask-Limiter keeps one storage per Limiter, but our views are decorated once at
    import while each app (tests make several, with other Redis settings) needs its own
    Redis. So each app's storage and strategy are kept in ``app.extensions``."""

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        app.extensions[_EXTENSION_KEY] = (self._storage, self._limiter)

    @property
    def storage(self) -> Storage:
        return current_app.extensions[_EXTENSION_KEY][0]  # type: ignore[no-any-return]

    @property
    def limiter(self) -> RateLimiter:
        return current_app.extensions[_EXTENSION_KEY][1]  # type: ignore[no-any-return]


limiter = PlatformLimiter(key_func=get_remote_address)


def storage_uri(redis_url: str) -> str:
    """The ``limits`` spelling of a redis-py URL (``unix://`` → ``redis+unix://``)."""
    return "redis+" + redis_url if redis_url.startswith("unix://") else redis_url


def configure(config: dict[str, Any]) -> None:
    """Fill the RATELIMIT_* settings from REDIS_URL unless they were given explicitly."""
    config.setdefault("RATELIMIT_STORAGE_URI", storage_uri(config["REDIS_URL"]))
    config.setdefault("RATELIMIT_STORAGE_OPTIONS", {
        # Several platforms (or test sessions) may share one Redis database.
        "key_prefix": f"limits:{config['RQ_QUEUE']}",
        "socket_connect_timeout": 0.5, "socket_timeout": 0.5})
    config.setdefault("RATELIMIT_STRATEGY", "fixed-window")
    config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)


def _per_minute(setting: str) -> str:
    return f"{max(1, int(current_app.config[setting]))} per minute"


def _courier_key() -> str:
    return "courier:" + g.courier.id.hex


def _client_address() -> str:
    return "address:" + (request.remote_addr or "unknown")


courier_auth_limit = limiter.limit(
    lambda: _per_minute("COURIER_AUTH_RATE_LIMIT_PER_MINUTE"), key_func=_client_address,
    exempt_when=lambda: int(current_app.config["COURIER_AUTH_RATE_LIMIT_PER_MINUTE"]) <= 0,
    error_message="Too many authentication attempts from this address; retry after the "
                  "number of seconds in Retry-After.")

per_courier_limit = limiter.shared_limit(
    lambda: _per_minute("COURIER_RATE_LIMIT_PER_MINUTE"), scope=COURIER_SCOPE,
    key_func=_courier_key,
    exempt_when=lambda: int(current_app.config["COURIER_RATE_LIMIT_PER_MINUTE"]) <= 0,
    error_message="Too many requests for this courier; retry after the number of seconds "
                  "in Retry-After.")

"""Login throttling per (account, client address), with growing delays.

Counted from the audit log (failed ``auth.login`` events: one source of truth, survives
restarts). After LOGIN_FREE_FAILURES failures of one account from one address since that
pair's last success (within LOGIN_THROTTLE_WINDOW_SECONDS), the next attempt from that
address must wait LOGIN_DELAY_BASE_SECONDS, doubling with each further failure up to
LOGIN_DELAY_MAX_SECONDS. Attempts during the wait are refused without checking the
password and without an audit row.

Nothing here is a lock a stranger can trigger: failures from one address never delay the
same account from another address, nor other accounts from the same address. The client
address is the one werkzeug's ProxyFix derives from TRUSTED_PROXIES (a spoofed
X-Forwarded-For is ignored unless a trusted proxy set it).
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, select

from app.extensions import db
from app.models import AuditEvent
from app.models.base import utcnow
from app.services import audit
from app.services.errors import ServiceError


class LoginThrottled(ServiceError):
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed logins from this address. Try again in "
                         f"{_duration(retry_after)}.", code="auth.throttled")
        self.retry_after = retry_after


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


def _pair(key: str, source_ip: str | None) -> ColumnElement[bool]:
    address = AuditEvent.source_ip == source_ip if source_ip else AuditEvent.source_ip.is_(None)
    return and_(AuditEvent.action == "auth.login", AuditEvent.resource_id == key[:64], address)


def delay_after(failures: int) -> int:
    """Seconds to wait after ``failures`` consecutive failures (0 while still free)."""
    config = current_app.config
    beyond = failures - config["LOGIN_FREE_FAILURES"]
    if beyond < 0:
        return 0
    base, most = config["LOGIN_DELAY_BASE_SECONDS"], config["LOGIN_DELAY_MAX_SECONDS"]
    return int(min(most, base * 2 ** min(beyond, 32)))


def check(key: str, source_ip: str | None) -> None:
    """Raise LoginThrottled while this (account, address) pair must wait."""
    now = utcnow()
    since: datetime = now - timedelta(seconds=current_app.config["LOGIN_THROTTLE_WINDOW_SECONDS"])
    last_success = db.session.scalar(select(func.max(AuditEvent.timestamp)).where(
        _pair(key, source_ip), AuditEvent.outcome == audit.SUCCESS))
    if last_success is not None and last_success > since:
        since = last_success
    failures, last_failure = db.session.execute(
        select(func.count(AuditEvent.id), func.max(AuditEvent.timestamp)).where(
            _pair(key, source_ip), AuditEvent.outcome == audit.FAILURE,
            AuditEvent.timestamp > since)).one()
    wait = delay_after(failures or 0)
    if not wait or last_failure is None:
        return
    remaining = (last_failure + timedelta(seconds=wait) - now).total_seconds()
    if remaining > 0:
        raise LoginThrottled(max(1, math.ceil(remaining)))

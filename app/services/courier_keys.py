"""A courier's platform-made private key: kept only as a JWE to the courier's public key,
handed out once.

``GET /api/v1/courier/orders/<id>`` carries ``private_key_jwe`` in the first response
after issuance (``key_status: included``) and deletes it in the same step; later
responses say ``delivered``. A JWE nobody fetched within COURIER_KEY_TTL_SECONDS (24 h)
is deleted (``expired``) by the worker's sweeper, or at the next read. The platform then
holds no copy of the key at all, under the KEK or otherwise.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import update

from app.extensions import db
from app.models import Certificate
from app.models.base import utcnow

PENDING = "pending"      # stored: the JWE waits for the courier
DELIVERED = "delivered"
EXPIRED = "expired"
INCLUDED = "included"    # answered, never stored: this response carries the key


def _ttl() -> timedelta:
    return timedelta(seconds=current_app.config["COURIER_KEY_TTL_SECONDS"])


def take(certificate: Certificate) -> tuple[str, str | None]:
    """(key_status, private_key_jwe) for one API response about ``certificate``'s order.
    Only one caller ever receives the JWE: the hand-over is a conditional update."""
    if certificate.key_jwe is None:
        return certificate.key_status or EXPIRED, None
    now = utcnow()
    if now >= certificate.created_at + _ttl():
        expire_undelivered()
        db.session.refresh(certificate)
        return certificate.key_status or EXPIRED, None
    jwe = certificate.key_jwe
    handed_over = db.session.execute(update(Certificate).where(
        Certificate.id == certificate.id, Certificate.key_jwe.is_not(None)
    ).values(key_jwe=None, key_status=DELIVERED, key_delivered_at=now)).rowcount
    db.session.commit()
    if not handed_over:  # a concurrent request took it first
        db.session.refresh(certificate)
        return certificate.key_status or DELIVERED, None
    db.session.refresh(certificate)
    return INCLUDED, jwe


def expire_undelivered() -> int:
    """Delete every JWE older than the delivery window; returns how many."""
    expired = db.session.execute(update(Certificate).where(
        Certificate.key_jwe.is_not(None), Certificate.created_at <= utcnow() - _ttl()
    ).values(key_jwe=None, key_status=EXPIRED)).rowcount
    db.session.commit()
    return expired

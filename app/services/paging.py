"""Keyset pagination, newest first, on a (timestamp, uuid) pair: pages stay stable while
new rows arrive, and the cursor is an opaque "<iso time>_<uuid>" string for the URL."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from app.extensions import db

T = TypeVar("T")


def _decode(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """An unreadable cursor (typed or truncated by hand) means the first page."""
    if not cursor:
        return None
    try:
        stamp, ident = cursor.rsplit("_", 1)
        moment, key = datetime.fromisoformat(stamp), uuid.UUID(ident)
    except ValueError:
        return None
    return (moment, key) if moment.tzinfo is not None else None


def newest_first(query: Select[Any], stamp: InstrumentedAttribute[datetime],
                 key: InstrumentedAttribute[uuid.UUID], cursor: str | None,
                 size: int) -> tuple[list[Any], str | None]:
    """One page of ``query`` ordered by (stamp, key) descending, after ``cursor``; returns
    the rows and the cursor of the next (older) page, or None on the last page."""
    query = query.order_by(stamp.desc(), key.desc()).limit(size + 1)
    position = _decode(cursor)
    if position:
        moment, ident = position
        query = query.where(or_(stamp < moment, and_(stamp == moment, key < ident)))
    rows = list(db.session.scalars(query))
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1]
    return rows[:size], f"{getattr(last, stamp.key).isoformat()}_{getattr(last, key.key)}"

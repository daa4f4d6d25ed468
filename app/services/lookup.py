"""Loading a row by the id in a URL or a request body."""
from __future__ import annotations

import uuid
from typing import TypeVar

from app.extensions import db

T = TypeVar("T")


def by_uuid(model: type[T], raw_id: object) -> T | None:
    """The row of ``model`` with this UUID, or None — also for anything that is not a
    UUID, so a mangled id in a URL is simply "not found"."""
    try:
        key = raw_id if isinstance(raw_id, uuid.UUID) else uuid.UUID(str(raw_id))
    except ValueError:
        return None
    return db.session.get(model, key)

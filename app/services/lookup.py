"""Loading a row by the id in a URL or a request body."""
from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import inspect

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


def _kept_rows() -> dict[tuple[type, object], object]:
    """The rows kept for the session's life (:func:`keep`, :func:`kept_by_uuid`)."""
    return db.session.info.setdefault("kept_rows", {})  # type: ignore[no-any-return]


def keep(model: type[T], row: T) -> None:
    """Keep ``row`` (loaded by another query) for :func:`kept_by_uuid`'s next lookup of
    its id."""
    kept, row_id = _kept_rows(), row.id  # type: ignore[attr-defined]
    kept[(model, row_id)] = kept[(model, str(row_id))] = row


def kept_by_uuid(model: type[T], raw_id: object) -> T | None:
    """As :func:`by_uuid`, and the row stays referenced for the session's life. The
    identity map holds rows weakly: a row no caller keeps is read again by the next
    lookup, and one submission asks for its provider six times (intake, the provider
    checks, the order). For small, read-mostly rows (providers); after a commit the row
    is expired and its next use reads it fresh, as with any loaded row."""
    kept = _kept_rows()
    slot = (model, raw_id if isinstance(raw_id, uuid.UUID) else str(raw_id))
    row = kept.get(slot)
    if row is not None:
        state = inspect(row)
        if state.persistent and not state.was_deleted:
            return row  # type: ignore[return-value]
    row = by_uuid(model, raw_id)
    if row is None:
        kept.pop(slot, None)
    else:
        kept[slot] = row
    return row  # type: ignore[return-value]

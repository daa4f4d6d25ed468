"""Shared column helpers."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops tzinfo on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Indexes only migrations manage, because they exist on one backend alone: the trigram
#: index behind the Orders page's common-name search is PostgreSQL's (migration 0005_w2), as
#: are the inventory's name-search indexes (migration 0010_w14).
MIGRATION_ONLY_INDEXES = frozenset({"ix_orders_common_name_trgm",
                                    "ix_certificates_names_trgm"})


def include_in_autogenerate(obj: object, name: str | None, type_: str, reflected: bool,
                            compare_to: object) -> bool:
    """Alembic ``include_object``: model/schema comparison leaves those indexes alone."""
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)

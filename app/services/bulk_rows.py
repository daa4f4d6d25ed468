"""New rows of a batch written without the ORM's unit of work.

A batch job stores hundreds of rows it never reads back in the same transaction
(certificates, timeline entries, audit events). Added to the session, each costs the
unit of work's bookkeeping and an ``INSERT … RETURNING`` of its generated keys;
:func:`insert_new` writes them as ONE statement executed for many parameter sets (its
SQL compiled once per process) and leaves the objects transient: attributes set on
them stay readable, generated ones (an autoincrement id, a column default) are not
loaded back. Column defaults still apply, as for an ORM insert."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, inspect

from app.extensions import db


def insert_new(objects: Sequence[Any]) -> None:
    """Insert ``objects`` (new, not added to a session) in the session's transaction.
    Objects that set different attributes go in separate statements (an executemany
    takes one set of columns)."""
    groups: dict[tuple[type, frozenset[str]], list[dict[str, Any]]] = defaultdict(list)
    for obj in objects:
        columns = _columns(type(obj))
        row = {columns[k]: v for k, v in vars(obj).items() if k in columns}
        groups[(type(obj), frozenset(row))].append(row)
    for (cls, _), rows in groups.items():
        insert_rows(cls, rows)


def insert_rows(model: type, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (column key → value, the same keys in each) into ``model``'s table
    in the session's transaction: :func:`insert_new` without building the objects."""
    if rows:
        db.session.execute(insert(inspect(model).local_table), rows)


_COLUMNS: dict[type, dict[str, str]] = {}


def _columns(cls: type) -> dict[str, str]:
    """Attribute name → column key of a mapped class's columns."""
    found = _COLUMNS.get(cls)
    if found is None:
        found = _COLUMNS[cls] = {prop.key: prop.columns[0].key
                                 for prop in inspect(cls).column_attrs}
    return found

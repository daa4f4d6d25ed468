"""Configuration rows read once per batch instead of once per request.

A batch of submissions runs every request through the same pipeline as a single one
(``intake``, ``issuers``, ``policies``, ``orders``). That pipeline looks up the Local PKI's
provider id, the signing intermediates, the policies' version and the providers for each
request — the same statements with the same parameters, a hundred times in a batch of a
hundred. Inside :func:`shared_reads` the session answers a repeated SELECT that reads only
such configuration tables from its first answer (SQLAlchemy's ``do_orm_execute`` hook, as
in its documented result-caching recipe), so the rules stay where they are and are
neither copied nor bypassed.

Only the tables in ``CONFIGURATION_TABLES`` qualify: rows an administrator changes rarely
and a submission never writes, so one answer per batch is one consistent view for all of
its requests (a single submission, too, reads each of them once per request). The cache
lives for the block, on this session only; relationship and column loads are left alone.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.engine import Result
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.sql.util import find_tables

from app.extensions import db

CONFIGURATION_TABLES = frozenset({
    "certificate_providers", "certificate_authorities", "policies"})


def _hashable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _key(state: ORMExecuteState) -> Any:
    """The statement's structure and its parameter values, or None when SQLAlchemy cannot
    key the statement (then it is not shared)."""
    cache_key = state.statement._generate_cache_key()
    if cache_key is None:
        return None
    values = tuple(_hashable(b.effective_value) for b in cache_key.bindparams)
    return cache_key.key, values, _hashable(state.parameters or {})


def _reads_only(state: ORMExecuteState, tables: frozenset[str]) -> bool:
    names = {t.name for t in find_tables(state.statement, check_columns=True,
                                         include_joins=True) if isinstance(t, Table)}
    return bool(names) and names <= tables


@contextmanager
def shared_reads(tables: frozenset[str] = CONFIGURATION_TABLES) -> Iterator[None]:
    """Within the block, a SELECT of ``tables`` only that this session already ran with
    the same parameters is answered from the first run (the same rows and objects)."""
    session = db.session()
    answers: dict[Any, Any] = {}
    passed: set[Any] = set()

    def answer(state: ORMExecuteState) -> Result[Any] | None:
        if not state.is_select or state.is_relationship_load or state.is_column_load:
            return None
        key = _key(state)
        if key is None:
            return None
        try:
            frozen = answers.get(key)
        except TypeError:  # a parameter value that cannot be a key: not shared
            return None
        if frozen is None:
            if key in passed or not _reads_only(state, tables):
                passed.add(key)  # looked at once: it reads another table
                return None
            frozen = answers[key] = state.invoke_statement().freeze()
        return frozen()  # type: ignore[no-any-return]

    event.listen(session, "do_orm_execute", answer)
    try:
        yield
    finally:
        event.remove(session, "do_orm_execute", answer)

"""A case-insensitive "contains" search that a PostgreSQL trigram GIN index serves fast at
a million rows, whatever the fragment (the Orders page's common-name search, the
inventory's name search).

GIN reads the whole posting list of each trigram of a ``LIKE '%…%'`` pattern: a trigram
nearly every name has ("hos", "ost", "st " of "host-…"; "  d" of ".d42") costs the read of
a million-entry list, ~6 ms at 1,000,000 rows, whatever the fragment's other trigrams
select. So when the fragment has such trigrams the index is searched only with the parts
of its words made of rare ones (``host-4242`` → ``%4242%``) and each row found is checked
against the whole fragment (``strpos``, which the index does not take): the same rows, a
fraction of the reads. Which trigrams are common the planner's own sample of the indexed
values says (``pg_stats``). docs/performance.md, "Orders page search".

Elsewhere (SQLite) the search is a plain ``LIKE`` on the expression."""
from __future__ import annotations

import time

from sqlalchemy import ColumnElement, and_, func, text

from app.domain.trigrams import index_pattern, trigram_shares
from app.extensions import db

#: The sample of names is read again after this many seconds (ANALYZE refreshes it).
SAMPLE_SECONDS = 300.0
_samples: dict[tuple[str, str, str], tuple[float, dict[str, float]]] = {}


def contains(expression: ColumnElement[str], needle: str, stats_table: str,
             stats_column: str) -> ColumnElement[bool]:
    """``expression`` (lower case, indexed by a trigram GIN index on PostgreSQL) contains
    ``needle`` (lower case already). ``stats_table``/``stats_column``: where ``pg_stats``
    keeps the planner's sample of the indexed values (the index's own name and column for
    an expression index)."""
    if db.engine.dialect.name == "postgresql":
        pattern = index_pattern(needle, shares_of(stats_table, stats_column))
        if pattern is not None:
            return and_(expression.like(pattern), func.strpos(expression, needle) > 0)
    return expression.contains(needle, autoescape=True)


def shares_of(table: str, column: str) -> dict[str, float]:
    """trigram_shares() of the planner's sample of ``table.column`` (``pg_stats``: the most
    common values with their frequency, the histogram bounds sharing the rest); read once
    per SAMPLE_SECONDS per process. Empty before the first ANALYZE."""
    key = (db.engine.url.render_as_string(hide_password=True), table, column)
    cached = _samples.get(key)
    now = time.monotonic()
    if cached and cached[0] > now:
        return cached[1]
    row = db.session.execute(text(
        "SELECT most_common_vals::text::text[], most_common_freqs, "
        "histogram_bounds::text::text[], null_frac FROM pg_stats "
        "WHERE schemaname = current_schema() AND tablename = :table "
        "AND attname = :column"), {"table": table, "column": column}).first()
    sample: list[tuple[str, float]] = []
    if row is not None:
        common, freqs, bounds, null_frac = row
        sample = [(name, float(freq))
                  for name, freq in zip(common or [], freqs or [], strict=False)]
        rest = max(0.0, 1.0 - float(null_frac or 0) - sum(weight for _, weight in sample))
        if bounds:
            sample += [(name, rest / len(bounds)) for name in bounds]
    shares = trigram_shares(sample)
    _samples[key] = (now + SAMPLE_SECONDS, shares)
    return shares

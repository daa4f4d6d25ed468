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

import re
import time
from collections.abc import Mapping, Sequence

from sqlalchemy import ColumnElement, and_, func, text

from app.extensions import db

#: A trigram that at least this share of the names has is left to the check.
COMMON_TRIGRAM_SHARE = 0.1
#: The sample of names is read again after this many seconds (ANALYZE refreshes it).
SAMPLE_SECONDS = 300.0
#: pg_trgm's words: runs of letters and digits.
_WORD = re.compile(r"[^\W_]+")
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


def index_pattern(needle: str, shares: Mapping[str, float]) -> str | None:
    """The LIKE pattern to search the trigram index with for ``needle``, given the share of
    names that have each trigram: the longest pieces of the needle's words whose trigrams
    all have a share below COMMON_TRIGRAM_SHARE, in order, with ``%`` around each. None
    (search with the needle itself) when none of the needle's trigrams is common, when
    nothing is known (no statistics yet), or when no piece is left (pg_trgm would then read
    the whole index). Every name that contains the needle contains these pieces in this
    order without overlap, so the pattern only narrows what to check."""
    if not shares or all(shares.get(t, 0.0) < COMMON_TRIGRAM_SHARE
                         for t in _like_trigrams(needle)):
        return None
    pieces: list[str] = []
    for match in _WORD.finditer(needle):
        word, free = match.group(), 0  # free: where the next piece may start in the word
        rare = [shares.get(word[i:i + 3], 0.0) < COMMON_TRIGRAM_SHARE
                for i in range(len(word) - 2)]
        i = 0
        while i < len(rare):
            if not rare[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(rare) and rare[j + 1]:
                j += 1
            first, end = max(i, free), j + 3
            if end - first >= 3:
                pieces.append(word[first:end])
                free = end
            i = j + 1
    if not pieces:
        return None
    return "%" + "%".join(pieces) + "%"  # letters and digits only: nothing to escape


def _like_trigrams(needle: str) -> set[str]:
    """The trigrams pg_trgm searches for ``LIKE '%needle%'``: a word's padding only where a
    non-word character bounds it inside the needle."""
    found: set[str] = set()
    for match in _WORD.finditer(needle):
        padded = ("  " if match.start() > 0 else "") + match.group() + \
            (" " if match.end() < len(needle) else "")
        found.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return found


def trigram_shares(sample: Sequence[tuple[str, float]]) -> dict[str, float]:
    """The weighted share of the ``sample`` names (name, weight) that have each trigram, as
    pg_trgm makes them (lower case; each word padded with two spaces before, one after)."""
    total = sum(weight for _, weight in sample)
    shares: dict[str, float] = {}
    if total <= 0:
        return shares
    for name, weight in sample:
        trigrams = set()
        for word in _WORD.findall(name.lower()):
            padded = f"  {word} "
            trigrams.update(padded[i:i + 3] for i in range(len(padded) - 2))
        for trigram in trigrams:
            shares[trigram] = shares.get(trigram, 0.0) + weight / total
    return shares


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

"""Which part of a "contains" fragment a PostgreSQL trigram index should be searched with
(pure rules; ``app/services/trigram_search.py`` reads the statistics and builds the query).
pg_trgm's words are runs of letters and digits, lower-cased, each padded with two spaces
before and one after."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

#: A trigram that at least this share of the names has is left to the check.
COMMON_TRIGRAM_SHARE = 0.1
#: pg_trgm's words: runs of letters and digits.
_WORD = re.compile(r"[^\W_]+")


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

"""Reading orders for the Orders page: scoped to what the viewer may see, filtered, counted
and keyset-paginated (stable while new orders arrive)."""
from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select, text

from app.domain.orders import OrderStatus
from app.domain.roles import Permission
from app.extensions import db
from app.models import Order, User
from app.services import order_counts
from app.services.paging import newest_first

#: A renewal is not a pathway: it is any order with ``renews_order_id`` (the "renewals
#: only" filter), in the channel it came through.
PATHWAYS = ("wizard", "csr_upload", "courier", "acme_client", "target_system")
ORDER_TYPES = ("local_pki", "acme", "external_ca")
REQUESTER_KINDS = ("user", "courier", "acme")


@dataclass(frozen=True)
class OrderFilters:
    q: str = ""
    status: str = ""
    type: str = ""
    pathway: str = ""
    requester: str = ""          # kind (user/courier/acme) …
    requested_by: str = ""       # … and/or a name fragment
    renewals: str = ""           # "1": renewals only

    @classmethod
    def from_args(cls, args: dict[str, str]) -> OrderFilters:
        def pick(name: str, allowed: tuple[str, ...]) -> str:
            value = (args.get(name) or "").strip()
            return value if value in allowed else ""

        return cls(q=(args.get("q") or "").strip()[:253],
                   status=pick("status", tuple(s.value for s in OrderStatus)),
                   type=pick("type", ORDER_TYPES), pathway=pick("pathway", PATHWAYS),
                   requester=pick("requester", REQUESTER_KINDS),
                   requested_by=(args.get("requested_by") or "").strip()[:254],
                   renewals="1" if args.get("renewals") == "1" else "")

    def as_args(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


def _scoped(query: Select, viewer: User) -> Select:
    if viewer.can(Permission.VIEW_ALL_ORDERS):
        return query
    return query.where(Order.requested_by_user_id == viewer.id)


def _filtered(query: Select, filters: OrderFilters, with_status: bool = True) -> Select:
    if filters.q:
        query = query.where(_name_contains(filters.q.lower()))
    if with_status and filters.status:
        query = query.where(Order.status == filters.status)
    if filters.type:
        query = query.where(Order.type == filters.type)
    if filters.pathway:
        query = query.where(Order.pathway == filters.pathway)
    if filters.requester:
        query = query.where(Order.requested_by_kind == filters.requester)
    if filters.renewals:
        query = query.where(Order.renews_order_id.is_not(None))
    if filters.requested_by:
        query = query.where(func.lower(Order.requested_by_label).contains(
            filters.requested_by.lower(), autoescape=True))
    return query


# ---- the common-name search ------------------------------------------------------------
#
# ``lower(common_name)`` contains the fragment. On PostgreSQL the trigram GIN index
# (migration 0005_w2) answers it, but GIN reads the whole posting list of each trigram of
# the pattern: a trigram that nearly every name has ("hos", "ost", "st " of "host-…"; "  d"
# of ".d42") costs the read of a million-entry list, ~6 ms at 1,000,000 orders, whatever
# the fragment's other trigrams select. So when the fragment has such trigrams the index
# is searched only with the parts of its words made of rare ones (``host-4242`` → ``%4242%``)
# and each row found is checked against the whole fragment (``strpos``, which the index does
# not take): the same rows, a fraction of the reads. Which trigrams are common the
# planner's own sample of names says (``pg_stats``). docs/performance.md, "Orders page
# search".

#: A trigram that at least this share of the names has is left to the check.
COMMON_TRIGRAM_SHARE = 0.1
#: The sample of names is read again after this many seconds (ANALYZE refreshes it).
SAMPLE_SECONDS = 300.0
#: pg_trgm's words: runs of letters and digits.
_WORD = re.compile(r"[^\W_]+")
_samples: dict[str, tuple[float, dict[str, float]]] = {}


def _name_contains(needle: str) -> ColumnElement[bool]:
    """``lower(common_name)`` contains ``needle`` (lower case already)."""
    name = func.lower(Order.common_name)
    if db.engine.dialect.name == "postgresql":
        pattern = index_pattern(needle, _trigram_shares())
        if pattern is not None:
            return and_(name.like(pattern), func.strpos(name, needle) > 0)
    return name.contains(needle, autoescape=True)


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


def _trigram_shares() -> dict[str, float]:
    """trigram_shares() of the planner's sample of common names (``pg_stats``: the most
    common ones with their frequency, the histogram bounds sharing the rest); read once per
    SAMPLE_SECONDS per process. Empty before the first ANALYZE."""
    key = db.engine.url.render_as_string(hide_password=True)
    cached = _samples.get(key)
    now = time.monotonic()
    if cached and cached[0] > now:
        return cached[1]
    row = db.session.execute(text(
        "SELECT most_common_vals::text::text[], most_common_freqs, "
        "histogram_bounds::text::text[], null_frac FROM pg_stats "
        "WHERE schemaname = current_schema() AND tablename = 'orders' "
        "AND attname = 'common_name'")).first()
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


def status_counts(viewer: User, filters: OrderFilters) -> dict[str, int]:
    """Counts per status for the summary cards (the status filter itself is ignored, so
    the cards always show the whole picture for the other filters)."""
    def count() -> dict[str, int]:
        query = _filtered(_scoped(select(Order.status, func.count(Order.id)), viewer),
                          filters, with_status=False).group_by(Order.status)
        counts = {s.value: 0 for s in OrderStatus}
        counts.update({status: n for status, n in db.session.execute(query)})
        return counts

    scope = "all" if viewer.can(Permission.VIEW_ALL_ORDERS) else str(viewer.id)
    return order_counts.counts_for({"scope": scope, **filters.as_args(), "status": ""},
                                   count)


#: A search with at most this many matches is read by the trigram index and sorted.
FEW_MATCHES = 1000


def page_of_orders(viewer: User, filters: OrderFilters, cursor: str | None,
                   size: int) -> tuple[list[Order], str | None]:
    """Newest first; returns the page and the cursor of the next (older) page.

    A search that matches few orders is sorted after it is found. Asked for the newest
    matches, PostgreSQL may instead walk the orders newest first until it has a page's
    worth, a bet on its estimate of how many match: with 111 matches where it guessed 1 %
    (one of its histogram's names happened to contain the fragment), that walk read
    575,701 orders (0.6 s at 1,000,000). Ordering first by ``submitted_at + 0``, which no
    index provides (the same order), takes the walk off the table. How many match is
    known for the status cards anyway (counted once per request,
    app/services/order_counts.py)."""
    query = _filtered(_scoped(select(Order), viewer), filters)
    if filters.q and db.engine.dialect.name == "postgresql" and _few_matches(viewer, filters):
        query = query.order_by((Order.submitted_at + literal_column("interval '0'")).desc())
    return newest_first(query, Order.submitted_at, Order.id, cursor, size)


def _few_matches(viewer: User, filters: OrderFilters) -> bool:
    """At most FEW_MATCHES orders match ``filters``."""
    counts = status_counts(viewer, filters)
    matches = counts.get(filters.status, 0) if filters.status else sum(counts.values())
    return matches <= FEW_MATCHES

"""Reading orders for the Orders page: scoped to what the viewer may see, filtered, counted
and keyset-paginated (stable while new orders arrive)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, literal_column, select

from app.domain.orders import OrderStatus
from app.domain.roles import Permission
from app.extensions import db
from app.models import Order, User
from app.services import order_counts, trigram_search
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

def _name_contains(needle: str) -> ColumnElement[bool]:
    """``lower(common_name)`` contains ``needle`` (lower case already); the trigram index of
    migration 0005_w2 serves it on PostgreSQL (app/services/trigram_search.py)."""
    return trigram_search.contains(func.lower(Order.common_name), needle,
                                   "orders", "common_name")


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

"""What uses a domain entry, so that it is not deleted from under it: orders and
certificates holding a name it covers, and couriers whose allowed domains it covers.

"Covers" is the platform's one rule (``app.domain.names``): a label-suffix match for a DNS
entry (``example.com`` covers ``example.com``, ``www.example.com``, ``*.example.com`` and
``ops@example.com``), containment for an IP network. The database narrows the rows with
an indexed or textual pre-filter; each candidate is then judged by that rule, so the
counts are exact whatever the JSON's spelling."""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app.domain.names import ip_is_covered, name_is_covered, parse_ip
from app.extensions import db
from app.models import Certificate, Courier, Domain, Order
from app.services import domains as domain_service
from app.services.domains import Usage

EXAMPLES = 3
_BATCH = 1000


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_filter(column: Any, domain: Domain) -> ColumnElement[bool]:
    """A superset of the rows whose text (a name, or JSON holding names) may name
    something ``domain`` covers; judged exactly afterwards."""
    text = cast(column, String)
    if not domain.is_network:
        name = _escape(domain.name)
        return or_(*(text.like(pattern, escape="\\") for pattern in
                     (f"%{name}", f'%"{name}"%', f'%.{name}"%', f'%@{name}"%')))
    network = ipaddress.ip_network(domain.name)
    if network.version == 4 and network.prefixlen >= 8:
        first = str(network.network_address).split(".")[0]
        return or_(text.like(f"{first}.%"), text.like(f'%"{first}.%'))
    if network.version == 6 and network.prefixlen >= 16 and network.network_address.packed[:2] \
            != b"\0\0":
        first = format(int.from_bytes(network.network_address.packed[:2], "big"), "x")
        return or_(text.like(f"{first}:%"), text.like(f'%"{first}:%'))
    return text.like("%.%") if network.version == 4 else text.like("%:%")


def _covers(domain: Domain, names: Iterable[str]) -> bool:
    for name in names:
        if not isinstance(name, str) or not name:
            continue
        if domain.is_network:
            if parse_ip(name) is not None and ip_is_covered(name, [domain.name]):
                return True
        elif name_is_covered(name.rpartition("@")[2], [domain.name]):
            return True
    return False


def _usage(rows: Iterator[tuple[str, list[str]]], domain: Domain) -> Usage:
    count, examples = 0, []
    for label, names in rows:
        if _covers(domain, names):
            count += 1
            if len(examples) < EXAMPLES:
                examples.append(label)
    return Usage(count, tuple(examples))


def _request_names(request: Any) -> list[str]:
    if not isinstance(request, dict):
        return []
    names = [request.get("common_name")]
    for key in ("dns_names", "ip_addresses", "emails"):
        value = request.get(key)
        if isinstance(value, list):
            names += value
    return [n for n in names if isinstance(n, str)]


def orders_using(domain: Domain) -> Usage:
    query = (select(Order.common_name, Order.request)
             .where(or_(_text_filter(Order.common_name, domain),
                        _text_filter(Order.request, domain)))
             .execution_options(yield_per=_BATCH))
    rows = ((cn, [cn, *_request_names(request)]) for cn, request in db.session.execute(query))
    return _usage(rows, domain)


def certificates_using(domain: Domain) -> Usage:
    query = (select(Certificate.common_name, Certificate.sans)
             .where(or_(_text_filter(Certificate.common_name, domain),
                        _text_filter(Certificate.sans, domain)))
             .execution_options(yield_per=_BATCH))
    rows = ((cn, [cn, *(sans if isinstance(sans, list) else [])])
            for cn, sans in db.session.execute(query))
    return _usage(rows, domain)


def couriers_using(domain: Domain) -> Usage:
    """Couriers allowed this entry, or an entry it covers (a subdomain, a subnet)."""
    count, examples = 0, []
    for courier in db.session.scalars(select(Courier).order_by(Courier.name)):
        if any(_entry_covered(domain, allowed) for allowed in courier.domains):
            count += 1
            if len(examples) < EXAMPLES:
                examples.append(courier.name)
    return Usage(count, tuple(examples))


def _entry_covered(domain: Domain, allowed: Domain) -> bool:
    if allowed.id == domain.id:
        return True
    if domain.is_network != allowed.is_network:
        return False
    if not domain.is_network:
        return name_is_covered(allowed.name, [domain.name])
    outer, inner = ipaddress.ip_network(domain.name), ipaddress.ip_network(allowed.name)
    return outer.version == inner.version and inner.subnet_of(outer)  # type: ignore[arg-type]


domain_service.REFERENCE_COUNTERS.update(
    orders=orders_using, certificates=certificates_using, couriers=couriers_using)

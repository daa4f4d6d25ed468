"""Policies: storage, the cached evaluation index, admin changes, and policy as code."""
from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from app.domain.errors import PolicyDocumentError
from app.domain.policy import Policy, PolicyIndex
from app.domain.policy_schema import parse_policy, parse_policy_file, policy_to_document
from app.extensions import db
from app.models import Domain, PolicyRecord, User
from app.services import audit
from app.services import domains as domain_service
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.lookup import by_uuid


class PolicyInvalid(ValidationFailed):
    """A policy document failed validation; ``errors`` lists every problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("The policy is not valid: " + "; ".join(errors), code="policy.invalid")
        self.errors = errors


def _parse(document: Any) -> Policy:
    try:
        return parse_policy(document)
    except PolicyDocumentError as exc:
        raise PolicyInvalid(exc.errors) from exc


def to_domain(record: PolicyRecord) -> Policy:
    """The stored row as the pure engine's Policy (validated when it was written)."""
    return replace(parse_policy(record.document()), id=str(record.id))


# ---- the evaluation index, rebuilt only when policies change ------------------------------

_cache_lock = threading.Lock()
_cache: dict[str, Any] = {"version": None, "index": None}


def _version() -> tuple[int, datetime | None]:
    # Two scalar subqueries, not one aggregate over the rows: each can then be answered
    # from an index (count(*) from the smallest one, max() by one lookup in
    # ix_policies_updated_at) instead of scanning the JSON-heavy table rows.
    count, latest = db.session.execute(select(
        select(func.count()).select_from(PolicyRecord).scalar_subquery(),
        select(func.max(PolicyRecord.updated_at)).scalar_subquery())).one()
    return count, latest


def policy_index() -> PolicyIndex:
    """An index over the enabled policies. Rebuilding parses every policy, so it is cached
    per process and rebuilt when the (count, newest update) of the table changes."""
    version = _version()
    with _cache_lock:
        if _cache["version"] == version and _cache["index"] is not None:
            return _cache["index"]
    # Plain columns, not ORM objects: no identity-map work, and the request's session is not
    # left holding every policy (which its commit would then have to expire).
    rows = db.session.execute(
        select(PolicyRecord.id, PolicyRecord.name, PolicyRecord.description,
               PolicyRecord.enabled, PolicyRecord.matching_criteria, PolicyRecord.rules)
        .where(PolicyRecord.enabled.is_(True)))
    index = PolicyIndex(
        replace(parse_policy({"name": name, "description": description, "enabled": enabled,
                              "matching_criteria": criteria, "rules": rules}), id=str(id_))
        for id_, name, description, enabled, criteria, rules in rows)
    with _cache_lock:
        _cache.update(version=version, index=index)
    return index


# ---- admin changes ---------------------------------------------------------------------------

def get_policy(policy_id: str) -> PolicyRecord:
    record = by_uuid(PolicyRecord, policy_id)
    if record is None:
        raise NotFound("No such policy.", code="policy.not_found")
    return record


def list_policies() -> list[PolicyRecord]:
    return list(db.session.scalars(select(PolicyRecord).order_by(PolicyRecord.name)))


def _ensure_unique_name(name: str, exclude: uuid.UUID | None = None) -> None:
    query = select(PolicyRecord.id).where(func.lower(PolicyRecord.name) == name.lower())
    if exclude is not None:
        query = query.where(PolicyRecord.id != exclude)
    if db.session.scalar(query) is not None:
        raise Conflict(f"A policy named '{name}' already exists.", code="policy.duplicate",
                       field="name")


def _store(record: PolicyRecord, policy: Policy) -> None:
    document = policy_to_document(policy)
    record.name = document["name"]
    record.description = document["description"]
    record.enabled = document["enabled"]
    record.matching_criteria = document["matching_criteria"]
    record.rules = document["rules"]


def create_policy(document: Any, *, actor: User | None = None) -> PolicyRecord:
    policy = _parse(document)
    _ensure_unique_name(policy.name)
    record = PolicyRecord()
    _store(record, policy)
    db.session.add(record)
    db.session.flush()
    audit.record("policy.create", resource_type="policy", resource_id=record.id, actor=actor,
                 details={"name": record.name})
    db.session.commit()
    return record


def update_policy(record: PolicyRecord, document: Any, *, actor: User | None = None) -> None:
    policy = _parse(document)
    _ensure_unique_name(policy.name, exclude=record.id)
    before = record.document()
    _store(record, policy)
    if record.document() != before:
        audit.record("policy.update", resource_type="policy", resource_id=record.id,
                     actor=actor, details={"name": record.name})
    db.session.commit()


def set_enabled(record: PolicyRecord, enabled: bool, *, actor: User | None = None) -> None:
    if record.enabled != enabled:
        record.enabled = enabled
        audit.record("policy.enable" if enabled else "policy.disable", resource_type="policy",
                     resource_id=record.id, actor=actor, details={"name": record.name})
        db.session.commit()


def delete_policy(record: PolicyRecord, *, actor: User | None = None) -> None:
    audit.record("policy.delete", resource_type="policy", resource_id=record.id, actor=actor,
                 details={"name": record.name})
    db.session.delete(record)
    db.session.commit()


# ---- policy as code --------------------------------------------------------------------------

def export_documents() -> list[dict[str, Any]]:
    return [r.document() for r in list_policies()]


def import_documents(data: Any, *, actor: User | None = None) -> dict[str, list[str]]:
    """Validate the whole file first; on any error nothing changes. Then create or update
    each policy by name, in one transaction."""
    try:
        policies = parse_policy_file(data)
    except PolicyDocumentError as exc:
        raise PolicyInvalid(exc.errors) from exc
    existing = {r.name.lower(): r for r in list_policies()}
    result: dict[str, list[str]] = {"created": [], "updated": []}
    for policy in policies:
        record = existing.get(policy.name.lower())
        if record is None:
            record = PolicyRecord()
            db.session.add(record)
            result["created"].append(policy.name)
        else:
            result["updated"].append(policy.name)
        _store(record, policy)
    audit.record("policy.import", resource_type="policy", actor=actor, details=result)
    db.session.commit()
    return result


# ---- domains referenced by policies ------------------------------------------------------------

def _patterns_under(domain: Domain, records: Iterable[PolicyRecord]) -> list[str]:
    """Names of the policies with a domain pattern ``domain`` covers."""
    name = domain.name
    found = []
    for record in records:
        bases = (p.removeprefix("*.") for p in record.matching_criteria.get("domains", []))
        if any(b == name or b.endswith("." + name) for b in bases):
            found.append(record.name)
    return found


def count_policies_referencing(domain: Domain) -> domain_service.Usage:
    names = [] if domain.is_network else _patterns_under(domain, list_policies())
    return domain_service.Usage(len(names), tuple(names[:3]))


domain_service.REFERENCE_COUNTERS["policies"] = count_policies_referencing


MAX_DOCUMENT_BYTES = 256 * 1024


def parse_json_text(text: str) -> Any:
    """JSON text from the raw editor or a file; malformed JSON becomes PolicyInvalid."""
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise PolicyInvalid([f"The document is larger than {MAX_DOCUMENT_BYTES // 1024} KiB."])
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyInvalid([f"Malformed JSON at line {exc.lineno}, column {exc.colno}: "
                             f"{exc.msg}."]) from exc

"""Issuing many Local PKI orders in one job (the scale issue): what ``process_order`` does
for one order, with the database work of a batch shared.

A batch job names its orders (queued by ``orders.enqueue_issues`` for a batch
submission). It

1. claims the ones still ``pending`` with ONE conditional UPDATE … RETURNING (the same
   at-most-once rule as the single claim, ``WHERE status = 'pending'``: of two jobs
   naming one order exactly one gets it, on PostgreSQL and SQLite alike) and commits;
   orders that need the single path (another provider, a deployment, a renewal that
   revokes its predecessor) are left pending and run through ``process_order`` one by one;
2. signs each claimed order in turn with the same re-assessment, key, provider and checks
   as the single path (``issuance.sign_locally``; the policy index and domain rows read
   once for the batch, the issuing CA's key opened once; no CSR is built for a key the
   platform makes: the Local PKI signs its public key);
3. completes them in ONE transaction: one conditional UPDATE moves the orders still
   ``processing`` to ``complete`` (an order the sweeper took back meanwhile gets no
   certificate), then one INSERT executed for many rows each for their certificates,
   timeline entries and audit events (``bulk_rows.insert_new``: no unit of work), and
   the webhook deliveries. ``certificates.order_id`` is unique: a second
   certificate for an order cannot be stored. If the batch's transaction fails, each
   order is stored on its own (``issuance.store_issued``), so one bad row costs only itself;
4. signs the new certificates' OCSP answers per issuing CA as one batch.

An order refused at step 2 fails with the same reason the single path gives. A worker
lost mid-batch leaves its orders ``processing``; the sweeper recovers them one by one as
it does for the single path."""
from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.domain.orders import OrderStatus, issued_in_batch
from app.extensions import db
from app.models import AuditEvent, Order, Provider
from app.models.base import utcnow
from app.pki.key_encryption import KeyEncryptionKeyring
from app.providers.local_pki import LocalPKIProvider
from app.services import alerts, issuance, provisioning, revocation_publishing, webhooks
from app.services.bulk_rows import insert_new
from app.services.intake import batch_preloaded
from app.services.issuance import Signed
from app.services.keyring import load_keyring
from app.services.order_flow import transition_many
from app.services.order_processing import fail_for, process_order
from app.services.provider_runtime import build_provider
from app.services.requesters import Requester

log = logging.getLogger(__name__)

#: Orders a batch job names at most (a batch submission's 100 requests make one job).
BATCH_SIZE = 100
CLAIM_NOTE = "A worker started issuing (batch)"


def process_orders(order_ids: Sequence[str]) -> dict[str, int]:
    """Issue the named orders (see the module docstring). Returns counts by outcome."""
    keys = [uuid.UUID(i) for i in order_ids]
    batchable, single = _split(keys)
    counts = {"complete": 0, "failed": 0, "skipped": 0, "single": 0}
    claimed = transition_many(batchable, OrderStatus.PENDING, OrderStatus.PROCESSING,
                              dict.fromkeys(batchable, CLAIM_NOTE),
                              started_at=utcnow(), attempts=Order.attempts + 1)
    db.session.commit()
    counts["skipped"] += len(batchable) - len(claimed)
    if claimed:
        signed, refused = _sign_all([k for k in batchable if k in claimed])
        stored = _store_all(signed)
        counts["complete"] += len(stored)
        counts["skipped"] += len(signed) - len(stored)
        for order_id, exc in refused:
            counts[fail_for(order_id, str(order_id), exc)] += 1
        _sign_ocsp(signed, stored)
    for order_id in single:
        counts["single"] += 1
        process_order(str(order_id))
    return counts


def takes_batch(order: Order) -> bool:
    """``domain.orders.issued_in_batch`` for a loaded order."""
    return issued_in_batch(order.provider.type, order.certificate_profile_id,
                           bool(order.revoke_predecessor), order.renews_certificate_id)


def _split(keys: list[uuid.UUID]) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """(pending orders for the batch path, pending orders for the single path); orders no
    longer pending are in neither."""
    rows = db.session.execute(
        select(Order.id, Provider.type, Order.certificate_profile_id,
               Order.revoke_predecessor, Order.renews_certificate_id)
        .join(Provider, Provider.id == Order.provider_id)
        .where(Order.id.in_(keys), Order.status == OrderStatus.PENDING.value)).all()
    db.session.rollback()
    batchable, single = [], []
    for order_id, provider_type, profile_id, revokes, renews in rows:
        batch = issued_in_batch(provider_type, profile_id, bool(revokes), renews)
        (batchable if batch else single).append(order_id)
    order = {k: i for i, k in enumerate(keys)}
    return sorted(batchable, key=order.__getitem__), sorted(single, key=order.__getitem__)


def _sign_all(keys: list[uuid.UUID]) -> tuple[list[Signed], list[tuple[uuid.UUID, Exception]]]:
    orders = db.session.scalars(select(Order).where(Order.id.in_(keys))
                                .options(joinedload(Order.provider))).unique().all()
    by_id = {o.id: o for o in orders}
    keyring = load_keyring()
    providers: dict[uuid.UUID, LocalPKIProvider] = {}
    requesters: dict[tuple[object, ...], Requester | Exception] = {}
    signed: list[Signed] = []
    refused: list[tuple[uuid.UUID, Exception]] = []
    requests = [issuance.stored_request(by_id[k]) for k in keys if k in by_id]
    with batch_preloaded(requests):
        for key in keys:
            order = by_id.get(key)
            if order is None:      # deleted since the claim
                continue
            try:
                provider = providers.get(order.provider_id)
                if provider is None:
                    provider = providers[order.provider_id] = _local_pki(order)
                signed.append(issuance.sign_locally(order, provider, keyring,
                                                    _requester(order, requesters)))
            except Exception as exc:  # judged per order by fail_for, as the single path
                refused.append((key, exc))
    return signed, refused


def _local_pki(order: Order) -> LocalPKIProvider:
    """The order's provider: the Local PKI (``takes_batch`` let no other in)."""
    provider = build_provider(order.provider)
    if not isinstance(provider, LocalPKIProvider):
        raise TypeError(f"order {order.id}: a batch issues only with the Local PKI")
    return provider


def _requester(order: Order, seen: dict[tuple[object, ...], Requester | Exception]
               ) -> Requester:
    """``issuance.requester_of`` once per requester in a batch (a refusal too: a disabled
    account refuses each of its orders with the same reason)."""
    key = (order.requested_by_kind, order.requested_by_user_id,
           order.requested_by_courier_id, order.requested_by_acme_account_id,
           order.id if order.requested_by_kind == provisioning.REQUESTER_KIND else None)
    if key not in seen:
        try:
            seen[key] = issuance.requester_of(order)
        except Exception as exc:
            seen[key] = exc
    found = seen[key]
    if isinstance(found, Exception):
        raise found
    return found


def _store_all(signed: list[Signed]) -> set[uuid.UUID]:
    """Complete the signed orders and store their certificates in one transaction;
    returns the orders completed."""
    if not signed:
        return set()
    keyring = load_keyring()
    rows = {s.order_id: issuance.certificate_row(s.order, s.request, s.certificate,
                                                  s.chain, s.key, keyring, s.recipient,
                                                  s.issuer_dn)
            for s in signed}
    session = db.session()
    try:
        moved = transition_many(
            list(rows), OrderStatus.PROCESSING, OrderStatus.COMPLETE,
            {order_id: issuance.issued_summary(row, None) for order_id, row in rows.items()},
            finished_at=utcnow(), error=None, next_check_at=None,
            pending_key_encrypted=None, lint_findings=None)
        insert_new([rows[s.order_id] for s in signed if s.order_id in moved])
        hooks = webhooks.subscribers("certificate.issued")
        audit_events: list[AuditEvent] = []
        for s in signed:
            if s.order_id in moved:
                issuance.announce_issue(s.order, rows[s.order_id], hooks, audit_events)
        insert_new(audit_events)
        session.flush()
        alerts.link_to_certificates({order_id: rows[order_id].id for order_id in moved})
        # Nothing reads the batch's orders after this; out of the session, the commit
        # does not expire them one by one (~2 % of a batch job, with the next commit's).
        # Flushed first: expunging an order also expunges its loaded timeline entries
        # (cascade "all"), which would drop any change of theirs still pending.
        session.flush()
        for s in signed:
            session.expunge(s.order)
        session.commit()
        return moved
    except Exception:
        session.rollback()
        log.exception("storing a batch of %d certificates failed; storing them one by one",
                      len(signed))
    return _store_each(signed, keyring)


def _store_each(signed: list[Signed], keyring: KeyEncryptionKeyring) -> set[uuid.UUID]:
    """The fallback of :func:`_store_all`: each order in a transaction of its own."""
    stored = set()
    for s in signed:
        order = db.session.get(Order, s.order_id)
        if order is None:
            continue
        try:
            outcome = issuance.store_issued(order, s.request, s.certificate, s.chain,
                                            s.key, keyring, s.recipient, None)
        except Exception as exc:
            fail_for(order.id, str(order.id), exc)
            continue
        if outcome.certificate_id is not None:
            stored.add(order.id)
    return stored


def _sign_ocsp(signed: list[Signed], stored: set[uuid.UUID]) -> None:
    """As ``issuance._sign_ocsp_now``, per issuing CA: a failure is logged and the
    ``ocsp-refresh`` task signs them within the hour."""
    serials: dict[uuid.UUID, list[str]] = defaultdict(list)
    for s in signed:
        if s.order_id in stored and s.request.issuer_id:
            serials[uuid.UUID(s.request.issuer_id)].append(format(s.certificate.serial_number,
                                                                  "x"))
    for ca_id, batch in serials.items():
        try:
            revocation_publishing.sign_new_certificates_ocsp(ca_id, batch)
        except Exception:
            db.session.rollback()
            log.exception("OCSP answers of %d new certificates of CA %s not signed now; "
                          "the ocsp-refresh task will sign them", len(batch), ca_id)

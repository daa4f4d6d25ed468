"""JSON views of orders and certificates for a courier (shapes documented in openapi.py)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from flask import url_for

from app.blueprints.api.errors import detail
from app.domain.policy import Violation
from app.models import Certificate, Order
from app.services.courier_api import BatchResult
from app.services.discovery_import import ImportResult
from app.services.errors import ServiceError
from app.web.errors import _service_error_json as service_error_json


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def status_url(order: Order) -> str:
    return url_for("api.get_order", order_id=str(order.id))


def accepted(order: Order, warnings: tuple[Violation, ...]) -> dict[str, Any]:
    body: dict[str, Any] = {"order_id": str(order.id), "status": order.status,
                            "status_url": status_url(order)}
    if warnings:
        body["warnings"] = [detail(v) for v in warnings]
    return body


def error_body(error: ServiceError) -> dict[str, Any]:
    """The JSON body the app's one error handler answers ``error`` with."""
    return service_error_json(error, {}).get_json()  # type: ignore[no-any-return]


def batch(results: Sequence[BatchResult]) -> dict[str, Any]:
    """One result per request, in order: the HTTP status and body the single endpoint
    would have answered it with, and whether it was an idempotent replay."""
    shown = []
    for result in results:
        if result.submission is not None:
            shown.append({"status": 202, "replayed": result.submission.replayed,
                          "body": accepted(result.submission.order,
                                           result.submission.warnings)})
        else:
            error = cast(ServiceError, result.error)  # set when there is no submission
            shown.append({"status": error.status, "replayed": False,
                          "body": error_body(error)})
    taken = sum(r["status"] == 202 for r in shown)
    return {"results": shown, "accepted": taken, "refused": len(shown) - taken}


def order(row: Order, key: tuple[str, str | None] | None = None) -> dict[str, Any]:
    """``key``: (key_status, private_key_jwe) of a platform-made key, from
    ``courier_keys.take`` (which hands the JWE out once)."""
    body: dict[str, Any] = {
        "order_id": str(row.id), "status": row.status, "common_name": row.common_name,
        "error": row.error, "submitted_at": timestamp(row.submitted_at),
        "started_at": timestamp(row.started_at), "finished_at": timestamp(row.finished_at),
        "key_source": "csr" if row.csr_pem else "platform",
        "provider_id": str(row.provider_id),
        "next_check_at": timestamp(row.next_check_at) if row.status == "processing" else None}
    certificate = row.certificate
    if certificate is not None:
        body.update(certificate_id=str(certificate.id),
                    certificate_pem=certificate.certificate_pem,
                    chain_pem=certificate.chain_pem)
        if key is not None:
            body["key_status"], body["private_key_jwe"] = key
    return body


def certificate(row: Certificate) -> dict[str, Any]:
    return {
        "certificate_id": str(row.id), "order_id": str(row.order_id) if row.order_id else None,
        "common_name": row.common_name, "sans": list(row.sans or []),
        "serial": row.serial_hex, "fingerprint_sha256": row.fingerprint_sha256,
        "not_before": timestamp(row.not_before), "not_after": timestamp(row.not_after),
        "status": row.status, "certificate_pem": row.certificate_pem,
        "chain_pem": row.chain_pem}


def discovery_import(results: Sequence[ImportResult]) -> dict[str, Any]:
    statuses = ("added", "known", "chain", "refused")
    return {"results": [r.as_json() for r in results],
            "counts": {s: sum(r.status == s for r in results) for s in statuses}}

"""Deployments: a certificate on its way to a target system through the target's bridge.

Created by the worker in the transaction that stores the certificate (``create``): the
key, which the worker holds in clear for that moment only, is encrypted to the bridge's
public key as a JWE (``services/jwe.py``); the web stores and serves that JWE but can
never open it. The bridge takes its deployments (``take``), runs them and reports every
step (``report``); the JWE is deleted when the deployment finishes. Alerts:
``renewed_not_deployed`` (a newer certificate not confirmed served in time) and
``served_mismatch`` (a probe saw a certificate other than the one deployed)."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from app.domain.targets import FINISHED
from app.extensions import db
from app.models import (
    Bridge,
    Certificate,
    CertificateAlert,
    CertificateProfile,
    Deployment,
    DeploymentStep,
    Order,
)
from app.models.base import utcnow
from app.services import audit
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.jwe import encrypt_to_public_key
from app.services.lookup import by_uuid

ALERT_RENEWED_NOT_DEPLOYED = "renewed_not_deployed"
ALERT_SERVED_MISMATCH = "served_mismatch"
MAX_STEPS = 20
MAX_STEP_NAME = 32
MAX_OUTPUT = 8000
REPORT_STATUSES = ("succeeded", "failed")


def create(order: Order, certificate: Certificate, key_pem: bytes | None) -> Deployment | None:
    """In the worker, in the certificate's transaction: a pending deployment of a target
    system order's certificate, its key as a JWE to the bridge. Older deployments of the
    same profile the bridge has not taken yet are superseded (their JWE deleted)."""
    profile = db.session.get(CertificateProfile, order.certificate_profile_id) \
        if order.certificate_profile_id else None
    if profile is None or key_pem is None:
        return None
    target = profile.target
    db.session.execute(update(Deployment).where(
        Deployment.profile_id == profile.id, Deployment.status == "pending"
    ).values(status="superseded", key_jwe=None, finished_at=utcnow(),
             error="A newer certificate was issued before the bridge took this one.")
        .execution_options(synchronize_session=False))
    deployment = Deployment(target_system_id=target.id, bridge_id=target.bridge_id,
                            certificate_id=certificate.id, profile_id=profile.id,
                            status="pending",
                            key_jwe=encrypt_to_public_key(key_pem,
                                                          target.bridge.public_key_pem))
    db.session.add(deployment)
    return deployment


def take(bridge: Bridge) -> list[Deployment]:
    """The bridge's unfinished deployments (pending ones become in_progress). An
    in-progress one is handed out again: a bridge that crashed mid-way runs it again."""
    now = utcnow()
    rows = list(db.session.scalars(
        select(Deployment).where(Deployment.bridge_id == bridge.id,
                                 Deployment.status.in_(("pending", "in_progress")))
        .order_by(Deployment.created_at)))
    for row in rows:
        if row.status == "pending":
            row.status, row.taken_at = "in_progress", now
    bridge.last_seen_at = now
    db.session.commit()
    return rows


def deployment_for(bridge: Bridge, deployment_id: str) -> Deployment:
    """The deployment if it is this bridge's; NotFound otherwise (another bridge's id
    reveals nothing)."""
    deployment = by_uuid(Deployment, deployment_id)
    if deployment is None or deployment.bridge_id != bridge.id:
        raise NotFound("No such deployment.", code="deployment.not_found")
    return deployment


def get_deployment(deployment_id: str) -> Deployment:
    deployment = by_uuid(Deployment, deployment_id)
    if deployment is None:
        raise NotFound("No such deployment.", code="deployment.not_found")
    return deployment


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    output: str


def _bad(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code="report.invalid", field=field)


def parse_report(body: Mapping[str, Any]) -> tuple[str, list[Step], str | None, str | None]:
    """(status, steps, served_serial, error) from a report body (shape-checked first)."""
    status = body.get("status")
    if status not in REPORT_STATUSES:
        raise _bad("status", "status must be 'succeeded' or 'failed'.")
    raw_steps = body.get("steps") or []
    if len(raw_steps) > MAX_STEPS:
        raise _bad("steps", f"At most {MAX_STEPS} steps.")
    steps = []
    for i, raw in enumerate(raw_steps):
        if not isinstance(raw, dict) or set(raw) - {"name", "ok", "output"} \
                or not isinstance(raw.get("name"), str) or not isinstance(raw.get("ok"), bool) \
                or not isinstance(raw.get("output", ""), str):
            raise _bad(f"steps.{i}", "Each step is {name: string, ok: boolean, output: "
                       "string}.")
        if not 1 <= len(raw["name"]) <= MAX_STEP_NAME:
            raise _bad(f"steps.{i}.name", f"A step name is 1 to {MAX_STEP_NAME} characters.")
        steps.append(Step(raw["name"], raw["ok"], raw.get("output", "")[-MAX_OUTPUT:]))
    serial = body.get("served_serial")
    if serial is not None:
        serial = serial.strip().lower().lstrip("0") or "0"
        if len(serial) > 64 or any(c not in "0123456789abcdef" for c in serial):
            raise _bad("served_serial", "served_serial is a hexadecimal serial number.")
    error = (body.get("error") or None)
    return status, steps, serial, error[-MAX_OUTPUT:] if error else None


def report(bridge: Bridge, deployment_id: str, body: Mapping[str, Any]) -> Deployment:
    """Record the bridge's result. A finished deployment takes no further report
    (Conflict, 409); the JWE is deleted now whatever the outcome."""
    deployment = deployment_for(bridge, deployment_id)
    status, steps, serial, error = parse_report(body)
    if deployment.status in FINISHED:
        raise Conflict(f"Deployment {deployment.id} is already {deployment.status}.",
                       code="deployment.finished")
    previous = _served_before(deployment)
    now = utcnow()
    finished = db.session.execute(update(Deployment).where(
        Deployment.id == deployment.id, Deployment.status.not_in(tuple(FINISHED))
    ).values(status=status, key_jwe=None, finished_at=now, served_serial=serial,
             error=error if status == "failed" else None)
        .execution_options(synchronize_session=False)).rowcount
    if not finished:
        db.session.rollback()
        raise Conflict(f"Deployment {deployment.id} is already finished.",
                       code="deployment.finished")
    for position, step in enumerate(steps):
        db.session.add(DeploymentStep(deployment_id=deployment.id, position=position,
                                      name=step.name, ok=step.ok, output=step.output))
    target = deployment.target
    if serial is not None:
        target.served_serial, target.probed_at = serial, now
    bridge.last_seen_at = now
    certificate = db.session.get(Certificate, deployment.certificate_id)
    # Expected: the new certificate, or (after a failure rolled back) the one deployed
    # before it. A first deployment that failed leaves whatever the server had before
    # the platform, which nobody can judge.
    expected = {c.serial_hex.lstrip("0") for c in (certificate, previous) if c is not None}
    judged = status == "succeeded" or previous is not None
    if serial is not None and certificate is not None and judged and serial not in expected:
        _served_mismatch(deployment, certificate, serial)
    audit.record("deployment.report", resource_type="deployment", resource_id=deployment.id,
                 actor_label=f"Bridge {bridge.name}",
                 outcome=audit.SUCCESS if status == "succeeded" else audit.FAILURE,
                 details={"target": target.name, "status": status, "served_serial": serial})
    db.session.commit()
    db.session.refresh(deployment)
    return deployment


def _served_before(deployment: Deployment) -> Certificate | None:
    """The certificate of the profile's latest succeeded deployment before this one."""
    return db.session.scalar(
        select(Certificate).join(Deployment, Deployment.certificate_id == Certificate.id)
        .where(Deployment.target_system_id == deployment.target_system_id,
               Deployment.profile_id == deployment.profile_id,
               Deployment.status == "succeeded", Deployment.id != deployment.id)
        .order_by(Deployment.finished_at.desc()).limit(1))


def _alert(kind: str, deployment: Deployment, certificate: Certificate, message: str,
           *, actual: str | None = None) -> bool:
    key = f"deploy:{deployment.id.hex}"
    exists = db.session.scalar(select(CertificateAlert.id).where(
        CertificateAlert.request_key == key, CertificateAlert.type == kind))
    if exists is not None:
        return False
    db.session.add(CertificateAlert(
        type=kind, request_key=key, policy_name="", rule=kind, code=f"deployment.{kind}",
        expected=certificate.serial_hex, actual=actual, message=message,
        common_name=certificate.common_name[:253],
        requester_label=f"Target system {deployment.target.name}"[:254],
        order_id=certificate.order_id, certificate_id=certificate.id))
    return True


def _served_mismatch(deployment: Deployment, certificate: Certificate, serial: str) -> None:
    _alert(ALERT_SERVED_MISMATCH, deployment, certificate,
           f"Target system {deployment.target.name} serves certificate serial {serial}, "
           f"not the deployed serial {certificate.serial_hex}.", actual=serial)


def raise_overdue(now: datetime | None = None) -> int:
    """``renewed_not_deployed`` for each profile whose newest deployment is not confirmed
    served DEPLOYMENT_CONFIRM_SECONDS after it was created (once per deployment)."""
    now = now or utcnow()
    window = timedelta(seconds=current_app.config["DEPLOYMENT_CONFIRM_SECONDS"])
    seen: set[tuple[uuid.UUID, uuid.UUID | None]] = set()
    raised = 0
    for row in db.session.scalars(select(Deployment).where(
            Deployment.status != "superseded").order_by(Deployment.created_at.desc())):
        if (row.target_system_id, row.profile_id) in seen:
            continue
        seen.add((row.target_system_id, row.profile_id))
        if row.status == "succeeded" or row.created_at > now - window:
            continue
        certificate = db.session.get(Certificate, row.certificate_id)
        if certificate is None:
            continue
        detail = f": {row.error.strip().splitlines()[-1][:300]}" if row.error else \
            f" (the deployment is {row.status.replace('_', ' ')})"
        raised += _alert(ALERT_RENEWED_NOT_DEPLOYED, row, certificate,
                         f"Certificate serial {certificate.serial_hex} for target system "
                         f"{row.target.name} is not confirmed served{detail}.")
    db.session.commit()
    return raised

"""Shared steps of the ACME tests: submit an order through the real pipeline, run the
jobs (with the scheduler) until it settles, and check its chain with openssl."""
from __future__ import annotations

import uuid
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, Order, OrderEvent, User
from app.services.intake import request_from_values
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from tests.conftest import run_jobs_until
from tests.pki.tooling import openssl

TERMINAL = ("complete", "failed")


def submit(app: Flask, provider_id: str, names: list[str], *, algorithm: str = "ec-256",
           csr_pem: str | None = None, **values: object) -> uuid.UUID:
    with app.app_context():
        user = db.session.scalar(select(User))
        request, problems = request_from_values({"common_name": names[0], "sans": names[1:],
                                                 "algorithm": algorithm,
                                                 "provider_id": provider_id, **values})
        assert problems == []
        order, _ = submit_order(request, requester_for_user(user), pathway="wizard",
                                request_key=f"test:{uuid.uuid4()}", csr_pem=csr_pem)
        order_id = order.id
        db.session.remove()
    return order_id


def status(app: Flask, order_id: uuid.UUID) -> str:
    with app.app_context():
        value = db.session.get(Order, order_id).status
        db.session.remove()
    return value


def settle(app: Flask, order_id: uuid.UUID, timeout: float = 90.0) -> Order:
    run_jobs_until(app, lambda: status(app, order_id) in TERMINAL, timeout=timeout)
    with app.app_context():
        order = db.session.get(Order, order_id)
        db.session.expunge(order)
    return order


def events(app: Flask, order_id: uuid.UUID) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(OrderEvent.message).where(
            OrderEvent.order_id == order_id).order_by(OrderEvent.id)))


def certificate_of(app: Flask, order_id: uuid.UUID) -> Certificate:
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(Certificate.order_id == order_id))
        assert cert is not None
        db.session.expunge(cert)
    return cert


def verify_chain(cert: Certificate, root_pem: str, tmp_path: Path) -> str:
    """``openssl verify`` of the leaf with its stored chain against ``root_pem``."""
    (tmp_path / "root.pem").write_text(root_pem)
    (tmp_path / "chain.pem").write_text(cert.chain_pem)
    (tmp_path / "leaf.pem").write_text(cert.certificate_pem)
    result = openssl("verify", "-CAfile", str(tmp_path / "root.pem"), "-untrusted",
                     str(tmp_path / "chain.pem"), str(tmp_path / "leaf.pem"))
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout

"""Fault injection with a real Redis and real ``worker.py`` processes.

Each test starts its own ``redis-server`` on a free port (stopped and restarted at will;
the shared Redis is never touched) and an app bound to it that shares the session's
database. The faults:

(a) ``kill -9`` of the worker while it issues an order: after the sweeper runs and a new
    worker starts, every order ends ``complete`` (or ``failed`` with a reason) and no order
    has two certificates;
(b) Redis down at submit: the order is stored ``pending`` with a timeline note, and once
    Redis is back the sweeper hands it to a worker and it completes;
(c) the same issuance job delivered several times, to two workers at once: one certificate.

The workers run with an hourly sweeper whose thresholds are an hour too, so their own first
sweep at start-up changes nothing: the tests run the sweep themselves, as an operator
would (``flask orders sweep``).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask
from rq.job import Job
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import Certificate, Order, OrderEvent, User
from app.services.intake import request_from_values
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from tests.builders import add_domain, issuing_ca
from tests.conftest import make_user, run_jobs
from tests.e2e.rq_worker import ROOT
from tests.jobs.processes import RedisServer, Workers

T = TypeVar("T")

FLASK = [sys.executable, "-m", "flask"]
#: The workers' own sweeper stays out of the way (see the module docstring).
QUIET_SWEEPER = {"SWEEP_INTERVAL_SECONDS": "3600", "SWEEP_PENDING_GRACE_SECONDS": "3600",
                 "SWEEP_PROCESSING_TIMEOUT_SECONDS": "3600"}
TERMINAL = {"complete", "failed"}
SLOW_KEY = "rsa-4096"  # key generation takes long enough to kill the worker during it


# ---- fixtures ----------------------------------------------------------------------------

@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fault_settings(test_settings: dict[str, str], redis_server: RedisServer) -> dict[str, str]:
    return {**test_settings, "REDIS_URL": redis_server.url,
            "RQ_QUEUE": f"faults-{uuid.uuid4().hex[:12]}"}


@pytest.fixture
def fault_app(app: Flask, fault_settings: dict[str, str]) -> Iterator[Flask]:
    """An app on our Redis and the session's database (``app`` made the schema, and its
    ``_clean_state`` empties the tables after the test)."""
    application = create_app({**fault_settings, "TESTING": True})
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def workers(fault_settings: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    group = Workers(fault_settings, tmp_path, QUIET_SWEEPER)
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture
def issuer(fault_app: Flask) -> str:
    add_domain(fault_app, "example.com")
    make_user(fault_app)
    return issuing_ca(fault_app, lambda: run_jobs(fault_app))


# ---- helpers -----------------------------------------------------------------------------

def _submit(app: Flask, issuer: str, common_name: str, algorithm: str = SLOW_KEY) -> uuid.UUID:
    values = {"common_name": common_name, "sans": [], "organization": "Acme",
              "algorithm": algorithm, "digest": "sha256", "validity_days": "90",
              "key_usage": ["digitalSignature"], "extended_key_usage": ["serverAuth"],
              "issuer_id": issuer}
    with app.app_context():
        user = db.session.scalar(select(User))
        request, problems = request_from_values(values)
        assert problems == []
        order, _ = submit_order(request, requester_for_user(user), pathway="wizard",
                                request_key=f"test:{uuid.uuid4()}")
        order_id = order.id
        db.session.remove()
        return order_id


def _read(app: Flask, query: Callable[[], T]) -> T:
    """Run ``query`` in a fresh session (never a stale identity map)."""
    with app.app_context():
        try:
            return query()
        finally:
            db.session.remove()


def _statuses(app: Flask) -> dict[uuid.UUID, str]:
    return _read(app, lambda: dict(db.session.execute(select(Order.id, Order.status)).all()))


def _orders(app: Flask) -> dict[uuid.UUID, dict[str, Any]]:
    return _read(app, lambda: {o.id: {"status": o.status, "error": o.error,
                                      "attempts": o.attempts}
                               for o in db.session.scalars(select(Order))})


def _timeline(app: Flask, order_id: uuid.UUID) -> list[tuple[str | None, str, str]]:
    return _read(app, lambda: [tuple(row) for row in db.session.execute(
        select(OrderEvent.from_status, OrderEvent.to_status, OrderEvent.message)
        .where(OrderEvent.order_id == order_id).order_by(OrderEvent.id))])


def _certificates(app: Flask) -> dict[uuid.UUID, int]:
    """Certificates per order id."""
    return _read(app, lambda: dict(db.session.execute(
        select(Certificate.order_id, func.count(Certificate.id))
        .group_by(Certificate.order_id)).all()))


def _wait_for(check: Callable[[], T], what: str, workers: Workers, timeout: float = 60.0,
              interval: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{workers.tails()}")
        time.sleep(interval)


def _all_terminal(app: Flask) -> Callable[[], bool]:
    return lambda: all(s in TERMINAL for s in _statuses(app).values())


def _sweep_cli(workers: Workers) -> dict[str, Any]:
    """``flask orders sweep`` as an operator runs it, with the workers' settings."""
    args = ["orders", "sweep", "--pending-grace", "0", "--processing-timeout", "0", "--json"]
    result = subprocess.run([*FLASK, *args], cwd=ROOT, env={**workers.env, "FLASK_APP": "app"},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"flask {' '.join(args)}: {result.stderr[-3000:]}"
    return json.loads(result.stdout)


def _assert_outcome(app: Flask) -> dict[uuid.UUID, dict[str, Any]]:
    """Every order ended: complete with exactly one certificate, or failed with a readable
    reason and none."""
    orders, certificates = _orders(app), _certificates(app)
    assert orders
    for order_id, order in orders.items():
        if order["status"] == "complete":
            assert certificates.get(order_id) == 1, (order_id, certificates)
        else:
            assert order["status"] == "failed", (order_id, order)
            assert order["error"] and order["error"].strip(), (order_id, order)
            assert "Traceback" not in order["error"]
            assert order_id not in certificates
    assert set(certificates) <= set(orders)
    return orders


# ---- (a) kill -9 of the worker during a job ----------------------------------------------

def test_worker_killed_mid_job_the_sweeper_recovers_and_no_order_gets_two_certificates(
        fault_app: Flask, issuer: str, workers: Workers) -> None:
    killed: uuid.UUID | None = None
    for attempt in range(3):  # a retry only if the kill missed every job (not seen so far)
        for n in range(3):
            _submit(fault_app, issuer, f"kill{attempt}-{n}.example.com")
        worker = workers.start()
        _wait_for(lambda: "processing" in _statuses(fault_app).values(),
                  "a worker to claim an order", workers, timeout=30, interval=0.005)
        Workers.kill_hard(worker)
        processing = [i for i, s in _statuses(fault_app).items() if s == "processing"]
        assert len(processing) <= 1, processing
        if processing:
            killed = processing[0]
            break
    assert killed is not None, "the worker was never killed during a job"

    # The job died with the worker: its order is stuck in "processing", without certificate.
    assert _orders(fault_app)[killed]["attempts"] == 1
    assert killed not in _certificates(fault_app)

    report = _sweep_cli(workers)
    assert report["recovered"] == [str(killed)], (report, _orders(fault_app))
    assert report["failed"] == [] and report["requeued"] == [], report  # others still queued
    assert _statuses(fault_app)[killed] == "pending"

    workers.start()
    _wait_for(_all_terminal(fault_app), "every order to end", workers)
    orders = _assert_outcome(fault_app)
    assert orders[killed]["status"] == "complete", orders[killed]
    assert orders[killed]["attempts"] == 2
    timeline = _timeline(fault_app, killed)
    assert [(f, t) for f, t, _ in timeline] == [
        (None, "pending"), ("pending", "processing"), ("processing", "pending"),
        ("pending", "processing"), ("processing", "complete")], timeline
    assert "lost" in timeline[2][2]


# ---- (b) Redis down at submit ------------------------------------------------------------

def test_redis_down_at_submit_leaves_the_order_pending_until_redis_is_back(
        fault_app: Flask, issuer: str, workers: Workers, redis_server: RedisServer) -> None:
    from app.services.sweeper import sweep

    redis_server.stop()
    assert not redis_server.answers()
    order_id = _submit(fault_app, issuer, "down.example.com", algorithm="ec-256")
    assert _statuses(fault_app) == {order_id: "pending"}
    timeline = _timeline(fault_app, order_id)
    assert [(f, t) for f, t, _ in timeline] == [(None, "pending"), ("pending", "pending")]
    assert "queue could not be reached" in timeline[1][2]

    # A sweep while Redis is still down neither raises nor changes anything.
    with fault_app.app_context():
        assert sweep(pending_grace=0, processing_timeout=0).as_dict() == {
            "requeued": [], "recovered": [], "failed": [], "checks_requeued": [],
            "cas_requeued": 0, "keys_expired": 0}
        db.session.remove()
    assert _statuses(fault_app) == {order_id: "pending"}

    redis_server.start()  # same port, empty: only the database knows about the order
    workers.start()
    assert _statuses(fault_app) == {order_id: "pending"}
    report = _sweep_cli(workers)
    assert report["requeued"] == [str(order_id)], (report, _orders(fault_app))
    _wait_for(_all_terminal(fault_app), "the order to end", workers)
    assert _assert_outcome(fault_app)[order_id]["status"] == "complete"
    assert [t for _, t, _ in _timeline(fault_app, order_id)] == [
        "pending", "pending", "processing", "complete"]


# ---- (c) the same job delivered several times --------------------------------------------

def test_the_same_job_delivered_several_times_to_two_workers_gives_one_certificate(
        fault_app: Flask, issuer: str, workers: Workers) -> None:
    from app.jobs.orders import issue_order
    from app.jobs.queue import get_queue
    from app.services.orders import enqueue_issue

    first, second = workers.start(), workers.start()
    with ExitStack() as frozen:  # both workers frozen while the duplicates pile up
        frozen.enter_context(first.paused())
        frozen.enter_context(second.paused())
        order_id = _submit(fault_app, issuer, "twice.example.com", algorithm="ec-256")
        with fault_app.app_context():
            order = db.session.get(Order, order_id)
            assert enqueue_issue(order)  # the same job id again: RQ keeps one
            assert enqueue_issue(order)
            # Copies under other job ids (as a re-delivery would be), results kept to check.
            copies = [get_queue().enqueue(issue_order, str(order_id),
                                          job_id=f"order-{order_id}-copy-{n}",
                                          description="copy", result_ttl=600).id
                      for n in range(3)]
            db.session.remove()

    def copies_done() -> list[Any] | None:
        with fault_app.app_context():
            from app.jobs.allowlist import SERIALIZER
            from app.jobs.queue import redis_connection

            jobs = Job.fetch_many(copies, connection=redis_connection(), serializer=SERIALIZER)
        states = [job.get_status() if job else None for job in jobs]
        assert "failed" not in states, (states, workers.tails())
        return [job.return_value() for job in jobs] \
            if all(s == "finished" for s in states) else None

    results = _wait_for(copies_done, "every copy of the job to run", workers)
    _wait_for(_all_terminal(fault_app), "the order to end", workers)
    assert set(results) <= {"complete", "skipped"} and results.count("complete") <= 1, results
    assert _assert_outcome(fault_app)[order_id]["status"] == "complete"
    assert _certificates(fault_app) == {order_id: 1}
    assert [t for _, t, _ in _timeline(fault_app, order_id)] == [
        "pending", "processing", "complete"]

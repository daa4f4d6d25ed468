"""Scale-out, tried: two web processes (gunicorn) and three worker processes share one
PostgreSQL and one Redis. 5,000 orders go in through both web processes, nine in ten in
batch requests (issued by batch jobs), one in ten one by one (issued by a job each); one
worker is killed with SIGKILL half-way. The end state must be 5,000 completed orders and
exactly one certificate per order (the database is the source of truth; the sweeper
re-queues what the dead worker held once ``SWEEP_PROCESSING_TIMEOUT_SECONDS`` has
passed).

PostgreSQL only (SQLite is the single-machine default; several processes writing at this
rate are what PostgreSQL is for)."""
from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import text

from app.extensions import db
from tests.api.conftest import make_courier
from tests.builders import add_domain, issuing_ca
from tests.e2e.rq_worker import WorkerProcess, worker_env
from tests.scale.processes import WebProcess

pytestmark = pytest.mark.postgres_only

ORDERS = int(os.environ.get("SCALE_TEST_ORDERS", "5000"))
CLIENTS = 16


@pytest.fixture
def courier(app: Flask, jobs):
    """A domain, a root and an intermediate (made before the cluster's workers exist, by
    this process's own worker), and a courier with an encryption key."""
    add_domain(app, "example.com")
    issuing_ca(app, jobs)
    return make_courier(app, domains=("example.com",))


@pytest.fixture
def cluster(app: Flask, courier, test_settings: dict[str, str], tmp_path: Path
            ) -> Iterator[tuple[list[WebProcess], list[WorkerProcess]]]:
    env = {**worker_env(test_settings),
           # Couriers are rate-limited per client address; here every client is one address.
           "COURIER_RATE_LIMIT_PER_MINUTE": "0", "COURIER_AUTH_RATE_LIMIT_PER_MINUTE": "0",
           "SWEEP_INTERVAL_SECONDS": "1", "SWEEP_PENDING_GRACE_SECONDS": "5",
           "SWEEP_PROCESSING_TIMEOUT_SECONDS": "10"}
    webs = [WebProcess(env, tmp_path / f"web{i}.log") for i in range(2)]
    workers = [WorkerProcess(env, tmp_path / f"worker{i}.log") for i in range(3)]
    try:
        for process in (*webs, *workers):
            process.start()
        yield webs, workers
    finally:
        # Stopped side by side: each waits for a warm shutdown of its own.
        with ThreadPoolExecutor(len(webs) + len(workers)) as pool:
            list(pool.map(lambda process: process.stop(), (*workers, *webs)))


def _scalar(app: Flask, sql: str) -> int:
    with app.app_context():
        value = db.session.execute(text(sql)).scalar_one()
        db.session.rollback()
        return int(value)


def _submit_all(webs: list[WebProcess], courier, count: int) -> list[str]:
    """Submit ``count`` orders through the courier API, spread over both web processes by
    ``CLIENTS`` concurrent clients; returns the order ids."""
    local = threading.local()
    targets = itertools.cycle(webs)
    lock = threading.Lock()

    def client() -> tuple[requests.Session, str]:
        if not hasattr(local, "session"):
            with lock:
                web = next(targets)
            session = requests.Session()
            token = session.post(f"{web.url}/api/v1/courier/auth", json=courier.auth_body(),
                                 timeout=30).json()["token"]
            session.headers["Authorization"] = f"Bearer {token}"
            local.session, local.base = session, web.url
        return local.session, local.base

    def body(index: int) -> dict[str, str]:
        return {"common_name": f"n{index}.scale.example.com", "algorithm": "ec-256"}

    def submit(indexes: range) -> list[str]:
        """One request alone through the single endpoint, several through the batch
        endpoint (their orders are issued by batch jobs)."""
        session, base = client()
        if len(indexes) == 1:
            response = session.post(f"{base}/api/v1/courier/certificates", timeout=60,
                                    json=body(indexes[0]))
            assert response.status_code == 202, response.text
            return [response.json()["order_id"]]
        response = session.post(f"{base}/api/v1/courier/certificates:batch", timeout=60,
                                json={"requests": [body(i) for i in indexes]})
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [r["status"] for r in results] == [202] * len(indexes), results
        return [r["body"]["order_id"] for r in results]

    # Of every 100 orders, 90 go in one batch request and 10 one by one: both paths run
    # side by side, and the single path (a job per order) does not set the test's length.
    work: list[range] = []
    for start in range(0, count, 100):
        middle = min(start + 90, count)
        work.append(range(start, middle))
        work += [range(i, i + 1) for i in range(middle, min(start + 100, count))]
    with ThreadPoolExecutor(CLIENTS) as pool:
        return [order_id for ids in pool.map(submit, work) for order_id in ids]


def test_two_webs_three_workers_one_killed_every_order_one_certificate(
        app: Flask, courier, cluster) -> None:
    webs, workers = cluster

    started = time.monotonic()
    submitted: list[str] = []
    submitter = threading.Thread(target=lambda: submitted.extend(_submit_all(webs, courier,
                                                                            ORDERS)))
    submitter.start()

    # Kill one worker (and its work horse) half-way through, mid-job.
    # Generous: a loaded 2-core machine issues a few orders a second, a quiet one dozens.
    deadline = time.monotonic() + 1800
    while _scalar(app, "SELECT count(*) FROM certificates") < ORDERS // 2:
        assert time.monotonic() < deadline, "half the orders were not issued in time"
        time.sleep(0.5)
    print(f"half issued after {time.monotonic() - started:.1f}s; killing a worker")
    os.killpg(workers[0].pid, signal.SIGKILL)
    submitter.join(timeout=max(1.0, deadline - time.monotonic()))
    assert not submitter.is_alive()
    assert len(set(submitted)) == ORDERS
    print(f"all submitted after {time.monotonic() - started:.1f}s")

    while _scalar(app, "SELECT count(*) FROM orders WHERE status = 'complete'") < ORDERS:
        assert time.monotonic() < deadline, (
            "orders left unfinished: " + str(_scalar(
                app, "SELECT count(*) FROM orders WHERE status <> 'complete'")))
        time.sleep(0.5)

    print(f"all complete after {time.monotonic() - started:.1f}s")
    assert _scalar(app, "SELECT count(*) FROM orders") == ORDERS
    assert _scalar(app, "SELECT count(*) FROM certificates") == ORDERS
    assert _scalar(app, "SELECT count(DISTINCT order_id) FROM certificates") == ORDERS
    assert _scalar(app, "SELECT count(DISTINCT serial_hex) FROM certificates") == ORDERS
    assert _scalar(app, "SELECT count(*) FROM certificates WHERE order_id IS NULL") == 0

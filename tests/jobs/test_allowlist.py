"""Only our jobs run in the worker: a job written straight into Redis that names another
function, arrives pickled, or carries a foreign callback is refused and logged, and the
function is never called. The worker is the real one (``run_jobs``)."""
from __future__ import annotations

import json
import logging
import uuid
import zlib

import pytest
from rq import Callback, Queue
from rq.job import Job

from app.jobs import allowlist, enqueue
from app.jobs.allowlist import ALLOWED_CALLBACKS, ALLOWED_JOBS, SERIALIZER, JobRefused
from app.jobs.queue import redis_connection
from tests.jobs import not_allowed


@pytest.fixture(autouse=True)
def _no_calls() -> None:
    not_allowed.CALLS.clear()


def _queue(app, serializer=SERIALIZER) -> Queue:
    return Queue(app.config["RQ_QUEUE"], connection=redis_connection(), serializer=serializer)


def _status(app, job_id: str) -> str:
    with app.app_context():
        return Job.fetch(job_id, connection=redis_connection(),
                         serializer=SERIALIZER).get_status()


def test_a_job_naming_a_function_off_the_list_is_refused_and_logged(app, jobs, caplog):
    with app.app_context():
        job = _queue(app).enqueue("tests.jobs.not_allowed.touch", "/tmp/x",
                                  job_id=f"evil-{uuid.uuid4().hex}")
    with caplog.at_level(logging.ERROR, logger="app.jobs.allowlist"):
        jobs()
    assert not_allowed.CALLS == []
    assert _status(app, job.id) == "failed"
    assert f"refused job {job.id}" in caplog.text
    assert "tests.jobs.not_allowed.touch" in caplog.text


def test_a_pickled_job_is_refused_without_unpickling(app, jobs, caplog):
    """The default (pickle) serializer's payload is not JSON: never loaded, never run."""
    with app.app_context():
        job = Queue(app.config["RQ_QUEUE"], connection=redis_connection()).enqueue(
            not_allowed.touch, "pickled", job_id=f"pickled-{uuid.uuid4().hex}")
    with caplog.at_level(logging.ERROR, logger="app.jobs.allowlist"):
        jobs()
    assert not_allowed.CALLS == []
    assert f"refused job {job.id}" in caplog.text and "not JSON" in caplog.text
    with app.app_context():
        raw = redis_connection().hget(f"rq:job:{job.id}", "status")
    assert raw == b"failed"


def test_a_foreign_failure_callback_is_not_run(app, jobs, caplog):
    """An allowed job (that fails on a malformed id) carrying a callback off the list."""
    with app.app_context():
        job = _queue(app).enqueue("app.jobs.orders.issue_order", "not-a-uuid",
                                  on_failure=Callback("tests.jobs.not_allowed.callback"),
                                  job_id=f"cb-{uuid.uuid4().hex}")
    with caplog.at_level(logging.ERROR, logger="app.jobs.allowlist"):
        jobs()
    assert not_allowed.CALLS == []
    assert _status(app, job.id) == "failed"
    assert "not an allowed callback" in caplog.text


def test_an_instance_method_job_is_refused(app, jobs):
    """JSON can carry a dict as the job's "instance"; a method of it is still refused."""
    with app.app_context():
        job = _queue(app).enqueue("app.jobs.orders.issue_order", str(uuid.uuid4()),
                                  job_id=f"inst-{uuid.uuid4().hex}")
        redis_connection().hset(f"rq:job:{job.id}", "data",
                                json.dumps(["clear", {"a": 1}, [], {}]))
    jobs()
    assert _status(app, job.id) == "failed"


def test_the_app_cannot_enqueue_a_function_off_the_list(app):
    """Services enqueue by name; a name (or a dotted path) off the list is refused before
    anything reaches Redis, and so is a callback off the list."""
    token = uuid.uuid4().hex
    with app.app_context():
        for name in ("touch", "tests.jobs.not_allowed.touch", "app.jobs.orders.issue_order"):
            with pytest.raises(JobRefused, match="ALLOWED_JOBS"):
                enqueue.enqueue(name, f"refused-{token}-{name}", description="x")
        with pytest.raises(JobRefused, match="ALLOWED_CALLBACKS"):
            enqueue.enqueue("issue_order", f"refused-{token}-cb", str(uuid.uuid4()),
                            description="x", on_failure="tests.jobs.not_allowed.callback")
        assert redis_connection().keys(f"rq:job:refused-{token}-*") == []


def test_the_allow_list_is_the_one_list_of_jobs():
    """The worker's allow-list is exactly what services can enqueue, nothing more."""
    assert enqueue.JOBS is allowlist.JOBS and enqueue.CALLBACKS is allowlist.CALLBACKS
    assert frozenset(enqueue.JOBS.values()) == ALLOWED_JOBS
    assert frozenset(enqueue.CALLBACKS.values()) == ALLOWED_CALLBACKS


def test_every_allowed_job_is_importable():
    from rq.utils import import_attribute

    for name in ALLOWED_JOBS | ALLOWED_CALLBACKS:
        assert callable(import_attribute(name)), name


def test_allowed_jobs_still_run_with_json_payloads(app, jobs):
    """An allowed job runs (and its arguments are JSON): an unknown order is skipped."""
    with app.app_context():
        job = _queue(app).enqueue("app.jobs.orders.issue_order", str(uuid.uuid4()),
                                  job_id=f"ok-{uuid.uuid4().hex}", result_ttl=60)
        stored = zlib.decompress(redis_connection().hget(f"rq:job:{job.id}", "data"))
        assert json.loads(stored)[0] == "app.jobs.orders.issue_order"
    jobs()
    with app.app_context():
        fetched = Job.fetch(job.id, connection=redis_connection(), serializer=SERIALIZER)
        assert fetched.get_status() == "finished" and fetched.return_value() == "skipped"

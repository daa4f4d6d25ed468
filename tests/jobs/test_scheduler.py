"""The scheduler (services/scheduler.py): every periodic task runs once per period,
whichever of several workers ticks first, and a period whose worker was killed is run
again by another worker.

In-process tests drive ``tick`` and the real worker class; the process tests start two
real ``worker.py`` processes (each with its scheduler tick) on a queue of their own."""
from __future__ import annotations

import itertools
import re
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text

from app.extensions import db
from app.jobs.queue import get_queue
from app.models import TaskRun
from app.services import scheduler
from tests.conftest import _drop_queue, run_jobs
from tests.jobs.processes import Workers

NOW = datetime(2026, 12, 1, 12, 0, 7, tzinfo=UTC)


def _runs(app: Flask) -> list[TaskRun]:
    with app.app_context():
        rows = list(db.session.scalars(select(TaskRun).order_by(TaskRun.id)))
        db.session.expunge_all()
        return rows


def _queued(app: Flask) -> list[str]:
    with app.app_context():
        return get_queue().get_job_ids()


# ---- in-process --------------------------------------------------------------------------

def test_periods_are_aligned_so_every_worker_computes_the_same_job_id(app) -> None:
    with app.app_context():
        sweep = scheduler.TASKS["sweep"]
        start = scheduler.period_start(sweep, NOW)
        assert start == datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)  # 30 s periods
        assert scheduler.period_start(sweep, NOW + timedelta(seconds=22)) == start
        assert scheduler.period_start(sweep, NOW + timedelta(seconds=23)) \
            == start + timedelta(seconds=30)
        ident = scheduler.job_id("sweep", start)
    queue = app.config["RQ_QUEUE"]
    assert ident == f"task_sweep_20261201T120000000000Z_{queue}"
    assert ":" not in ident  # RQ refuses ':' in job ids


def test_another_queues_waiting_period_does_not_take_this_queues(app, sched_settings) -> None:
    """Two installations (or test sessions) whose workers share one Redis database: the
    other's jobs for the same period wait on its queue, and this queue's tick still
    enqueues its own (the ids differ by queue). Before, the ids were the same and this
    tick enqueued nothing for the rest of the period."""
    from app import create_app

    other = create_app({**sched_settings, "TESTING": True,
                        "RQ_QUEUE": f"{sched_settings['RQ_QUEUE']}:x y"})  # ids keep neither
    try:
        with other.app_context():
            theirs = scheduler.tick(NOW)
            db.session.remove()
        with app.app_context():
            ours = scheduler.tick(NOW)
        assert len(theirs) == len(ours) == len(scheduler.TASKS)
        assert not set(theirs) & set(ours)
        assert all(":" not in ident and " " not in ident for ident in theirs)
        assert sorted(_queued(app)) == sorted(ours)
    finally:
        _drop_queue(other.config["REDIS_URL"], other.config["RQ_QUEUE"])


def test_a_tick_enqueues_each_task_once_and_the_period_runs_once(app) -> None:
    with app.app_context():
        expected = sorted(scheduler.job_id(name, scheduler.period_start(
            scheduler.TASKS[name], NOW)) for name in scheduler.TASKS)
        first = scheduler.tick(NOW)
        again = scheduler.tick(NOW + timedelta(seconds=1))  # a second worker's tick
    assert sorted(first) == expected
    assert sorted(_queued(app)) == expected  # the second tick added nothing
    assert again == []  # the job waits on the queue: nothing to enqueue
    run_jobs(app)
    runs = _runs(app)
    assert sorted(r.task for r in runs) == sorted(scheduler.TASKS)
    assert {r.status for r in runs} == {"success"}
    # After the run the job is gone from Redis, but the period is taken in the database.
    with app.app_context():
        assert scheduler.tick(NOW + timedelta(seconds=2)) == []
        # A duplicate job for the same period (delivered twice) does not run the task.
        start = scheduler.period_start(scheduler.TASKS["sweep"], NOW)
        assert scheduler.run_task("sweep", start.isoformat()) == "skipped"
    assert len(_runs(app)) == len(scheduler.TASKS)


def test_the_next_period_runs_again(app) -> None:
    with app.app_context():
        scheduler.tick(NOW)
        # Past the longest period, every task is in its next period (each has its own).
        longest = max(scheduler.period_seconds(t) for t in scheduler.TASKS.values())
    run_jobs(app)
    with app.app_context():
        scheduler.tick(NOW + timedelta(seconds=longest))
    run_jobs(app)
    counts = Counter(r.task for r in _runs(app))
    assert counts == {name: 2 for name in scheduler.TASKS}


def test_a_run_whose_worker_is_gone_is_claimed_again(app) -> None:
    with app.app_context():
        start = scheduler.period_start(scheduler.TASKS["sweep"], NOW)
        db.session.add(TaskRun(task="sweep", period_start=start, status="running",
                               runner=f"ghost-{uuid.uuid4().hex[:6]}",
                               started_at=NOW))
        db.session.commit()
        enqueued = scheduler.tick(NOW + timedelta(seconds=1))
        assert scheduler.job_id("sweep", start) in enqueued
    run_jobs(app)
    [run] = [r for r in _runs(app) if r.task == "sweep"]
    assert (run.status, run.attempt) == ("success", 2)


def test_a_lost_run_of_the_previous_period_is_claimed_again_but_a_missed_one_is_not(
        app) -> None:
    with app.app_context():
        start = scheduler.period_start(scheduler.TASKS["sweep"], NOW)
        before = start - timedelta(seconds=30)
        db.session.add(TaskRun(task="sweep", period_start=before, status="running",
                               runner="ghost-worker", started_at=before))
        db.session.commit()
        enqueued = scheduler.tick(NOW)
        assert scheduler.job_id("sweep", before) in enqueued
        assert scheduler.job_id("sweep", start - timedelta(seconds=60)) not in enqueued


def test_a_failing_task_is_recorded_and_the_worker_goes_on(app, monkeypatch) -> None:
    def broken() -> dict:
        raise RuntimeError("database on fire")

    monkeypatch.setitem(scheduler.TASKS, "sweep",
                        scheduler.Task("sweep", broken, "SWEEP_INTERVAL_SECONDS", "broken"))
    with app.app_context():
        assert scheduler.run_task("sweep", NOW.isoformat()) == "failed"
    [run] = _runs(app)
    assert run.status == "failed" and "database on fire" in (run.error or "")


# ---- real workers --------------------------------------------------------------------------

@pytest.fixture
def sched_settings(test_settings: dict[str, str]) -> Iterator[dict[str, str]]:
    settings = {**test_settings, "RQ_QUEUE": f"sched-{uuid.uuid4().hex[:12]}"}
    yield settings
    _drop_queue(settings["REDIS_URL"], settings["RQ_QUEUE"])


def _periods(seconds: float) -> dict[str, str]:
    """Every task on a period of ``seconds``, ticking five times a second."""
    env = {"SCHEDULER_TICK_SECONDS": "0.2"}
    with_app = {entry.period_setting for entry in scheduler.TASKS.values()}
    env.update({setting: str(seconds) for setting in with_app})
    return env


def _wait(condition, timeout: float, what: str, workers: Workers) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{workers.tails()}"
        time.sleep(0.05)


RAN = re.compile(r"scheduler: ran (\S+) for period (\S+): (\w+)")


def test_two_workers_run_each_task_once_per_period(app, sched_settings, tmp_path) -> None:
    period = 2.0
    workers = Workers(sched_settings, tmp_path, _periods(period))
    try:
        names = {_worker_name(workers.start()), _worker_name(workers.start())}
        first = datetime.now(UTC)

        def enough() -> bool:
            done = [r for r in _runs(app) if r.status == "success"]
            return all(sum(r.task == name for r in done) >= 4 for name in scheduler.TASKS)

        _wait(enough, 90, "four periods of every task", workers)
    finally:
        workers.stop_all()
    runs = _runs(app)
    assert {r.status for r in runs} == {"success"}, workers.tails()
    for name in scheduler.TASKS:
        starts = sorted(r.period_start for r in runs if r.task == name)
        # Consecutive periods, none skipped while both workers were up, none twice.
        gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(starts)}
        assert gaps == {period}, (name, starts)
        assert starts[0] <= first + timedelta(seconds=period * 3)
    # Each run happened once: the task's work ran once per period across both workers'
    # logs, although both ticked (the logs, not only the unique row, show it).
    ran = Counter((m[1], m[2]) for w in workers.started
                  for m in RAN.finditer(w.log_path.read_text(errors="replace")))
    assert ran and set(ran.values()) == {1}
    assert len(ran) == len(runs)
    assert {r.runner for r in runs} <= names


def _worker_name(worker) -> str:
    from rq import Worker

    with redis_connection_for(worker) as connection:
        for found in Worker.all(connection=connection):
            if found.pid == worker.pid:
                return found.name
    return f"(worker pid {worker.pid} gone)"


def redis_connection_for(worker):
    from redis import Redis

    return Redis.from_url(worker.env["REDIS_URL"])


class _OrdersLocked:
    """Blocks the sweep inside its run: PostgreSQL locks the orders table; SQLite takes
    the write lock (readers go on, so the tick still enqueues, and the job blocks when it
    claims the period)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> _OrdersLocked:
        if self.url.startswith("sqlite"):
            self.sqlite = sqlite3.connect(self.url.removeprefix("sqlite:///"),
                                          isolation_level=None)
            self.sqlite.execute("BEGIN IMMEDIATE")
        else:
            self.engine = create_engine(self.url.replace("postgresql://",
                                                         "postgresql+psycopg://", 1))
            self.conn = self.engine.connect()
            self.tx = self.conn.begin()
            self.conn.execute(text("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.url.startswith("sqlite"):
            self.sqlite.execute("ROLLBACK")
            self.sqlite.close()
        else:
            self.tx.rollback()
            self.conn.close()
            self.engine.dispose()


def test_a_killed_workers_period_is_still_run(app, sched_settings, tmp_path: Path,
                                             worker_key) -> None:
    """Worker A takes this period's sweep and is killed (SIGKILL) in the middle of it;
    worker B, started afterwards, runs the same period — once. (``worker_key``: the
    worker's sealing key exists already, so starting worker A writes nothing.)"""
    url = sched_settings["SQLALCHEMY_DATABASE_URI"]
    workers = Workers(sched_settings, tmp_path, {**_periods(3600), "SCHEDULER_TICK_SECONDS":
                                                 "0.2"})
    try:
        with _OrdersLocked(url):
            a = workers.start()
            a_name = _worker_name(a)

            def a_is_in_the_sweep() -> bool:
                if url.startswith("sqlite"):  # blocked claiming: the job is started
                    return _sweep_job_status(sched_settings) == "started"
                return any(r.task == "sweep" and r.status == "running"
                           for r in _runs_raw(url))

            _wait(a_is_in_the_sweep, 60, "worker A inside the sweep", workers)
            Workers.kill_hard(a)
        b = workers.start()
        b_name = _worker_name(b)

        def sweep_done() -> bool:
            return any(r.task == "sweep" and r.status == "success" for r in _runs(app))

        _wait(sweep_done, 60, "the sweep of the killed worker's period", workers)
    finally:
        workers.stop_all()
    sweeps = [r for r in _runs(app) if r.task == "sweep"]
    assert len(sweeps) == 1, sweeps
    [run] = sweeps
    assert run.runner == b_name != a_name
    assert run.attempt == (1 if url.startswith("sqlite") else 2)


def _sweep_job_status(settings: dict[str, str]) -> str | None:
    """The RQ status of this hour's sweep job on the workers' queue (hour-long periods in
    that test)."""
    from redis import Redis
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from app.jobs.allowlist import SERIALIZER

    now = datetime.now(UTC)
    start = now.replace(minute=0, second=0, microsecond=0)
    with Redis.from_url(settings["REDIS_URL"]) as connection:
        try:
            job = Job.fetch(scheduler.job_id("sweep", start, settings["RQ_QUEUE"]),
                            connection=connection,
                            serializer=SERIALIZER)
        except NoSuchJobError:
            return None
        return job.get_status(refresh=False)


def _runs_raw(url: str) -> list[TaskRun]:
    # Read without the app's session (the test holds the orders lock meanwhile).
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT task, status FROM task_runs")))
    finally:
        engine.dispose()


def test_lifecycle_cli_lists_tasks_and_runs_one_now(app, sched_settings, tmp_path) -> None:
    """``flask lifecycle run-now`` enqueues and waits for a real worker."""
    import json

    from app import create_app

    cli_app = create_app({**sched_settings, "TESTING": True})
    runner = cli_app.test_cli_runner()
    listed = json.loads(runner.invoke(args=["lifecycle", "list", "--json"]).output)
    assert {row["task"] for row in listed} == set(scheduler.TASKS)
    assert all(row["last_run"] is None for row in listed)
    # The worker's own tick stays out of the way (hour-long periods; it runs each task
    # once at start, which the run below must not be confused with).
    workers = Workers(sched_settings, tmp_path, _periods(3600))
    try:
        workers.start()
        result = runner.invoke(args=["lifecycle", "run-now", "sweep", "--json",
                                     "--timeout", "60"])
    finally:
        workers.stop_all()
    assert result.exit_code == 0, result.output + workers.tails()
    body = json.loads(result.output)
    assert body["task"] == "sweep" and body["status"] == "success"
    assert set(body["result"]) >= {"requeued", "recovered", "failed"}
    listed = json.loads(runner.invoke(args=["lifecycle", "list", "--json"]).output)
    [sweep] = [row for row in listed if row["task"] == "sweep"]
    assert sweep["last_run"]["status"] == "success"
    unknown = runner.invoke(args=["lifecycle", "run-now", "nope", "--json"])
    assert unknown.exit_code == 2 and "task.unknown" in unknown.output
    with cli_app.app_context():
        db.session.remove()


def test_lifecycle_run_now_runs_the_expiry_scan_and_the_discovery_rescan(
        app, sched_settings, tmp_path) -> None:
    """The expiry scan (issue 14) and the discovery re-scan (issue 16) are scheduled
    tasks: ``run-now`` runs each on a real worker and prints its summary."""
    import json

    from app import create_app
    from tests.notifications.conftest import add_certificate

    cli_app = create_app({**sched_settings, "TESTING": True})
    add_certificate(cli_app, "soon.example.com", 3)
    runner = cli_app.test_cli_runner()
    listed = {row["task"] for row in json.loads(
        runner.invoke(args=["lifecycle", "list", "--json"]).output)}
    assert {"expiry-scan", "discovery-rescan"} <= listed
    workers = Workers(sched_settings, tmp_path, _periods(3600))
    try:
        workers.start()
        expiry = runner.invoke(args=["lifecycle", "run-now", "expiry-scan", "--json",
                                     "--timeout", "60"])
        rescan = runner.invoke(args=["lifecycle", "run-now", "discovery-rescan", "--json",
                                     "--timeout", "60"])
    finally:
        workers.stop_all()
    assert expiry.exit_code == 0, expiry.output + workers.tails()
    body = json.loads(expiry.output)
    assert body["task"] == "expiry-scan" and body["status"] == "success"
    assert body["result"]["alerts_total"] >= 1 or _already_alerted(cli_app)
    assert rescan.exit_code == 0, rescan.output + workers.tails()
    body = json.loads(rescan.output)
    assert body["task"] == "discovery-rescan" and body["status"] == "success"
    assert set(body["result"]) == {"scan_id", "endpoints", "requeued"}
    with cli_app.app_context():
        db.session.remove()


def _already_alerted(app: Flask) -> bool:
    """The worker's own tick runs each task once at start; the alert may be its."""
    from app.models import TaskRun as Run

    with app.app_context():
        runs = db.session.scalars(select(Run).where(Run.task == "expiry-scan")).all()
        found = any((r.result or {}).get("alerts_total", 0) >= 1 for r in runs)
        db.session.remove()
        return found

"""One scheduler for periodic work (SPEC 10): every task runs once per period, whichever
of several workers gets there, and a period whose worker died is run again.

How: every worker runs a small tick (``app/jobs/scheduler_thread.py``) that, for each task
in ``TASKS``, enqueues the job ``run_task`` with the deterministic id
``task_<name>_<period start>_<queue>`` and ``unique=True`` (RQ refuses ':' in job ids, so not
``task:<name>:<period>``; docs/decisions.md). The job claims the period by inserting the
``task_runs`` row — unique on (task, period_start) — so even a job enqueued twice (its
first copy finished and left Redis before another worker ticked) runs the task once. A
``running`` row whose worker is gone (``jobs.queue.worker_is_alive``) is marked ``lost``
by the next tick and claimed again by a fresh job, within the same period.

Adding a task is one line in ``TASKS``: a name, the service function (no arguments; it
returns a JSON-friendly summary), the setting holding its period in seconds, and a
description. RQ 3's own ``rq.cron`` is not used: it enqueues pickled jobs with random ids,
which fits neither the JSON-only worker nor several workers (docs/decisions.md).
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.jobs.enqueue import enqueue
from app.jobs.queue import current_worker_name, discard_job, job_is_live, worker_is_alive
from app.models import TaskRun
from app.models.base import utcnow
from app.models.tasks import RUN_FAILED, RUN_LOST, RUN_RUNNING, RUN_SUCCESS
from app.services import discovery_scan, expiry, provisioning, revocation_publishing, sweeper
from app.services.errors import NotFound, QueueUnavailable

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sweep() -> dict[str, Any]:
    return sweeper.sweep().as_dict()


@dataclass(frozen=True)
class Task:
    name: str
    run: Callable[[], dict[str, Any]]
    period_setting: str          # the config key of its period, in seconds
    description: str
    job_timeout: int = 1800


#: Every periodic task; add one with one line.
TASKS: dict[str, Task] = {t.name: t for t in (
    Task("sweep", _sweep, "SWEEP_INTERVAL_SECONDS",
         "Re-enqueue orders, CAs and CA checks whose job was lost; expire unfetched keys."),
    Task("crl-refresh", revocation_publishing.refresh_crls, "CRL_REFRESH_SECONDS",
         "Sign a CRL for every CA without one, past half-life, or with newer revocations."),
    Task("ocsp-refresh", revocation_publishing.refresh_ocsp, "OCSP_REFRESH_SECONDS",
         "Pre-sign OCSP responses that are missing, past half-life, or out of date."),
    Task("expiry-scan", lambda: expiry.run_scan().as_dict(), "EXPIRY_SCAN_INTERVAL_SECONDS",
         "Warn owners, ops and webhooks of certificates nearing expiry or expired."),
    Task("discovery-rescan", discovery_scan.rescan_task, "DISCOVERY_RESCAN_SECONDS",
         "Re-scan the saved discovery endpoints (and re-queue scans Redis missed)."),
    Task("renewals", provisioning.renewals_task, "RENEWALS_INTERVAL_SECONDS",
         "Order what certificate profiles need (first or renewal); alert on deployments "
         "not confirmed in time."),
)}


def task(name: str) -> Task:
    found = TASKS.get(name)
    if found is None:
        raise NotFound(f"No task '{name}'; the tasks are {', '.join(TASKS)}.",
                       code="task.unknown")
    return found


def period_seconds(entry: Task) -> float:
    return max(float(current_app.config[entry.period_setting]), 1.0)


def period_start(entry: Task, now: datetime) -> datetime:
    """The start of the period ``now`` falls in: periods are aligned to the epoch, so
    every worker computes the same one."""
    period = period_seconds(entry)
    elapsed = (now - EPOCH).total_seconds()
    return EPOCH + timedelta(seconds=int(elapsed // period * period))


_UNSAFE_IN_JOB_ID = re.compile(r"[^A-Za-z0-9_-]")


def job_id(name: str, start: datetime, queue: str | None = None) -> str:
    """The one job id of task ``name``'s period starting at ``start`` on ``queue`` (the
    configured one by default).

    The queue's name is part of it: the id is otherwise the same for every installation
    (and every test session) whose workers share one Redis database, and a job left on
    another queue would make this queue's tick think the period taken. RQ refuses ':' in
    job ids, so the queue's name keeps letters, digits, '_' and '-' only."""
    safe_queue = _UNSAFE_IN_JOB_ID.sub("-", queue or current_app.config["RQ_QUEUE"])
    return f"task_{name}_{start.astimezone(UTC):%Y%m%dT%H%M%S%fZ}_{safe_queue}"


# ---- the tick (every worker) -------------------------------------------------------------

def tick(now: datetime | None = None) -> list[str]:
    """Enqueue every task whose current period has not run (or whose run was lost).
    Returns the job ids handed to the queue. Cheap: one row read per task."""
    now = now or utcnow()
    enqueued = []
    try:
        for entry in TASKS.values():
            start = period_start(entry, now)
            previous = start - timedelta(seconds=period_seconds(entry))
            # The period before is looked at for a lost run only (a worker killed just
            # before the boundary); a period nobody ran at all is not caught up.
            for when, only_lost in ((previous, True), (start, False)):
                ident = job_id(entry.name, when)
                if _period_taken(entry, when, ident, only_lost=only_lost):
                    continue
                if enqueue("run_task", ident, entry.name, when.isoformat(),
                           description=f"scheduled task {entry.name}",
                           job_timeout=entry.job_timeout):
                    enqueued.append(ident)
    finally:
        db.session.rollback()
    return enqueued


def _period_taken(entry: Task, start: datetime, ident: str, *, only_lost: bool = False
                  ) -> bool:
    """True when the period is done, or running on a live worker, or its job is waiting
    on the queue. A run whose worker died is marked ``lost`` here (conditionally: one
    tick wins) and its dead job forgotten, so the period is claimed again. With
    ``only_lost`` a period without any run counts as taken."""
    run = db.session.scalar(select(TaskRun).where(TaskRun.task == entry.name,
                                                  TaskRun.period_start == start))
    if run is None and only_lost:
        return True
    if run is not None and run.status in (RUN_SUCCESS, RUN_FAILED):
        return True
    if run is not None and run.status == RUN_RUNNING:
        if _runner_alive(run, entry):
            return True
        lost = db.session.execute(update(TaskRun).where(
            TaskRun.id == run.id, TaskRun.status == RUN_RUNNING,
            TaskRun.attempt == run.attempt).values(status=RUN_LOST)).rowcount
        db.session.commit()
        if lost:
            log.warning("scheduler: %s run for %s was lost with worker %s; running it again",
                        entry.name, start.isoformat(), run.runner)
        discard_job(ident)
        return False
    if job_is_live(ident):
        return True
    discard_job(ident)  # a finished copy or a dead worker's: a fresh one may be enqueued
    return False


def _runner_alive(run: TaskRun, entry: Task) -> bool:
    if run.runner:
        return worker_is_alive(run.runner)
    # Run outside a worker (a test, a shell): trust it until the job timeout has passed.
    return run.started_at > utcnow() - timedelta(seconds=entry.job_timeout)


# ---- the job (one worker) ----------------------------------------------------------------

def run_task(name: str, period_iso: str) -> str:
    """Run task ``name`` for the period starting at ``period_iso`` unless that period is
    already claimed. Never raises: a failing task is recorded as ``failed`` with its
    error (the next period tries again)."""
    entry = TASKS.get(name)
    if entry is None:
        log.error("scheduler: unknown task %r", name)
        return "unknown"
    start = datetime.fromisoformat(period_iso)
    runner = current_worker_name()
    run_id = _claim(name, start, runner)
    if run_id is None:
        return "skipped"
    result: dict[str, Any] | None = None
    error = None
    try:
        result = entry.run()
        status = RUN_SUCCESS
    except Exception as exc:  # recorded; the next period runs it again
        db.session.rollback()
        log.exception("scheduled task %s failed", name)
        status, error = RUN_FAILED, f"{exc.__class__.__name__}: {exc}"[:2000]
    db.session.execute(update(TaskRun).where(
        TaskRun.id == run_id, TaskRun.status == RUN_RUNNING).values(
        status=status, finished_at=utcnow(), result=result, error=error))
    db.session.commit()
    log.info("scheduler: ran %s for period %s: %s", name, start.isoformat(), status)
    return status


def _claim(name: str, start: datetime, runner: str | None) -> int | None:
    run = TaskRun(task=name, period_start=start, status=RUN_RUNNING, attempt=1,
                  runner=runner, started_at=utcnow())
    db.session.add(run)
    try:
        db.session.commit()
        return run.id
    except IntegrityError:
        db.session.rollback()
    existing = db.session.scalar(select(TaskRun).where(TaskRun.task == name,
                                                       TaskRun.period_start == start))
    if existing is None or existing.status != RUN_LOST:
        return None
    claimed = db.session.execute(update(TaskRun).where(
        TaskRun.id == existing.id, TaskRun.status == RUN_LOST,
        TaskRun.attempt == existing.attempt).values(
        status=RUN_RUNNING, attempt=existing.attempt + 1, runner=runner,
        started_at=utcnow(), finished_at=None, error=None)).rowcount
    db.session.commit()
    return existing.id if claimed else None


# ---- operators: run now, list ------------------------------------------------------------

def run_now(name: str, *, wait: bool = True, timeout: float = 600.0) -> TaskRun | None:
    """Enqueue task ``name`` at once (a period of its own, starting now) and, with
    ``wait``, wait for a worker to finish it. Returns the run (None when not waiting)."""
    entry = task(name)
    start = utcnow()
    ident = job_id(entry.name, start)
    if not enqueue("run_task", ident, entry.name, start.isoformat(),
                   description=f"task {entry.name} (run now)", job_timeout=entry.job_timeout):
        raise QueueUnavailable("The job queue cannot be reached; start Redis and try again.",
                               resource_id=ident)
    if not wait:
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        run = db.session.scalar(select(TaskRun).where(TaskRun.task == entry.name,
                                                      TaskRun.period_start == start))
        if run is not None and run.status in (RUN_SUCCESS, RUN_FAILED):
            return run
        time.sleep(0.2)
    raise QueueUnavailable(f"No worker finished '{entry.name}' within {timeout:.0f} s; is a "
                           "worker running?", resource_id=ident)


def run_json(run: TaskRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"task": run.task, "period_start": run.period_start.isoformat(),
            "status": run.status, "attempt": run.attempt, "runner": run.runner,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "result": run.result, "error": run.error}


def overview(now: datetime | None = None) -> list[dict[str, Any]]:
    """Each task with its period, its last run and outcome, and when the next period
    starts (``flask lifecycle list``)."""
    now = now or utcnow()
    rows = []
    for entry in TASKS.values():
        last = db.session.scalar(select(TaskRun).where(TaskRun.task == entry.name)
                                 .order_by(TaskRun.started_at.desc(), TaskRun.id.desc())
                                 .limit(1))
        period = period_seconds(entry)
        rows.append({"task": entry.name, "description": entry.description,
                     "period_seconds": period,
                     "next_period_start": (period_start(entry, now)
                                           + timedelta(seconds=period)).isoformat(),
                     "last_run": run_json(last)})
    return rows

"""The RQ worker class used by ``worker.py`` and by tests that run jobs for real."""
from __future__ import annotations

from typing import Any

from flask import Flask
from rq import SimpleWorker
from rq.job import Job
from rq.queue import Queue

from app.jobs.allowlist import SERIALIZER, AllowListedJob
from app.jobs.queue import get_queue, own_redis_connection


class AppWorker(SimpleWorker):
    """Runs each job in this process inside a fresh application context, so every job
    starts with a new database session (no stale identity map between jobs).

    A non-forking worker keeps the connection pool and is ~4x faster per job than the
    forking one; a crash still leaves the database as the source of truth. Jobs are JSON
    and only allow-listed functions run (``app.jobs.allowlist``)."""

    app: Flask

    def execute_job(self, job: Job, queue: Queue) -> Any:
        with self.app.app_context():
            return super().execute_job(job, queue)


def build_worker(app: Flask, name: str | None = None) -> AppWorker:
    with app.app_context():
        worker = AppWorker([get_queue()], connection=own_redis_connection(), name=name,
                           job_class=AllowListedJob, serializer=SERIALIZER)
    worker.app = app
    return worker

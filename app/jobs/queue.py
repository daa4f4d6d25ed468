"""Connections to Redis and the enqueue helper with deterministic job ids."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import DuplicateJobError

from app.jobs.allowlist import SERIALIZER, check_enqueueable

log = logging.getLogger(__name__)


def redis_connection() -> Redis:
    return Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=2,
                          socket_timeout=10)


def get_queue() -> Queue:
    return Queue(current_app.config["RQ_QUEUE"], connection=redis_connection(),
                 serializer=SERIALIZER)


def enqueue_once(func: Callable[..., Any], job_id: str, *args: Any, description: str,
                 job_timeout: int = 600, **kwargs: Any) -> bool:
    """Hand a job to the workers unless a job with this id is already queued or running.

    ``description`` is set explicitly because RQ logs it, and its default would include the
    arguments (which may carry sealed secrets). Returns False when Redis cannot be reached:
    the database row stays as it is and can be re-enqueued later. ``func`` must be in the
    worker's allow-list (``app.jobs.allowlist``), and every argument JSON-friendly."""
    check_enqueueable(func)
    try:
        get_queue().enqueue(func, *args, job_id=job_id, unique=True, description=description,
                            job_timeout=job_timeout, result_ttl=0, failure_ttl=86400,
                            **kwargs)
    except DuplicateJobError:
        log.info("job %s is already queued", job_id)
    except RedisError as exc:
        log.warning("could not enqueue %s: %s", job_id, exc.__class__.__name__)
        return False
    return True


LIVE_JOB_STATES = {"queued", "scheduled", "deferred", "started"}


def job_state(job_id: str) -> str | None:
    """The RQ status of a job, or None when Redis holds no such job (or is unreachable)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(job_id, connection=redis_connection(), serializer=SERIALIZER)
        return job.get_status(refresh=False)
    except NoSuchJobError:
        return None
    except RedisError:
        return "unreachable"


STALE_HEARTBEAT_SECONDS = 90  # RQ beats every 30 s while a job runs


def started_job_is_alive(job_id: str) -> bool:
    """For a job RQ lists as started: is a live worker still on it? A worker killed
    between taking the job and doing any work leaves it "started" until RQ's own clean-up
    (minutes later); a registered worker and a recent heartbeat tell the truth sooner."""
    from datetime import UTC, datetime

    from rq.exceptions import NoSuchJobError
    from rq.job import Job
    from rq.worker import Worker

    connection = redis_connection()
    try:
        job = Job.fetch(job_id, connection=connection, serializer=SERIALIZER)
    except NoSuchJobError:
        return False
    except RedisError:
        return True  # cannot tell: leave it alone
    if job.get_status(refresh=False) != "started":
        return job.get_status(refresh=False) in LIVE_JOB_STATES
    beat = job.last_heartbeat
    if beat is None or (datetime.now(UTC) - beat.replace(tzinfo=UTC)).total_seconds() \
            > STALE_HEARTBEAT_SECONDS:
        return False
    if not job.worker_name:
        return True
    return Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name,
                              connection=connection) is not None


def discard_job(job_id: str) -> None:
    """Forget a job the database says is lost (e.g. its worker was killed), so a fresh job
    with the same deterministic id can be enqueued."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    with contextlib.suppress(NoSuchJobError, RedisError):
        Job.fetch(job_id, connection=redis_connection(), serializer=SERIALIZER).delete()

"""How services hand work to the workers: by job *name*, through this module only.

It imports no service and no job function (RQ resolves the dotted path in the worker), so
services never import ``app.jobs.<module>`` and there is no import cycle. The names are
those of ``JOBS`` in ``app/jobs/allowlist.py`` — the one list of job functions, which the
worker's allow-list is built from; any other name is refused (``JobRefused``).

Job ids are deterministic (derived from the row a job acts on): enqueueing an id that is
already queued, scheduled or running does nothing.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError
from rq import Callback, Retry
from rq.exceptions import DuplicateJobError

from app.jobs.allowlist import CALLBACKS, JOBS, callback_path, job_path
from app.jobs.queue import get_queue

log = logging.getLogger(__name__)

__all__ = ["CALLBACKS", "JOBS", "enqueue"]


def enqueue(name: str, job_id: str, *args: str | int, description: str,
            delay_seconds: float = 0, job_timeout: int = 600,
            retry_intervals: list[int] | None = None, on_failure: str | None = None) -> bool:
    """Queue job ``name`` (a key of ``JOBS``) with JSON-friendly ``args``; a name off the
    list raises ``JobRefused`` before anything reaches Redis.

    ``delay_seconds`` > 0 schedules it (the worker runs RQ's scheduler). ``description``
    is set explicitly because RQ logs it and its default would include the arguments
    (which may carry sealed secrets). Returns False when Redis cannot be reached: the
    database row stays as it is and the sweeper (or ``requeue``) picks it up later."""
    path = job_path(name)
    options: dict[str, Any] = {
        "job_id": job_id, "unique": True, "description": description,
        "job_timeout": job_timeout, "result_ttl": 0, "failure_ttl": 86400}
    if retry_intervals:
        options["retry"] = Retry(max=len(retry_intervals), interval=retry_intervals)
    if on_failure:
        options["on_failure"] = Callback(callback_path(on_failure))
    try:
        queue = get_queue()
        if delay_seconds > 0:
            queue.enqueue_in(timedelta(seconds=delay_seconds), path, *args, **options)
        else:
            queue.enqueue(path, *args, **options)
    except DuplicateJobError:
        log.info("job %s is already queued", job_id)
    except RedisError as exc:
        log.warning("could not enqueue %s: %s", job_id, exc.__class__.__name__)
        return False
    return True

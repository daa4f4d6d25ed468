"""Connections to Redis and reading job states (enqueueing one job is
``app/jobs/enqueue.py``; many fresh jobs in one round trip is :func:`enqueue_many`)."""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping, Sequence

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry

from app.jobs.allowlist import SERIALIZER, callback_path, job_path

log = logging.getLogger(__name__)


_clients: dict[tuple[str, float, float], Redis] = {}
_clients_lock = threading.Lock()


def pooled_redis(url: str, *, connect_timeout: float = 2.0,
                 read_timeout: float = 10.0) -> Redis:
    """This process's client for ``url`` with these timeouts: one connection pool per
    (URL, timeouts) and process, shared by every request and job (a client per call
    opened a TCP connection for each enqueue, status read or OCSP answer). redis-py's
    pool is thread-safe, reconnects after a Redis restart, and resets itself in a forked
    child."""
    slot = (url, connect_timeout, read_timeout)
    client = _clients.get(slot)
    if client is None:
        with _clients_lock:
            client = _clients.get(slot)
            if client is None:
                client = _clients[slot] = Redis.from_url(
                    url, socket_connect_timeout=connect_timeout, socket_timeout=read_timeout)
    return client


def redis_connection() -> Redis:
    """The shared client for the configured Redis (see :func:`pooled_redis`)."""
    return pooled_redis(current_app.config["REDIS_URL"])


def own_redis_connection() -> Redis:
    """A client with a pool of its own: the worker's, whose blocking dequeue RQ gives a
    socket timeout of minutes (it rewrites its pool's settings), which the shared
    client's 10 s must not become."""
    return Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=2,
                          socket_timeout=10)


def get_queue() -> Queue:
    return Queue(current_app.config["RQ_QUEUE"], connection=redis_connection(),
                 serializer=SERIALIZER)


def enqueue_many(name: str, jobs: Sequence[tuple[str, tuple[str | int, ...], str]], *,
                 job_timeout: int = 600, retry_intervals: list[int] | None = None,
                 on_failure: str | None = None,
                 aliases: Mapping[str, str] | None = None) -> bool:
    """Queue many jobs of ``name`` (a key of ``JOBS``; another name raises ``JobRefused``
    before anything reaches Redis), each ``(job_id, args, description)``, with RQ's
    ``Queue.enqueue_many`` over one Redis pipeline: one round trip instead of one per job.

    The options are those ``app.jobs.enqueue.enqueue`` gives a job (no result kept,
    failures kept a day, the retries and the failure callback) except uniqueness, which
    RQ's batch call does not check: use it for ids nobody can have queued yet, such as
    jobs of rows made in the transaction just committed. Returns False when Redis cannot
    be reached (the rows stay as they are; the sweeper picks them up later).

    ``aliases``: other job ids that stand for one of these jobs (an order's issuance job
    id → the batch job that issues it), kept for a day in the same round trip and read by
    :func:`job_alias`."""
    if not jobs:
        return True
    path = job_path(name)
    retry = Retry(max=len(retry_intervals), interval=retry_intervals) \
        if retry_intervals else None
    callback = Callback(callback_path(on_failure)) if on_failure else None
    data = [Queue.prepare_data(path, args=args, job_id=job_id, description=description,
                               timeout=job_timeout, result_ttl=0, failure_ttl=86400,
                               retry=retry, on_failure=callback)
            for job_id, args, description in jobs]
    try:
        queue = get_queue()
        with queue.connection.pipeline() as pipe:
            queue.enqueue_many(data, pipeline=pipe)
            for alias, job_id in (aliases or {}).items():
                pipe.set(_alias_key(alias), job_id, ex=ALIAS_SECONDS)
            pipe.execute()
    except RedisError as exc:
        log.warning("could not enqueue %d %s jobs: %s", len(data), name,
                    exc.__class__.__name__)
        return False
    return True


ALIAS_SECONDS = 86400


def _alias_key(alias: str) -> str:
    return f"{current_app.config['RQ_QUEUE']}:alias:{alias}"


def job_alias(alias: str) -> str | None:
    """The job that stands for job id ``alias`` (see :func:`enqueue_many`), if any."""
    try:
        value = redis_connection().get(_alias_key(alias))
    except RedisError:
        return None
    return value.decode() if isinstance(value, bytes) else value


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


def current_worker_name() -> str | None:
    """The name of the RQ worker running the current job (None outside a job)."""
    from rq import get_current_job

    job = get_current_job()
    return job.worker_name if job is not None else None


def worker_is_alive(name: str) -> bool:
    """Is the RQ worker ``name`` still there? A worker killed with SIGKILL stays
    registered until its key expires (minutes), so on this host its process id is asked
    too; on another host a recent heartbeat decides."""
    import os
    import socket
    from datetime import UTC, datetime

    from rq.worker import Worker

    try:
        worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name,
                                    connection=redis_connection())
    except RedisError:
        return True  # cannot tell: leave it alone
    if worker is None:
        return False
    if worker.hostname == socket.gethostname() and worker.pid:
        try:
            os.kill(worker.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    beat = worker.last_heartbeat
    return beat is not None and (datetime.now(UTC) - beat.replace(tzinfo=UTC)
                                 ).total_seconds() <= STALE_HEARTBEAT_SECONDS


def started_job_is_alive(job_id: str) -> bool:
    """For a job RQ lists as started: is a live worker still on it? A worker killed
    between taking the job and doing any work leaves it "started" until RQ's own clean-up
    (minutes later); a registered worker and a recent heartbeat tell the truth sooner."""
    from datetime import UTC, datetime

    from rq.exceptions import NoSuchJobError
    from rq.job import Job

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
    return worker_is_alive(job.worker_name)


def job_is_live(job_id: str) -> bool:
    """A job queued, scheduled or running on a live worker (True when Redis cannot be
    asked: then nothing is re-enqueued)."""
    state = job_state(job_id)
    if state == "unreachable":
        return True
    if state == "started":
        return started_job_is_alive(job_id)
    return state in LIVE_JOB_STATES


def discard_job(job_id: str) -> None:
    """Forget a job the database says is lost (e.g. its worker was killed), so a fresh job
    with the same deterministic id can be enqueued."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    with contextlib.suppress(NoSuchJobError, RedisError):
        Job.fetch(job_id, connection=redis_connection(), serializer=SERIALIZER).delete()

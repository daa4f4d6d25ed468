"""How long an ACME client should wait before polling a ``processing`` order again
(RFC 8555 §7.4: the server sends Retry-After, clients poll after it).

Every poll is a JWS-verified request (a nonce, three or four statements), so when the
workers are behind, a fixed 1 s makes each waiting client poll several times for nothing
and the polls take the CPU the workers need. The wait is the queue's backlog over what the
registered workers drain in a second: 1 s while they keep up (the usual case, and no later
than before), longer only under a backlog, capped so that no client waits long after its
certificate is ready."""
from __future__ import annotations

import math

from redis.exceptions import RedisError
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from app.jobs.queue import get_queue

MIN_SECONDS = 1  # 0 would make clients (certbot's acme library) poll at once, in a loop
MAX_SECONDS = 10
#: Local PKI issuances one worker finishes per second on a busy machine (bench/acme.py on
#: 2 cores: ~5 per worker with the web, the client and PostgreSQL on the same cores);
#: rather optimistic, so that the wait errs on the short side.
ISSUANCES_PER_WORKER_SECOND = 10


def retry_after_seconds() -> int:
    """Seconds for the Retry-After of a processing order (one Redis round trip: the
    queue's length and its workers; 1 s when Redis does not answer)."""
    queue = get_queue()
    try:
        with queue.connection.pipeline(transaction=False) as pipe:
            pipe.llen(queue.key)
            pipe.scard(WORKERS_BY_QUEUE_KEY % queue.name)
            backlog, workers = pipe.execute()
    except RedisError:
        return MIN_SECONDS
    return wait_for(int(backlog), int(workers))


def wait_for(backlog: int, workers: int) -> int:
    """The wait for ``backlog`` queued jobs and ``workers`` registered workers (none
    registered counts as one: the order waits for whichever worker starts next)."""
    per_second = max(1, workers) * ISSUANCES_PER_WORKER_SECOND
    return max(MIN_SECONDS, min(MAX_SECONDS, math.ceil(backlog / per_second)))

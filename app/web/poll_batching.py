"""Concurrent status polls of one gevent web worker share one database read.

Under ``gunicorn --worker-class gevent_pywsgi`` a worker holds hundreds of open tabs'
connections, and the status fast path reads each poll's session and order fingerprint
(``status_fragments.PollReader``). One statement per poll made PostgreSQL's per-statement
work and the pool's checkout a third of a poll's cost. Here a poll that arrives while a
read is in flight waits for the next one, which answers every poll gathered meanwhile
with one statement (``PollReader.read_many``): under load the reads grow, not their
number; a lone poll still costs one round trip.

Only gevent workers batch (``batching``): a sync or threaded worker serves one poll at a
time per thread, so there is nothing to gather. A failed read fails every poll of its
batch, and each falls back to Flask, as a single failed read does."""
from __future__ import annotations

import uuid
from datetime import datetime

import gevent
from gevent import monkey
from gevent.event import AsyncResult

from app.models.base import utcnow
from app.services.sessions import Limits
from app.services.status_fragments import Poll, PollReader

#: At most this many polls in one statement (a larger gathering takes several).
MAX_BATCH = 500


class BatchedPollReader:
    """``PollReader.read`` for greenlets: gathers the polls that arrive while a read is in
    flight and answers them with one ``read_many``. One reading greenlet at a time."""

    def __init__(self, reader: PollReader, max_batch: int = MAX_BATCH) -> None:
        self.reader = reader
        self.errors = reader.errors
        self.max_batch = max_batch
        self._waiting: list[tuple[str, uuid.UUID, AsyncResult]] = []
        self._reading = False

    def read(self, token_hash: str, order_id: uuid.UUID, now: datetime,
             limits: Limits) -> Poll | None:
        """As ``PollReader.read``; ``now`` is taken when the batch is read."""
        answer = AsyncResult()
        self._waiting.append((token_hash, order_id, answer))
        if not self._reading:
            self._reading = True
            gevent.spawn(self._read_waiting, limits)
        return answer.get()  # raises what the read raised

    def _read_waiting(self, limits: Limits) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:self.max_batch]
                del self._waiting[:self.max_batch]
                try:
                    polls = self.reader.read_many([(h, o) for h, o, _ in batch], utcnow(),
                                                  limits)
                except Exception as error:  # each poll of the batch re-raises it
                    for _, _, answer in batch:
                        answer.set_exception(error)
                else:
                    for (_, _, answer), poll in zip(batch, polls, strict=True):
                        answer.set(poll)
        finally:
            self._reading = False


def batching(reader: PollReader) -> PollReader | BatchedPollReader:
    """The reader the fast path should use in this process: batched under gevent (its
    sockets patched, as gunicorn's gevent workers do before loading the app)."""
    return BatchedPollReader(reader) if monkey.is_module_patched("socket") else reader

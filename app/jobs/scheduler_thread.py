"""The scheduler's tick, run by every worker process (``worker.py``) every
SCHEDULER_TICK_SECONDS: it only enqueues (``services/scheduler.tick``); the periodic
work itself runs as ordinary jobs, once per period whichever worker ticks first."""
from __future__ import annotations

import logging
import threading

from flask import Flask

from app.services.scheduler import tick

log = logging.getLogger(__name__)


class SchedulerThread(threading.Thread):
    def __init__(self, app: Flask) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.app = app
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = float(self.app.config["SCHEDULER_TICK_SECONDS"])
        while not self.stopped.is_set():
            try:
                with self.app.app_context():
                    enqueued = tick()
                if enqueued:
                    log.info("scheduler: enqueued %s", ", ".join(enqueued))
            except Exception:  # keep ticking: one bad tick must not end periodic work
                log.exception("scheduler tick failed")
            self.stopped.wait(interval)

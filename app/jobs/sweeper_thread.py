"""Runs the sweeper inside the worker process every SWEEP_INTERVAL_SECONDS."""
from __future__ import annotations

import logging
import threading

from flask import Flask

from app.services.sweeper import sweep

log = logging.getLogger(__name__)


class SweeperThread(threading.Thread):
    def __init__(self, app: Flask) -> None:
        super().__init__(name="sweeper", daemon=True)
        self.app = app
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = self.app.config["SWEEP_INTERVAL_SECONDS"]
        while not self.stopped.is_set():
            try:
                with self.app.app_context():
                    report = sweep()
                if report.requeued or report.recovered or report.failed:
                    log.info("sweeper: %s", report.as_dict())
            except Exception:  # keep sweeping: one bad pass must not end recovery for good
                log.exception("sweeper pass failed")
            self.stopped.wait(interval)

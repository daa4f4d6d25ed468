"""What the worker agrees to run, and how jobs travel through Redis.

The worker holds the key-encryption key, and RQ would import and call whatever function a
queued job names. So every queue, job fetch and worker here uses RQ's ``JSONSerializer``
(never pickle: a payload is data, never code), and the worker's job class refuses any job
function or callback not listed below (the job fails with ``JobRefused`` and an error is
logged; nothing is imported).

``JOBS`` and ``CALLBACKS`` are the one list of job functions: services enqueue by their
short names (``app.jobs.enqueue``, which refuses any other name), and the worker runs only
their dotted paths. To add a job: put a thin function in ``app/jobs/`` (ids and sealed
strings in, one service call) and add it here under a short name.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rq.exceptions import DeserializationError
from rq.job import Job
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)

SERIALIZER = JSONSerializer

#: Every job function the platform runs, by the short name services enqueue it under.
JOBS: dict[str, str] = {
    "issue_order": "app.jobs.orders.issue_order",
    "issue_orders": "app.jobs.orders.issue_orders",
    "check_order": "app.jobs.orders.check_order",
    "test_provider": "app.jobs.providers.test_provider_connection",
    "generate_ca": "app.jobs.pki.generate_ca",
    "export_ca_key": "app.jobs.pki.prepare_key_export",
    "export_certificate_key": "app.jobs.exports.prepare_certificate_export",
    "discovery_scan": "app.jobs.discovery.run_discovery_scan",
    "send_email": "app.jobs.notifications.send_email",
    "deliver_webhook": "app.jobs.notifications.deliver_webhook",
    "run_task": "app.jobs.tasks.run_task",
    "issue_crl": "app.jobs.revocation.issue_crl",
    "sign_certificate_ocsp": "app.jobs.revocation.sign_certificate_ocsp",
    "sign_intermediate_ocsp": "app.jobs.revocation.sign_intermediate_ocsp",
    "revoke_at_provider": "app.jobs.revocation.revoke_at_provider",
}
#: Every job callback (RQ calls it in the worker after a job's attempt).
CALLBACKS: dict[str, str] = {
    "issue_order_failed": "app.jobs.orders.on_issue_failure",
    "revoke_at_provider_failed": "app.jobs.revocation.on_revoke_failure",
}
ALLOWED_JOBS: frozenset[str] = frozenset(JOBS.values())
ALLOWED_CALLBACKS: frozenset[str] = frozenset(CALLBACKS.values())


class JobRefused(Exception):
    """A queued job names a function the worker does not run."""


def job_path(name: str) -> str:
    """The dotted path of job ``name``; ``JobRefused`` for a name off the list."""
    path = JOBS.get(name)
    if path is None:
        raise JobRefused(f"{name!r} is not in app.jobs.allowlist.JOBS (ALLOWED_JOBS); "
                         "the worker would refuse it.")
    return path


def callback_path(name: str) -> str:
    """The dotted path of callback ``name``; ``JobRefused`` for a name off the list."""
    path = CALLBACKS.get(name)
    if path is None:
        raise JobRefused(f"{name!r} is not in app.jobs.allowlist.CALLBACKS "
                         "(ALLOWED_CALLBACKS); the worker would refuse it.")
    return path


class AllowListedJob(Job):
    """An RQ job that resolves only allow-listed functions and callbacks."""

    def _deserialize_data(self) -> None:
        try:
            super()._deserialize_data()
        except DeserializationError:
            log.error("refused job %s from queue %s: its payload is not JSON", self.id,
                      self.origin)
            raise

    @property
    def func(self) -> Callable[..., Any]:
        name = self.func_name
        if self.instance is not None or name not in ALLOWED_JOBS:
            log.error("refused job %s from queue %s: %r is not an allowed job function",
                      self.id, self.origin, name)
            raise JobRefused(f"{name!r} is not an allowed job function.")
        return super().func

    def _allowed_callback(self, kind: str, name: str | None) -> bool:
        if not name or name in ALLOWED_CALLBACKS:
            return True
        log.error("refused the %s callback %r of job %s: not an allowed callback",
                  kind, name, self.id)
        return False

    @property
    def success_callback(self) -> Any:
        if not self._allowed_callback("success", self._success_callback_name):
            return None
        return super().success_callback

    @property
    def failure_callback(self) -> Any:
        if not self._allowed_callback("failure", self._failure_callback_name):
            return None
        return super().failure_callback

    @property
    def stopped_callback(self) -> Any:
        if not self._allowed_callback("stopped", self._stopped_callback_name):
            return None
        return super().stopped_callback

"""Errors a use case raises for an ordinary "no"; views turn them into messages or JSON."""
from __future__ import annotations


class ServiceError(Exception):
    """Root of the errors a use case raises for an ordinary "no". ``message`` is safe to
    show; ``code`` is stable for scripts; ``status`` is the HTTP status it maps to (one
    handler in ``app/web/errors.py`` renders it as a page, an htmx fragment or JSON);
    ``retry_after`` (seconds) is set when trying again later may work."""

    status = 400
    retry_after: int | None = None

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        if retry_after is not None:
            self.retry_after = retry_after


class ValidationFailed(ServiceError):
    status = 422


class Conflict(ServiceError):
    status = 409


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    """The caller may see the object but not do this to it."""

    status = 403


class QueueUnavailable(ServiceError):
    """The work was recorded in the database but could not be handed to a worker yet; it
    is picked up when a worker starts or on ``requeue``. ``resource_id`` names the row."""

    status = 503

    def __init__(self, message: str, *, resource_id: str) -> None:
        super().__init__(message, code="queue.unavailable")
        self.resource_id = resource_id

"""Route guards. Every admin view declares the permission it needs; objects are fetched
through helpers that 404 when the caller may not see them."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

from app.domain.roles import Permission

F = TypeVar("F", bound=Callable[..., Any])


def require(permission: Permission) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.can(permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator

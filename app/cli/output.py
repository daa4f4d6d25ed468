"""Shared output and error conventions for the CLI commands."""
from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from app.extensions import db
from app.services.errors import ServiceError

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def emit(as_json: bool, payload: Any, human: str) -> None:
    click.echo(json.dumps(payload, indent=2, default=str) if as_json else human)


def fail(message: str, code: str, as_json: bool) -> None:
    db.session.rollback()
    if as_json:
        click.echo(json.dumps({"error": {"code": code, "message": message}}), err=True)
    else:
        click.echo(f"Error: {message}", err=True)
    raise SystemExit(2)


def service_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a ServiceError into a clear message and exit code 2."""

    @wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ServiceError as exc:
            fail(exc.message, exc.code, kwargs.get("as_json", False))

    return wrapped

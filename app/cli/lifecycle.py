"""``flask lifecycle …``: the scheduler's periodic tasks (services/scheduler.py)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.output import emit, fail, json_option, service_errors
from app.services import scheduler

group = click.Group("lifecycle", help="Periodic tasks: list them, run one now.")


@group.command("list")
@json_option
@with_appcontext
def list_tasks(as_json: bool) -> None:
    """Each task with its period and its last run's outcome."""
    rows = scheduler.overview()
    lines = []
    for row in rows:
        last = row["last_run"]
        said = (f"last run {last['started_at']} {last['status']}" if last else "never run")
        lines.append(f"{row['task']:<14} every {row['period_seconds']:g} s; {said}")
    emit(as_json, rows, "\n".join(lines))


@group.command("run-now")
@click.argument("name")
@click.option("--timeout", type=float, default=600.0, show_default=True,
              help="Seconds to wait for a worker to finish it.")
@json_option
@with_appcontext
@service_errors
def run_now(name: str, timeout: float, as_json: bool) -> None:
    """Enqueue task NAME now and wait for a worker to run it (exit 2 if it failed)."""
    run = scheduler.run_now(name, timeout=timeout)
    body = scheduler.run_json(run)
    assert body is not None
    emit(as_json, body, f"{name}: {body['status']} {body['result'] or body['error'] or ''}")
    if body["status"] != "success":
        fail(f"Task '{name}' failed: {body['error']}", "task.failed", as_json)

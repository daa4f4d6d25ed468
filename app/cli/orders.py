from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.output import emit, json_option
from app.services.sweeper import sweep as run_sweep

group = click.Group("orders", help="Orders: recovery of lost jobs.")


@group.command("sweep")
@click.option("--pending-grace", type=float, default=None,
              help="Seconds a pending order may wait for its job (default: config).")
@click.option("--processing-timeout", type=float, default=None,
              help="Seconds after which a processing order's worker counts as lost.")
@json_option
@with_appcontext
def sweep(pending_grace: float | None, processing_timeout: float | None, as_json: bool) -> None:
    """Re-enqueue orders whose job was lost; fail those that lost their worker too often."""
    report = run_sweep(pending_grace=pending_grace, processing_timeout=processing_timeout)
    emit(as_json, report.as_dict(),
         f"Re-enqueued {len(report.requeued)}, recovered {len(report.recovered)}, "
         f"failed {len(report.failed)} orders; re-enqueued {report.cas_requeued} CAs.")

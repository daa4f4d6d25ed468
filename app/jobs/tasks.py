"""The scheduled-task job: thin (see ``services/scheduler``)."""
from __future__ import annotations

from app.services import scheduler


def run_task(name: str, period_start: str) -> str:
    """Run one scheduled task for one period, unless that period is already claimed."""
    return scheduler.run_task(name, period_start)

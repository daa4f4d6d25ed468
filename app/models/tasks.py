from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

RUN_RUNNING = "running"
RUN_SUCCESS = "success"
RUN_FAILED = "failed"
RUN_LOST = "lost"          # its worker died mid-run; the period is claimed again


class TaskRun(db.Model):
    """One run of a scheduled task for one period (``services/scheduler.py``). The unique
    (task, period_start) is what makes "once per period" true across workers."""

    __tablename__ = "task_runs"
    __table_args__ = (UniqueConstraint("task", "period_start", name="uq_task_runs_task_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=RUN_RUNNING)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    runner: Mapped[str | None] = mapped_column(String(200), nullable=True)   # RQ worker name
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

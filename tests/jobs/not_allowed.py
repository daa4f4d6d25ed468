"""Functions a test queues straight into Redis to prove the worker does not run them: each
call is recorded here (the test worker runs jobs in this process)."""
from __future__ import annotations

from typing import Any

CALLS: list[tuple[str, tuple[Any, ...]]] = []


def touch(*args: Any) -> str:
    CALLS.append(("touch", args))
    return "ran"


def callback(*args: Any) -> None:
    CALLS.append(("callback", args))

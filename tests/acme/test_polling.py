"""The Retry-After of a processing order follows the workers' backlog."""
from __future__ import annotations

from app.services.acme_polling import MAX_SECONDS, wait_for


def test_one_second_while_the_workers_keep_up() -> None:
    assert wait_for(0, 2) == 1
    assert wait_for(1, 0) == 1  # no worker registered yet: the next one to start
    assert wait_for(20, 2) == 1


def test_longer_under_a_backlog_and_capped() -> None:
    assert wait_for(21, 2) == 2
    assert wait_for(100, 2) == 5
    assert wait_for(100, 10) == 1
    assert wait_for(1_000_000, 2) == MAX_SECONDS

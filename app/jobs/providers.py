"""The provider jobs: thin (an id in, one service call)."""
from __future__ import annotations

from app.services.provider_runtime import run_connection_test


def test_provider_connection(provider_id: str) -> str:
    """Run a provider's connection test in the worker, reporting its steps on the row."""
    return run_connection_test(provider_id)

"""PKI_BASE_URL: the worker refuses to start in production without it (or with an https
URL), and the start command sets it to its own URL."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import ConfigurationError
from app.services.pki_urls import check_setting

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("value", ["", "https://pki.example.com", "ftp://pki.example.com",
                                   "http://", "http://pki.example.com/?x=1"])
def test_production_refuses_a_missing_or_unusable_url(value: str) -> None:
    with pytest.raises(ConfigurationError, match="PKI_BASE_URL"):
        check_setting({"APP_ENV": "production", "PKI_BASE_URL": value})


def test_a_plain_http_url_is_accepted_and_development_may_go_without() -> None:
    check_setting({"APP_ENV": "production", "PKI_BASE_URL": "http://pki.example.com"})
    check_setting({"APP_ENV": "development", "PKI_BASE_URL": ""})
    with pytest.raises(ConfigurationError):   # a wrong one is wrong everywhere
        check_setting({"APP_ENV": "development", "PKI_BASE_URL": "https://x.example"})


def test_the_production_worker_exits_without_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PKI_BASE_URL"}
    env.update(APP_ENV="production", SECRET_KEY="s" * 40, INSTANCE_PATH=str(tmp_path),
               DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    result = subprocess.run([sys.executable, "worker.py"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "refusing to start" in result.stderr and "PKI_BASE_URL" in result.stderr


def test_the_start_command_sets_it_to_its_own_url(monkeypatch) -> None:
    from scripts import start_platform

    monkeypatch.delenv("PKI_BASE_URL", raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/1")
    settings = start_platform.resolve_settings(start_platform.parse_args(["--port", "5123"]))
    assert settings.env["PKI_BASE_URL"] == "http://127.0.0.1:5123"
    assert settings.worker_env["PKI_BASE_URL"] == "http://127.0.0.1:5123"
    monkeypatch.setenv("PKI_BASE_URL", "http://pki.corp.example")
    settings = start_platform.resolve_settings(start_platform.parse_args([]))
    assert settings.worker_env["PKI_BASE_URL"] == "http://pki.corp.example"

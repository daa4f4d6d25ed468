"""The key-encryption key never reaches the web process: ``wsgi.py`` refuses to start in
production with KEY_ENCRYPTION_KEYS in its environment (plainly imported, and as gunicorn
loads it), and the development key lives in the worker's own folder (0700)."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.pki.key_encryption import KeyEncryptionKeyring

ROOT = Path(__file__).resolve().parent.parent


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("KEY_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL")}
    return {**env, "APP_ENV": "production", "SECRET_KEY": "s" * 48,
            "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db'}",
            **extra}


def test_wsgi_refuses_to_start_in_production_with_the_kek(tmp_path) -> None:
    env = _production_env(tmp_path, KEY_ENCRYPTION_KEYS=KeyEncryptionKeyring.generate_spec())
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "refusing to start" in result.stderr
    assert "KEY_ENCRYPTION_KEYS is set in the web server's environment" in result.stderr
    assert "Traceback" not in result.stderr


def test_gunicorn_stops_instead_of_respawning_workers(tmp_path) -> None:
    env = _production_env(tmp_path, KEY_ENCRYPTION_KEYS=KeyEncryptionKeyring.generate_spec())
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--no-control-socket",
         "wsgi:app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        check=False)
    assert result.returncode != 0
    assert "KEY_ENCRYPTION_KEYS is set in the web server's environment" in result.stderr
    assert result.stderr.count("refusing to start") == 1  # one worker tried, then the end


def test_wsgi_starts_in_production_without_the_kek(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-c",
         "import gc, wsgi; print(wsgi.app.name); print(gc.get_freeze_count())"],
        cwd=ROOT, env=_production_env(tmp_path), capture_output=True, text=True, timeout=60,
        check=False)
    assert result.returncode == 0, result.stderr
    name, frozen = result.stdout.split()
    assert name == "app"
    # The app's start-up objects were frozen out of the collector's walks (app.gc_tuning).
    assert int(frozen) > 10_000


def test_the_development_kek_is_kept_in_the_worker_folder(app, monkeypatch, tmp_path) -> None:
    from app.services.keyring import load_keyring

    monkeypatch.delenv("KEY_ENCRYPTION_KEYS", raising=False)
    monkeypatch.setitem(app.config, "KEY_ENCRYPTION_KEYS", None)
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    legacy = tmp_path / "key-encryption-keys"
    spec = KeyEncryptionKeyring.generate_spec("old")
    legacy.write_text(spec + "\n")
    with app.app_context():
        keyring = load_keyring()
    assert keyring.encrypt(b"x", b"ad")  # the moved key works
    folder = tmp_path / "worker"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert (folder / "key-encryption-keys").read_text().strip() == spec
    assert not legacy.exists()


@pytest.mark.parametrize("given", [None, 0o755])
def test_a_fresh_development_kek_is_private(app, monkeypatch, tmp_path, given) -> None:
    from app.services.keyring import load_keyring

    monkeypatch.delenv("KEY_ENCRYPTION_KEYS", raising=False)
    monkeypatch.setitem(app.config, "KEY_ENCRYPTION_KEYS", None)
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    if given is not None:
        (tmp_path / "worker").mkdir(mode=given)
    with app.app_context():
        load_keyring()
    key_file = tmp_path / "worker" / "key-encryption-keys"
    assert stat.S_IMODE((tmp_path / "worker").stat().st_mode) == 0o700
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

"""The reference courier client, run as a subprocess against the live app and a real
worker: a certificate for a locally made key, and one for a platform-made key that comes
back as a JWE only the courier can open. Both verify with `openssl verify`."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from flask import Flask

from tests.api.conftest import make_courier
from tests.builders import add_domain
from tests.e2e.rq_worker import WorkerProcess
from tests.e2e.test_wizard_flow import active_local_pki

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, base_url: str, courier, *, local: bool) -> Path:
    out = tmp_path / ("local" if local else "platform")
    config = {
        "base_url": base_url, "uuid": courier.id, "client_id": courier.client_id,
        "client_secret": courier.secret,
        "certificate": {"common_name": f"{out.name}.example.com",
                        "sans": ["api.example.com"], "algorithm": "ec-256",
                        "validity_days": 30},
        "generate_keys_locally": local,
        "output": {"certificate": str(out / "cert.pem"), "chain": str(out / "chain.pem"),
                   "fullchain": str(out / "fullchain.pem"), "key": str(out / "key.pem")},
        "poll_interval": 0.2, "timeout": 60,
    }
    if not local:
        key_file = tmp_path / "jwe-key.pem"
        key_file.write_bytes(courier.private_key_pem)
        config["encryption_private_key"] = str(key_file)
    path = tmp_path / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run(config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COURIER_CLIENT_SECRET"}
    return subprocess.run([sys.executable, "-m", "courier", "--config", str(config)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def _root_pem(app: Flask, tmp_path: Path) -> Path:
    from tests.api.conftest import root_pem

    path = tmp_path / "root.pem"
    path.write_text(root_pem(app))
    return path


@pytest.mark.parametrize("local", [True, False], ids=["local key + CSR", "platform key (JWE)"])
def test_reference_client_gets_a_verifiable_certificate(
        app: Flask, live_server: str, worker_process: WorkerProcess, tmp_path: Path,
        local: bool) -> None:
    add_domain(app, "example.com")
    active_local_pki(app, worker_process)
    courier = make_courier(app, "reference-client", key="x25519")
    result = _run(_config(tmp_path, live_server, courier, local=local))
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / ("local" if local else "platform")
    assert stat.S_IMODE((out / "key.pem").stat().st_mode) == 0o600
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(_root_pem(app, tmp_path)),
                             "-untrusted", str(out / "chain.pem"), str(out / "cert.pem")],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr
    cert = x509.load_pem_x509_certificate((out / "cert.pem").read_bytes())
    key = load_pem_private_key((out / "key.pem").read_bytes(), password=None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    fullchain = (out / "fullchain.pem").read_text()
    assert fullchain.startswith((out / "cert.pem").read_text().strip())


def test_reference_client_fails_with_a_clear_message(app: Flask, live_server: str,
                                                     tmp_path: Path) -> None:
    add_domain(app, "example.com")
    courier = make_courier(app, "wrong-secret", key=None)
    courier.secret = "not the secret"
    result = _run(_config(tmp_path, live_server, courier, local=True))
    assert result.returncode == 1
    assert "Authentication failed" in result.stderr
    missing = tmp_path / "broken.yaml"
    missing.write_text("base_url: http://127.0.0.1:1\n")
    result = _run(missing)
    assert result.returncode == 1 and "Missing 'certificate'" in result.stderr

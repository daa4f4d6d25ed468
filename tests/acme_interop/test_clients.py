"""Unmodified ACME clients against the platform over HTTPS: each trusts the listener CA
through its own setting (never by switching verification off), registers with EAB, gets
a certificate through the bindings, and the chain verifies with openssl to the platform's
root."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from app.extensions import db
from tests.acme_interop.conftest import AcmeWorld, TlsPlatform
from tests.tools import find_tool

pytestmark = pytest.mark.interop


def openssl_verify(root: Path, fullchain: Path, tmp: Path) -> None:
    certs = x509.load_pem_x509_certificates(fullchain.read_bytes())
    leaf, rest = tmp / "leaf.pem", tmp / "untrusted.pem"
    leaf.write_bytes(certs[0].public_bytes(serialization_pem()))
    rest.write_bytes(b"".join(c.public_bytes(serialization_pem()) for c in certs[1:]))
    result = subprocess.run(["openssl", "verify", "-CAfile", str(root), "-untrusted",
                             str(rest), str(leaf)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0 and ": OK" in result.stdout, result.stdout + result.stderr


def serialization_pem():
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 180
        ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, env={**os.environ, **env}, cwd=cwd, capture_output=True,
                            text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{args[0]} failed ({result.returncode}):\n" \
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def acme_orders(app, name: str) -> list:
    from app.models import Order

    with app.app_context():
        rows = db.session.query(Order).filter_by(pathway="acme_client").all()
        found = [(o.common_name, o.requested_by_kind, o.requested_by_label, o.status)
                 for o in rows]
        db.session.remove()
    return found


# ---- certbot (PyPI) ------------------------------------------------------------------------

def test_certbot_certonly_renew_revoke(app, acme_world: AcmeWorld, tls_platform: TlsPlatform,
                                       tmp_path: Path) -> None:
    certbot = find_tool("certbot")
    dirs = ["--config-dir", str(tmp_path / "etc"), "--work-dir", str(tmp_path / "work"),
            "--logs-dir", str(tmp_path / "logs")]
    env = {"REQUESTS_CA_BUNDLE": str(tls_platform.tls.ca_path)}
    webroot = tmp_path / "webroot"
    webroot.mkdir()
    run([certbot, "certonly", "--non-interactive", "--agree-tos", "-m", "ops@example.com",
         "--server", acme_world.directory, f"--eab-kid={acme_world.eab_kid}",
         f"--eab-hmac-key={acme_world.eab_hmac}", "--webroot", "-w", str(webroot),
         "--key-type", "ecdsa", "-d", "www.example.com", "-d", "api.example.com", *dirs],
        env, tmp_path)
    live = tmp_path / "etc" / "live" / "www.example.com"
    openssl_verify(acme_world.root_pem, live / "fullchain.pem", tmp_path)
    first = (live / "cert.pem").read_bytes()
    # ACME Renewal Information for it, over the same HTTPS (RFC 9773, unauthenticated).
    import requests

    from app.domain.acme import cert_id

    leaf = x509.load_pem_x509_certificate(first)
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    info = requests.get(f"{tls_platform.base_url}/acme/{acme_world.server_id}/renewal-info/"
                        f"{cert_id(aki.key_identifier, leaf.serial_number)}",
                        verify=str(tls_platform.tls.ca_path), timeout=30)
    assert info.status_code == 200 and "start" in info.json()["suggestedWindow"]

    run([certbot, "renew", "--force-renewal", "--no-random-sleep-on-renew",
         "--non-interactive", *dirs], env, tmp_path)
    renewed = (live / "cert.pem").read_bytes()
    assert renewed != first
    openssl_verify(acme_world.root_pem, live / "fullchain.pem", tmp_path)

    run([certbot, "revoke", "--non-interactive", "--cert-name", "www.example.com",
         "--no-delete-after-revoke", "--reason", "superseded", *dirs], env, tmp_path)
    serial = x509.load_pem_x509_certificate(renewed).serial_number
    from app.models import Certificate
    from app.services.acme_protocol import certificate_by_serial

    with app.app_context():
        certificate = certificate_by_serial(serial)
        assert certificate is not None and certificate.revoked
        assert db.session.query(Certificate).count() == 2
        db.session.remove()
    orders = acme_orders(app, "www.example.com")
    assert len(orders) == 2
    assert {o[1:] for o in orders} == {("acme", "interop-fleet", "complete")}


# ---- lego (Debian) ---------------------------------------------------------------------------

def test_lego_run_ec256_rsa2048_and_renew(app, acme_world: AcmeWorld,
                                          tls_platform: TlsPlatform, tmp_path: Path) -> None:
    lego = shutil.which("lego") or "/usr/bin/lego"
    env = {"LEGO_CA_CERTIFICATES": str(tls_platform.tls.ca_path)}
    common = [lego, "--accept-tos", "--email", "ops@example.com", "--server",
              acme_world.directory, "--eab", f"--kid={acme_world.eab_kid}",
              f"--hmac={acme_world.eab_hmac}", "--http", "--http.port", "127.0.0.1:1"]
    # One account (the EAB key binds one account key): lego keeps it under --path.
    path = tmp_path / "lego"
    for key_type, name in (("ec256", "ec.example.com"), ("rsa2048", "rsa.example.com")):
        run([*common, "--path", str(path), "--key-type", key_type, "--domains", name,
             "--domains", f"*.{name}", "run"], env, tmp_path)
        openssl_verify(acme_world.root_pem, path / "certificates" / f"{name}.crt", tmp_path)
    rsa_leaf = x509.load_pem_x509_certificate(
        (path / "certificates" / "rsa.example.com.crt").read_bytes())
    assert rsa_leaf.public_key().key_size == 2048
    before = (path / "certificates" / "ec.example.com.crt").read_bytes()
    run([*common, "--path", str(path), "--key-type", "ec256", "--domains",
         "ec.example.com", "--domains", "*.ec.example.com", "renew", "--days", "3650",
         "--no-random-sleep"],
        env, tmp_path)
    after = (path / "certificates" / "ec.example.com.crt").read_bytes()
    assert after != before
    openssl_verify(acme_world.root_pem, path / "certificates" / "ec.example.com.crt",
                   tmp_path)
    assert len(acme_orders(app, "")) == 3


# ---- dehydrated (Debian) ---------------------------------------------------------------------

def test_dehydrated_register_and_sign(app, acme_world: AcmeWorld, tls_platform: TlsPlatform,
                                      tmp_path: Path) -> None:
    dehydrated = shutil.which("dehydrated") or "/usr/bin/dehydrated"
    base = tmp_path / "dehydrated"
    (base / "wellknown").mkdir(parents=True)
    config = base / "config"
    config.write_text(
        f'CA="{acme_world.directory}"\n'
        f'BASEDIR="{base}"\nWELLKNOWN="{base / "wellknown"}"\n'
        f'CONTACT_EMAIL="ops@example.com"\nKEY_ALGO=secp384r1\n'
        f'EAB_KID="{acme_world.eab_kid}"\nEAB_HMAC_KEY="{acme_world.eab_hmac}"\n'
        f'CURL_OPTS="--cacert {tls_platform.tls.ca_path}"\n'
        'CHALLENGETYPE="http-01"\n')
    run([dehydrated, "--config", str(config), "--register", "--accept-terms"], {}, tmp_path)
    run([dehydrated, "--config", str(config), "--cron", "--domain", "dh.example.com"],
        {}, tmp_path)
    fullchain = base / "certs" / "dh.example.com" / "fullchain.pem"
    openssl_verify(acme_world.root_pem, fullchain, tmp_path)
    assert len(acme_orders(app, "")) == 1

"""The bridge's own safety rules, without a platform: files only inside allowed_paths
(symlinks followed), only listed reload commands, only keys that open with its key and
match the certificate; a failed probe restores the previous files. Nothing is written
when a check fails."""
from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.services.jwe import encrypt_to_public_key
from bridge.config import BridgeConfig, ConfigError, load_config
from bridge.deploy import Deployer
from tests.targets.helpers import bridge_keypair


def _certificate() -> tuple[str, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


@pytest.fixture
def setup(tmp_path: Path):
    private_pem, public_pem = bridge_keypair("x25519")
    key_file = tmp_path / "bridge-key.pem"
    key_file.write_bytes(private_pem)
    tls = tmp_path / "tls"
    tls.mkdir()
    (tls / "fullchain.pem").write_text("OLD CERT")
    (tls / "key.pem").write_text("OLD KEY")
    config = BridgeConfig(base_url="https://platform.example", client_id="br_x",
                          client_secret="s", private_key=key_file, allowed_paths=(tls,),
                          allowed_reload_commands=(("true",),), probe_timeout=0.5)
    cert_pem, key_pem = _certificate()

    def deployment(**target_changes) -> dict:
        target = {"name": "web-1", "kind": "nginx",
                  "paths": {"fullchain": str(tls / "fullchain.pem"),
                            "key": str(tls / "key.pem")},
                  "owner": None, "group": None, "file_mode": "0644", "key_mode": "0600",
                  "reload_command": "true", "reload_timeout_seconds": 5,
                  "probe": {"host": "127.0.0.1", "port": 9, "sni": None}, **target_changes}
        return {"id": "d1", "target": target,
                "certificate": {"certificate_pem": cert_pem, "chain_pem": ""},
                "private_key_jwe": encrypt_to_public_key(key_pem, public_pem)}

    return config, tls, deployment


def _unchanged(tls: Path) -> bool:
    return (tls / "fullchain.pem").read_text() == "OLD CERT" and \
        (tls / "key.pem").read_text() == "OLD KEY" and not list(tls.glob("*.bak"))


def test_a_path_outside_allowed_paths_is_refused(setup, tmp_path: Path) -> None:
    config, tls, deployment = setup
    report = Deployer(config).run(deployment(paths={"fullchain": "/etc/passwd",
                                                    "key": str(tls / "key.pem")}))
    assert report["status"] == "failed" and "outside the bridge's allowed_paths" in \
        report["error"]
    assert _unchanged(tls)


def test_a_symlink_out_of_allowed_paths_is_refused(setup, tmp_path: Path) -> None:
    config, tls, deployment = setup
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, tls / "escape")
    report = Deployer(config).run(deployment(paths={
        "fullchain": str(tls / "escape" / "full.pem"), "key": str(tls / "key.pem")}))
    assert report["status"] == "failed" and "outside" in report["error"]
    assert not list(outside.iterdir())


def test_a_command_not_listed_is_not_run(setup, tmp_path: Path) -> None:
    config, tls, deployment = setup
    marker = tmp_path / "ran"
    report = Deployer(config).run(deployment(reload_command=f"touch {marker}"))
    assert report["status"] == "failed" and "allowed_reload_commands" in report["error"]
    assert not marker.exists() and _unchanged(tls)


def test_a_key_for_another_bridge_is_refused(setup) -> None:
    config, tls, deployment = setup
    other_public = bridge_keypair("ec")[1]
    item = deployment()
    item["private_key_jwe"] = encrypt_to_public_key(_certificate()[1], other_public)
    report = Deployer(config).run(item)
    assert [s["name"] for s in report["steps"]] == ["check", "key"]
    assert "does not decrypt" in report["error"] and _unchanged(tls)


def test_a_failed_probe_restores_the_previous_files(setup) -> None:
    config, tls, deployment = setup
    report = Deployer(config).run(deployment())
    assert report["status"] == "failed"
    assert [(s["name"], s["ok"]) for s in report["steps"]] == [
        ("check", True), ("key", True), ("write", True), ("reload", True),
        ("probe", False), ("restore", True), ("reload_restored", True)]
    assert (tls / "fullchain.pem").read_text() == "OLD CERT"
    assert (tls / "key.pem").read_text() == "OLD KEY"
    assert (tls / "key.pem.bak").read_text() == "OLD KEY"


def test_config_refuses_plain_http_and_missing_allowed_paths(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_bytes(bridge_keypair()[0])
    base = {"client_id": "x", "client_secret": "y", "private_key": str(key)}
    import yaml

    path = tmp_path / "bridge.yaml"
    path.write_text(yaml.safe_dump({**base, "base_url": "http://platform.example",
                                    "allowed_paths": ["/etc/nginx"]}))
    with pytest.raises(ConfigError, match="https"):
        load_config(path)
    path.write_text(yaml.safe_dump({**base, "base_url": "https://platform.example"}))
    with pytest.raises(ConfigError, match="allowed_paths"):
        load_config(path)
    path.write_text(yaml.safe_dump({**base, "base_url": "http://127.0.0.1:5000",
                                    "allowed_paths": ["/etc/nginx"]}))
    assert load_config(path).base_url == "http://127.0.0.1:5000"

"""``flask bridges …`` and ``flask targets …`` in process: create prints the credentials
once (hashed in the database) and they authenticate; list shows status; disable and
rotate-secret revoke; every refusal exits 2 with a message and writes nothing."""
from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import text

from app.extensions import db
from app.models import Bridge, TargetSystem
from app.services import bridges
from app.services.bridges import BridgeAuthFailed
from tests.builders import count
from tests.targets.helpers import bridge_keypair

CLI_FAILURE = 2


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "bridge.pub"
    path.write_text(bridge_keypair("x25519")[1])
    return path


def test_create_list_rotate_disable(app, cli, key_file):
    created = cli("bridges", "create", "--name", "dc1", "--public-key", str(key_file),
                  "--json")
    assert created.exit_code == 0, created.output
    creds = json.loads(created.output)
    assert set(creds) >= {"id", "client_id", "client_secret"}
    with app.app_context():
        row = db.session.get(Bridge, __import__("uuid").UUID(creds["id"]))
        assert creds["client_secret"] not in row.secret_hash
        bridges.authenticate(creds["client_id"], creds["client_secret"])
    listed = json.loads(cli("bridges", "list", "--json").output)
    assert listed[0]["name"] == "dc1" and listed[0]["status"] == "online"
    rotated = json.loads(cli("bridges", "rotate-secret", "dc1", "--json").output)
    with app.app_context():
        with pytest.raises(BridgeAuthFailed):
            bridges.authenticate(creds["client_id"], creds["client_secret"])
        bridges.authenticate(creds["client_id"], rotated["client_secret"])
    assert cli("bridges", "disable", "dc1").exit_code == 0
    with app.app_context(), pytest.raises(BridgeAuthFailed):
        bridges.authenticate(creds["client_id"], rotated["client_secret"])
    assert "disabled" in cli("bridges", "list").output


def _pem(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo
                                         ).decode()


@pytest.mark.parametrize("content, message", [
    (None, "Cannot read"),
    ("", "A bridge needs its public key"),
    ("not a key", "not a PEM public key"),
    (_pem(rsa.generate_private_key(65537, 2048)), "EC P-256 or X25519"),
    (_pem(ec.generate_private_key(ec.SECP384R1())), "EC P-256 or X25519"),
])
def test_create_refuses_a_bad_key_and_writes_nothing(app, cli, tmp_path, content, message):
    path = tmp_path / "key.pem"
    if content is not None:
        path.write_text(content)
    result = cli("bridges", "create", "--name", "dc1", "--public-key", str(path))
    assert result.exit_code == CLI_FAILURE and message in result.output
    assert count(app, Bridge) == 0


def test_duplicate_name_and_bad_poll_interval_are_refused(app, cli, key_file):
    assert cli("bridges", "create", "--name", "dc1", "--public-key", str(key_file)
               ).exit_code == 0
    with app.app_context():
        before = db.session.execute(text("SELECT * FROM bridges")).all()
    dup = cli("bridges", "create", "--name", "DC1", "--public-key", str(key_file))
    assert dup.exit_code == CLI_FAILURE and "already exists" in dup.output
    slow = cli("bridges", "create", "--name", "dc2", "--public-key", str(key_file),
               "--poll-interval", "1")
    assert slow.exit_code == CLI_FAILURE and "poll interval" in slow.output
    with app.app_context():
        assert db.session.execute(text("SELECT * FROM bridges")).all() == before
    unknown = cli("bridges", "disable", "nope")
    assert unknown.exit_code == CLI_FAILURE and "No bridge" in unknown.output


def test_targets_create_and_a_bad_one_writes_nothing(app, cli, key_file):
    cli("bridges", "create", "--name", "dc1", "--public-key", str(key_file))
    ok = cli("targets", "create", "--name", "lb", "--bridge", "dc1", "--kind", "haproxy",
             "--path", "pem=/etc/haproxy/certs/site.pem", "--reload-command",
             "systemctl reload haproxy", "--probe", "127.0.0.1:443", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["paths"] == {"pem": "/etc/haproxy/certs/site.pem"}
    bad = cli("targets", "create", "--name", "lb2", "--bridge", "dc1", "--kind", "haproxy",
              "--path", "pem=certs/site.pem", "--reload-command", "x", "--probe",
              "127.0.0.1:443")
    assert bad.exit_code == CLI_FAILURE and "absolute" in bad.output
    assert count(app, TargetSystem) == 1

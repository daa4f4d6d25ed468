"""``flask couriers …`` in process: create prints the credentials once, they authenticate;
rotate, enable/disable, list, delete; every refusal exits 2 with a message and writes
nothing."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import AuditEvent, Courier
from app.services import couriers
from app.services.couriers import CourierAuthFailed
from tests.builders import add_domain

CLI_FAILURE = 2


def _pem(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=["couriers", *args])

    return invoke


@pytest.fixture
def domains(app) -> None:
    add_domain(app, "example.com")
    add_domain(app, "other.org")


def _state(app) -> tuple[list[tuple], int]:
    """Every courier row and the number of audit events: what a refusal must not change."""
    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM couriers ORDER BY name")).all()
        links = db.session.execute(text("SELECT * FROM courier_domains")).all()
        events = db.session.scalar(select(func.count()).select_from(AuditEvent))
        return [tuple(r) for r in rows] + [tuple(r) for r in links], events


def _create(cli, *args: str) -> dict:
    result = cli("create", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_create_prints_credentials_that_authenticate(app, cli, domains,
                                                     tmp_path: Path) -> None:
    key_file = tmp_path / "courier.pub"
    key_file.write_bytes(_pem(ec.generate_private_key(ec.SECP256R1())))
    created = _create(cli, "--name", "web-01", "--domain", "example.com", "--domain",
                      "other.org", "--public-key", str(key_file))
    assert created["name"] == "web-01" and created["enabled"] is True
    assert created["domains"] == ["example.com", "other.org"]
    assert created["encryption_public_key"] is True and created["auth_method"] == "client_secret"
    uuid.UUID(created["uuid"])
    secret = created["client_secret"]

    with app.app_context():
        token, expires_in = couriers.authenticate(created["uuid"], created["client_id"], secret)
        assert token and expires_in > 0
        row = db.session.execute(text("SELECT * FROM couriers")).one()
        assert all(secret not in str(value) for value in row)
        assert db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "courier.create")).resource_id == created["uuid"]

    listed = json.loads(cli("list", "--json").stdout)
    assert [c["uuid"] for c in listed] == [created["uuid"]]
    assert "client_secret" not in listed[0] and listed[0]["last_used_at"] is not None
    assert listed[0]["orders"] == 0


def test_human_output_shows_the_secret_once_with_a_warning(cli, domains) -> None:
    result = cli("create", "--name", "plain", "--domain", "example.com")
    assert result.exit_code == 0
    assert "client_secret:" in result.stdout and "not shown again" in result.stdout
    listing = cli("list")
    assert "plain" in listing.stdout and "enabled" in listing.stdout
    assert "never" in listing.stdout
    secret = result.stdout.split("client_secret:")[1].split()[0]
    assert secret not in listing.stdout


def test_x25519_key_file_is_accepted(app, cli, domains, tmp_path: Path) -> None:
    key_file = tmp_path / "x.pem"
    key_file.write_bytes(_pem(x25519.X25519PrivateKey.generate()))
    created = _create(cli, "--name", "x", "--domain", "example.com", "--public-key",
                      str(key_file))
    assert created["encryption_public_key"] is True


def test_rotate_disable_enable_delete(app, cli, domains) -> None:
    created = _create(cli, "--name", "runner", "--domain", "example.com")
    old = created["client_secret"]
    with app.app_context():
        old_token, _ = couriers.authenticate(created["uuid"], created["client_id"], old)

    result = cli("rotate-secret", "runner", "--json")  # by name
    assert result.exit_code == 0, result.output
    rotated = json.loads(result.stdout)
    new = rotated["client_secret"]
    assert new != old and rotated["uuid"] == created["uuid"]
    assert rotated["client_id"] == created["client_id"]
    with app.app_context():
        with pytest.raises(CourierAuthFailed):
            couriers.authenticate(created["uuid"], created["client_id"], old)
        with pytest.raises(CourierAuthFailed):
            couriers.courier_for_token(old_token)
        assert couriers.authenticate(created["uuid"], created["client_id"], new)

    result = cli("disable", created["uuid"])  # by uuid
    assert result.exit_code == 0 and "Disabled courier runner" in result.stdout
    with app.app_context():
        courier = db.session.get(Courier, uuid.UUID(created["uuid"]))
        assert courier.enabled is False and courier.token_generation == 2
        with pytest.raises(CourierAuthFailed):
            couriers.authenticate(created["uuid"], created["client_id"], new)
    assert json.loads(cli("list", "--json").stdout)[0]["enabled"] is False

    result = cli("enable", "RUNNER", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["enabled"] is True
    with app.app_context():
        assert couriers.authenticate(created["uuid"], created["client_id"], new)

    result = cli("delete", "runner", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["deleted"] is True
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Courier)) == 0
    assert cli("list").stdout.strip() == "No couriers."
    assert json.loads(cli("list", "--json").stdout) == []


def _key_file(tmp_path: Path, kind: str) -> str:
    path = tmp_path / f"{kind}.pem"
    if kind == "rsa":
        path.write_bytes(_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    elif kind == "p384":
        path.write_bytes(_pem(ec.generate_private_key(ec.SECP384R1())))
    elif kind == "garbage":
        path.write_text("hello, I am not a key\n")
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe\x00\x81" * 10)
    elif kind == "empty":
        path.write_text("")
    return str(path)


@pytest.mark.parametrize(("args", "message"), [
    (["create", "--name", "new", "--domain", "nowhere.example"],
     "Domain 'nowhere.example' is not registered"),
    (["create", "--name", "new"], "Choose at least one allowed domain"),
    (["create", "--name", "Existing", "--domain", "example.com"], "already exists"),
    (["create", "--name", "  ", "--domain", "example.com"], "Name must be 1 to 100"),
    (["create", "--name", "new", "--domain", "example.com", "--public-key", "{missing}"],
     "Cannot read"),
    (["create", "--name", "new", "--domain", "example.com", "--public-key", "{garbage}"],
     "not a PEM public key"),
    (["create", "--name", "new", "--domain", "example.com", "--public-key", "{binary}"],
     "not a PEM text file"),
    (["create", "--name", "new", "--domain", "example.com", "--public-key", "{empty}"],
     "is empty"),
    (["create", "--name", "new", "--domain", "example.com", "--public-key", "{rsa}"],
     "must be an EC P-256 or X25519 public key"),
    (["create", "--name", "new", "--domain", "example.com", "--public-key", "{p384}"],
     "must be an EC P-256 or X25519 public key"),
    (["rotate-secret", "ghost"], "No courier with uuid or name 'ghost'"),
    (["rotate-secret", "00000000-0000-0000-0000-000000000000"], "No courier"),
    (["disable", "ghost"], "No courier"),
    (["enable", "ghost"], "No courier"),
    (["delete", "ghost"], "No courier"),
], ids=["unknown-domain", "no-domain", "duplicate-name", "blank-name", "missing-key-file",
        "garbage-key", "binary-key-file", "empty-key-file", "rsa-key", "p384-key",
        "rotate-unknown", "rotate-unknown-uuid", "disable-unknown", "enable-unknown",
        "delete-unknown"])
def test_bad_input_exits_2_with_a_message_and_writes_nothing(
        app, cli, domains, tmp_path: Path, args: list[str], message: str) -> None:
    _create(cli, "--name", "existing", "--domain", "example.com")
    args = [(_key_file(tmp_path, a[1:-1]) if a.startswith("{") else a) for a in args]
    before = _state(app)

    result = cli(*args)
    assert result.exit_code == CLI_FAILURE
    assert message in result.stderr and result.stderr.startswith("Error: ")
    assert _state(app) == before

    result = cli(*args, "--json")
    assert result.exit_code == CLI_FAILURE
    error = json.loads(result.stderr)["error"]
    assert message in error["message"] and error["code"]
    assert result.stdout == ""
    assert _state(app) == before

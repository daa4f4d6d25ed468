"""``flask providers …`` in process: create (secrets only from files or stdin), list,
test (run by the worker), enable/disable, delete; refusals exit 2 and write nothing."""
from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from app.extensions import db
from app.models import Provider
from app.services.worker_keys import open_sealed
from tests.builders import LOCAL_PKI_ID
from tests.conftest import run_jobs_until

CLI_FAILURE = 2
EAB = "c2VjcmV0LWVhYi1rZXktZm9yLXRoZS1jbGktdGVzdA"


@pytest.fixture
def cli(app: Flask, worker_key: None):
    runner = app.test_cli_runner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(args=["providers", *args], input=input)

    return invoke


def _rows(app: Flask) -> list[tuple]:
    with app.app_context():
        return db.session.execute(text(
            "SELECT id, name, type, active, config, secrets FROM certificate_providers "
            "ORDER BY name")).all()


def _create_args(tmp_path: Path, *extra: str) -> list[str]:
    key = tmp_path / "eab.key"
    key.write_text(EAB + "\n")
    return ["create", "--type", "acme", "--name", "Pebble", "--directory-url",
            "https://127.0.0.1:14000/dir", "--email", "pki@example.com", "--eab-kid", "kid-1",
            "--eab-hmac-key-file", str(key), "--challenge", "http-01", *extra]


def test_create_prints_id_name_type_active(app: Flask, cli, tmp_path: Path) -> None:
    result = cli(*_create_args(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == {"id", "name", "type", "active"}
    assert payload["name"] == "Pebble" and payload["type"] == "acme" and payload["active"]
    with app.app_context():
        row = db.session.get(Provider, uuid.UUID(payload["id"]))
        assert open_sealed(row.secrets["eab_hmac_key"],
                           f"provider:{row.id}:eab_hmac_key") == EAB
    assert EAB not in result.output


def test_create_dns01_inactive_with_secrets_from_stdin_and_a_ca_bundle(
        app: Flask, cli, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    result = cli("create", "--type", "acme", "--name", "DNS", "--directory-url",
                 "https://127.0.0.1:14000/dir", "--email", "pki@example.com",
                 "--challenge", "dns-01", "--dns-server", "127.0.0.1:5353", "--dns-zone",
                 "example.test", "--tsig-name", "platform-key", "--tsig-algorithm",
                 "hmac-sha512", "--tsig-secret-file", "-", "--ca-bundle", str(bundle),
                 "--inactive", "--json", input="dHNpZy1zZWNyZXQ=\n")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["active"] is False
    listed = json.loads(cli("list", "--json").output)
    dns = next(p for p in listed if p["name"] == "DNS")
    assert dns["config"]["tsig_algorithm"] == "hmac-sha512"
    assert dns["config"]["ca_bundle"] == "set" and dns["secrets"] == {"tsig_secret": "set"}
    assert "dHNpZy1zZWNyZXQ" not in json.dumps(listed)
    with app.app_context():
        row = db.session.get(Provider, uuid.UUID(payload["id"]))
        assert row.config["ca_bundle"].startswith("-----BEGIN CERTIFICATE-----")


def test_list_includes_the_local_pki_with_order_counts(cli) -> None:
    listed = json.loads(cli("list", "--json").output)
    assert listed[0]["id"] == str(LOCAL_PKI_ID) and listed[0]["type"] == "builtin"
    assert listed[0]["orders"] == 0


@pytest.mark.parametrize(("extra", "message"), [
    (["--directory-url", "https://169.254.169.254/dir"], "metadata"),
    (["--directory-url", "http://acme.example.com/dir"], "Only https://"),
    (["--challenge", "dns-01"], "HOST:PORT"),
    (["--name", "Local PKI"], "already exists"),
])
def test_refusals_exit_2_and_write_nothing(app: Flask, cli, tmp_path: Path, extra: list[str],
                                           message: str) -> None:
    before = _rows(app)
    result = cli(*_create_args(tmp_path), *extra, "--json")
    assert result.exit_code == CLI_FAILURE, result.output
    assert message in json.loads(result.stderr or result.output)["error"]["message"]
    assert _rows(app) == before


def test_a_secret_is_never_taken_as_an_argument(cli, tmp_path: Path) -> None:
    result = cli(*_create_args(tmp_path), "--eab-hmac-key", EAB)
    assert result.exit_code == CLI_FAILURE and "No such option" in result.output


def test_unreadable_or_empty_secret_files_are_refused(app: Flask, cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    args = _create_args(tmp_path)
    args[args.index("--eab-hmac-key-file") + 1] = str(empty)
    assert cli(*args).exit_code == CLI_FAILURE
    args[args.index("--eab-hmac-key-file") + 1] = str(tmp_path / "missing")
    result = cli(*args)
    assert result.exit_code == CLI_FAILURE and "Cannot read" in result.output
    assert len(_rows(app)) == 1


def test_enable_disable_delete_by_name_or_id(app: Flask, cli, tmp_path: Path) -> None:
    provider_id = json.loads(cli(*_create_args(tmp_path), "--json").output)["id"]
    assert json.loads(cli("disable", "Pebble", "--json").output)["active"] is False
    assert json.loads(cli("enable", provider_id, "--json").output)["active"] is True
    refused = cli("delete", "Local PKI", "--json")
    assert refused.exit_code == CLI_FAILURE and "provider.builtin" in refused.output
    unknown = cli("delete", "nope", "--json")
    assert unknown.exit_code == CLI_FAILURE and "provider.unknown" in unknown.output
    deleted = json.loads(cli("delete", "pebble", "--json").output)
    assert deleted["deleted"] is True and len(_rows(app)) == 1


def test_test_runs_in_the_worker_and_exits_1_on_failure(app: Flask, cli,
                                                        tmp_path: Path) -> None:
    args = _create_args(tmp_path)
    args[args.index("--directory-url") + 1] = "https://127.0.0.1:9/dir"   # nothing there
    cli(*args)
    outcome: list = []
    command = threading.Thread(target=lambda: outcome.append(
        cli("test", "Pebble", "--json", "--timeout", "30")))
    command.start()            # the command waits for the worker's result …
    run_jobs_until(app, lambda: _tested(app), timeout=30)   # … which runs the job
    command.join(timeout=30)
    [result] = outcome
    assert result.exit_code == 1, result.output
    payload = json.loads(result.output)
    assert payload["ok"] is False and payload["steps"][-1]["ok"] is False
    assert "could not be reached" in payload["steps"][-1]["message"]


def _tested(app: Flask) -> bool:
    with app.app_context():
        status = db.session.execute(text(
            "SELECT test_status FROM certificate_providers WHERE name = 'Pebble'")).scalar()
        db.session.remove()
    return status in ("ok", "failed")

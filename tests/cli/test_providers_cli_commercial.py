"""``flask providers create --type digicert|globalsign`` as the issue spells it: secrets
only from files (or stdin), options of another type refused, the needed ones required,
bad input refused with nothing written; ``flask providers test`` against the stand-ins."""
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
from tests.conftest import run_jobs_until
from tests.standins.ca import ClientCA
from tests.standins.digicert import DigiCertStandIn
from tests.standins.globalsign import GlobalSignStandIn

CLI_FAILURE = 2


@pytest.fixture
def cli(app: Flask, worker_key: None):
    runner = app.test_cli_runner()
    return lambda *args, input=None: runner.invoke(args=["providers", *args], input=input)


def _files(tmp_path: Path, **contents: str) -> dict[str, str]:
    paths = {}
    for name, value in contents.items():
        (tmp_path / name).write_text(value + "\n")
        paths[name] = str(tmp_path / name)
    return paths


def _digicert_args(server: DigiCertStandIn, tmp_path: Path, *extra: str) -> list[str]:
    files = _files(tmp_path, key=server.api_key, bundle=server.tls.ca_pem)
    return ["create", "--type", "digicert", "--name", "DigiCert", "--base-url",
            server.base_url, "--organization-id", str(server.organization_id), "--product",
            "ssl_basic", "--api-key-file", files["key"], "--ca-bundle", files["bundle"],
            *extra]


def _globalsign_args(server: GlobalSignStandIn, tmp_path: Path, *extra: str) -> list[str]:
    client = server.identity()
    files = _files(tmp_path, key=server.api_key, secret=server.api_secret,
                   cert=client.cert_pem, client_key=client.key_pem, bundle=server.tls.ca_pem)
    return ["create", "--type", "globalsign", "--name", "Atlas", "--base-url",
            server.base_url, "--api-key-file", files["key"], "--api-secret-file",
            files["secret"], "--client-cert", files["cert"], "--client-key",
            files["client_key"], "--ca-bundle", files["bundle"], *extra]


def _count(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(text("SELECT count(*) FROM certificate_providers")).scalar()


def _test(app: Flask, cli, name: str):
    outcome: list = []
    command = threading.Thread(target=lambda: outcome.append(
        cli("test", name, "--json", "--timeout", "30")))
    command.start()

    def tested() -> bool:
        with app.app_context():
            status = db.session.execute(text(
                "SELECT test_status FROM certificate_providers WHERE name = :n"),
                {"n": name}).scalar()
            db.session.remove()
        return status in ("ok", "failed")

    run_jobs_until(app, tested, timeout=30)
    command.join(timeout=30)
    return outcome[0]


def test_create_and_test_digicert(app: Flask, cli, tmp_path: Path,
                                  digicert: DigiCertStandIn) -> None:
    result = cli(*_digicert_args(digicert, tmp_path), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["type"] == "digicert" and payload["name"] == "DigiCert"
    assert digicert.api_key not in result.output
    with app.app_context():
        row = db.session.get(Provider, uuid.UUID(payload["id"]))
        assert row.config["organization_id"] == digicert.organization_id
        assert row.config["product"] == "ssl_basic"
        assert open_sealed(row.secrets["api_key"], f"provider:{row.id}:api_key") \
            == digicert.api_key
    tested = _test(app, cli, "DigiCert")
    assert tested.exit_code == 0, tested.output
    steps = json.loads(tested.output)["steps"]
    assert [s["name"] for s in steps] == ["credentials", "organization"]


def test_create_and_test_globalsign(app: Flask, cli, tmp_path: Path,
                                    globalsign: GlobalSignStandIn) -> None:
    result = cli(*_globalsign_args(globalsign, tmp_path), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["type"] == "globalsign"
    with app.app_context():
        row = db.session.get(Provider, uuid.UUID(payload["id"]))
        assert sorted(row.secrets) == ["api_key", "api_secret", "mtls_key"]
        assert "PRIVATE KEY" not in json.dumps(row.config)
    tested = _test(app, cli, "Atlas")
    assert tested.exit_code == 0, tested.output
    assert [s["name"] for s in json.loads(tested.output)["steps"]] == [
        "login", "policy", "trustchain"]


def test_a_failing_connection_test_exits_1(app: Flask, cli, tmp_path: Path,
                                           digicert: DigiCertStandIn) -> None:
    args = _digicert_args(digicert, tmp_path)
    (tmp_path / "key").write_text("wrong-key\n")
    assert cli(*args).exit_code == 0
    tested = _test(app, cli, "DigiCert")
    assert tested.exit_code == 1
    assert "invalid API key" in json.loads(tested.output)["steps"][0]["message"]


@pytest.mark.parametrize(("kind", "change", "message"), [
    ("digicert", ["--organization-id", "abc"], "organization id is the number"),
    ("digicert", ["--product", "SSL Basic!"], "product name id"),
    ("digicert", ["--base-url", "https://10.0.0.1/services/v2"], "private or reserved"),
    ("digicert", ["--poll-seconds", "0"], "check interval"),
    ("digicert", ["--client-cert", "x.pem"], "--client-cert does not apply"),
    ("globalsign", ["--organization-id", "5"], "--organization-id does not apply"),
    ("globalsign", ["--base-url", "https://169.254.169.254/v2"], "metadata"),
    ("globalsign", ["--client-cert", "NOTPEM"], "client certificate must be the PEM"),
    ("globalsign", ["--client-key", "OTHERKEY"], "does not belong to the client certificate"),
    ("acme", [], "needs --directory-url, --email"),
])
def test_refusals_exit_2_and_write_nothing(app: Flask, cli, tmp_path: Path, kind: str,
                                           change: list[str], message: str,
                                           request: pytest.FixtureRequest) -> None:
    if kind == "acme":
        args = ["create", "--type", "acme", "--name", "A"]
    else:
        server = request.getfixturevalue(kind)
        args = (_digicert_args if kind == "digicert" else _globalsign_args)(server, tmp_path)
    if change and change[1] == "NOTPEM":
        (tmp_path / "notpem").write_text("hello\n")
        change = [change[0], str(tmp_path / "notpem")]
    if change and change[1] == "OTHERKEY":
        (tmp_path / "other").write_text(ClientCA("x").client().key_pem)
        change = [change[0], str(tmp_path / "other")]
    if change and change[0] in args:
        at = args.index(change[0])
        args[at:at + 2] = change
    else:
        args += change
    before = _count(app)
    result = cli(*args, "--json")
    assert result.exit_code == CLI_FAILURE, result.output
    assert message in json.loads(result.stderr or result.output)["error"]["message"]
    assert _count(app) == before


def test_api_key_never_taken_as_an_argument(cli, tmp_path: Path,
                                            digicert: DigiCertStandIn) -> None:
    result = cli(*_digicert_args(digicert, tmp_path), "--api-key", "k")
    assert result.exit_code == CLI_FAILURE and "No such option" in result.output

"""``flask discovery import`` and ``flask discovery scan`` with --json."""
from __future__ import annotations

import json

from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from app.extensions import db
from app.models import Certificate, DiscoveryScan
from tests.discovery.certs import key_pem, pem


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_import_files_reports_per_file_and_refuses_one_with_a_key(app, endpoints, tmp_path):
    pki = endpoints["pki"]
    leaf, key = pki.leaves["chain.example.test"]
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pem(leaf, pki.inter, leaf))
    der = tmp_path / "expired.cer"
    der.write_bytes(pki.leaves["expired.example.test"][0].public_bytes(
        serialization.Encoding.DER))
    keyed = tmp_path / "keyed.pem"
    keyed.write_bytes(pem(pki.leaves["self-signed.example.test"][0]) + key_pem(key))

    result = app.test_cli_runner().invoke(
        args=["discovery", "import", str(bundle), str(der), str(keyed), "--json"])

    assert result.exit_code == 2
    report = json.loads(result.stdout)["files"]
    assert [r["status"] for r in report[0]["results"]] == ["added", "chain", "known"]
    assert [r["status"] for r in report[1]["results"]] == ["added"]
    assert report[2]["error"]["code"] == "discovery.private_key"
    assert _count(app, Certificate) == 2          # nothing of the keyed file


def test_import_of_a_missing_file_is_a_clear_error(app):
    result = app.test_cli_runner().invoke(args=["discovery", "import", "/nonexistent.pem"])
    assert result.exit_code == 2 and "Cannot read /nonexistent.pem" in result.output


def test_scan_prints_each_endpoint_as_json(app, endpoints):
    ep = endpoints["endpoints"]
    result = app.test_cli_runner().invoke(
        args=["discovery", "scan", ep["chain"], ep["http"], "--save", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["status"] == "complete"
    ok, plain = payload["results"]
    assert ok["common_name"] == "chain.example.test" and ok["chain_length"] == 2
    assert plain["status"] == "failed" and plain["error"]["code"] == "not_tls"
    assert _count(app, DiscoveryScan) == 1


def test_scan_of_a_bad_target_exits_2_and_stores_nothing(app):
    result = app.test_cli_runner().invoke(args=["discovery", "scan", "host:0", "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stderr)["error"]["code"] == "discovery.bad_target"
    assert _count(app, DiscoveryScan) == 0

"""The bridges' API: tokens, this bridge's deployments only (another bridge's → 404),
a report per deployment (a finished one → 409), bad reports refused with nothing
written — and every response as the OpenAPI document says."""
from __future__ import annotations

import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Deployment, DeploymentStep, TargetSystem
from app.services.jwe import decrypt_with_private_key
from tests.api.test_openapi import Contract
from tests.builders import add_domain, count, issuing_ca
from tests.targets.helpers import BridgeCreds, make_bridge, make_profile, make_target

API = "/api/v1/bridge"


def token_for(client: FlaskClient, bridge: BridgeCreds) -> str:
    response = client.post(f"{API}/auth", json={**bridge.auth_body(), "version": "1.0.0"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def deployed(app: Flask, jobs) -> tuple[BridgeCreds, BridgeCreds]:
    """Two bridges, each with a target and a profile whose certificate is issued."""
    add_domain(app, "example.com")
    issuing_ca(app, jobs)
    one, two = make_bridge(app, "one"), make_bridge(app, "two", key="x25519")
    make_profile(app, make_target(app, one, "web-1"), common_name="one.example.com")
    make_profile(app, make_target(app, two, "web-2"), common_name="two.example.com")
    jobs()
    return one, two


def test_a_bridge_takes_its_own_deployments_and_reports_once(app, client, deployed):
    contract = Contract(client.get("/api/v1/openapi.json").get_json())
    one, two = deployed
    token = token_for(client, one)
    listing = client.get(f"{API}/deployments", headers=bearer(token))
    contract.check("/api/v1/bridge/deployments", "get", listing)
    body = listing.get_json()
    assert body["poll_interval"] == 30 and len(body["deployments"]) == 1
    item = body["deployments"][0]
    assert item["status"] == "in_progress" and item["target"]["name"] == "web-1"
    assert item["target"]["paths"]["fullchain"].endswith("fullchain.pem")
    assert item["target"]["key_mode"] == "0600"
    key_pem = decrypt_with_private_key(item["private_key_jwe"], one.private_key_pem)
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")

    other_token = token_for(client, two)
    other_id = client.get(f"{API}/deployments", headers=bearer(other_token)
                          ).get_json()["deployments"][0]["id"]
    report = "/api/v1/bridge/deployments/{deployment_id}/report"
    foreign = client.post(f"{API}/deployments/{other_id}/report", headers=bearer(token),
                          json={"status": "succeeded", "steps": []})
    assert foreign.status_code == 404
    contract.check(report, "post", foreign)

    serial = item["certificate"]["serial"]
    done = client.post(f"{API}/deployments/{item['id']}/report", headers=bearer(token), json={
        "status": "succeeded", "served_serial": serial,
        "steps": [{"name": "write", "ok": True, "output": "2 files"},
                  {"name": "reload", "ok": True, "output": ""},
                  {"name": "probe", "ok": True, "output": f"serial {serial}"}]})
    assert done.status_code == 200, done.get_json()
    contract.check(report, "post", done)
    again = client.post(f"{API}/deployments/{item['id']}/report", headers=bearer(token),
                        json={"status": "failed", "steps": []})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == \
        "deployment.finished"
    contract.check(report, "post", again)
    with app.app_context():
        row = db.session.get(Deployment, uuid.UUID(item["id"]))
        assert row.status == "succeeded" and row.key_jwe is None
        assert [s.name for s in row.steps] == ["write", "reload", "probe"]
        target = db.session.scalar(select(TargetSystem).where(TargetSystem.name == "web-1"))
        assert target.served_serial == serial.lstrip("0") and target.probed_at is not None
    # Finished deployments are not handed out again.
    assert client.get(f"{API}/deployments", headers=bearer(token)
                      ).get_json()["deployments"] == []


@pytest.mark.parametrize("body, field", [
    ({"status": "done", "steps": []}, "status"),
    ({"status": "failed"}, "steps"),
    ({"status": "failed", "steps": [{"name": "x"}]}, "steps.0"),
    ({"status": "failed", "steps": [{"name": "", "ok": True}]}, "steps.0.name"),
    ({"status": "failed", "steps": [{"name": "w", "ok": "yes"}]}, "steps.0"),
    ({"status": "succeeded", "steps": [], "served_serial": "xyz"}, "served_serial"),
    ({"status": "failed", "steps": [], "extra": 1}, "extra"),
    ({"status": "failed", "steps": [{"name": "w", "ok": True}] * 21}, "steps"),
])
def test_a_bad_report_is_refused_and_changes_nothing(app, client, deployed, body, field):
    one, _ = deployed
    token = token_for(client, one)
    item = client.get(f"{API}/deployments", headers=bearer(token)).get_json()["deployments"][0]
    response = client.post(f"{API}/deployments/{item['id']}/report", headers=bearer(token),
                           json=body)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert field in [d["field"] for d in error["details"]] or error.get("field") == field \
        or field in error["message"]
    with app.app_context():
        assert db.session.get(Deployment, uuid.UUID(item["id"])).status == "in_progress"
    assert count(app, DeploymentStep) == 0


def test_tokens_die_with_a_disable_or_a_rotation(app, client, deployed):
    from app.services import bridges

    one, _ = deployed
    token = token_for(client, one)
    bad = client.post(f"{API}/auth", json={**one.auth_body(), "client_secret": "nope"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == \
        "auth.invalid_credentials"
    assert client.get(f"{API}/deployments").status_code == 401
    with app.app_context():
        new_secret = bridges.rotate_secret(bridges.get_bridge(one.id))
    assert client.get(f"{API}/deployments", headers=bearer(token)).status_code == 401
    one.secret = new_secret
    token = token_for(client, one)
    with app.app_context():
        bridges.set_enabled(bridges.get_bridge(one.id), False)
    assert client.get(f"{API}/deployments", headers=bearer(token)).status_code == 401
    assert client.post(f"{API}/auth", json=one.auth_body()).status_code == 401


def test_a_probe_seeing_an_unexpected_certificate_raises_served_mismatch(app, client,
                                                                         deployed):
    from app.models import CertificateAlert

    one, _ = deployed
    token = token_for(client, one)
    item = client.get(f"{API}/deployments", headers=bearer(token)).get_json()["deployments"][0]
    response = client.post(f"{API}/deployments/{item['id']}/report", headers=bearer(token),
                           json={"status": "succeeded", "served_serial": "abc123",
                                 "steps": [{"name": "probe", "ok": True}]})
    assert response.status_code == 200
    with app.app_context():
        alert = db.session.scalar(select(CertificateAlert))
        assert alert.type == "served_mismatch" and alert.actual == "abc123"
        assert "web-1 serves certificate serial abc123" in alert.message

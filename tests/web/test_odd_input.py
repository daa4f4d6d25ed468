"""No 500 from odd input. Every GET route is opened with every query parameter it reads,
and every form is posted with every field it reads, set in turn to a NUL character, an
integer past any column's range, a negative one, a non-ASCII digit and a very long
number; the courier API gets the same in its JSON bodies. Nothing may answer 5xx, and a
NUL is a 400 (JSON under /api/).

The parameters and fields come from the views themselves: a first request records every
name the view looks up (a recording MultiDict), so a parameter added later is swept too.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import Rule

from app.extensions import db
from app.models import CertificateAlert, CertificateExport, Deployment, KeyExport, User
from tests.api.conftest import bearer, make_courier, make_csr, token_for
from tests.builders import add_domain, add_policy, issuing_ca
from tests.conftest import CSRF_RE, TEST_PASSWORD, login, make_user
from tests.targets.helpers import make_bridge, make_profile, make_target

NUL = "a\x00b"
ODD_VALUES = (NUL, "99999999999999999999", "-99999999999999999999", "²", "9" * 400)
# Query parameters tried on every page besides those a view is seen to read.
COMMON_PARAMETERS = ("before", "q", "page")
# Plausible values for the other fields of a form, so the odd one gets deep into the view.
FIELD_DEFAULTS = {
    "email": "someone@example.com", "password": TEST_PASSWORD, "name": "Sweep",
    "current_password": "not the current password",
    "new_password": "a long new password", "confirm": "a long new password",
    "common_name": "www.example.com", "sans": "api.example.com", "validity_days": "90",
    "algorithm": "ec-256", "digest": "sha256", "role": "user", "enabled": "y",
    "key_usage": "digitalSignature", "extended_key_usage": "serverAuth", "nav": "next",
    "format": "pkcs8", "passphrase": "a long passphrase", "organization": "Acme",
    "country": "GB", "document": "{}", "description": "d", "csr": "", "options": "1",
}
# These end the sweeping client's own session; they are covered by the session tests.
SESSION_ENDING = {"auth.logout", "auth.end_session"}

RECORDED: set[str] = set()


class RecordingMultiDict(ImmutableMultiDict):
    """request.args / request.form that remember every name a view looks up."""

    def __getitem__(self, key: Any) -> Any:
        RECORDED.add(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:
        RECORDED.add(key)
        return super().get(key, default=default, type=type)

    def getlist(self, key: Any, type: Any = None) -> Any:
        RECORDED.add(key)
        return super().getlist(key, type=type)

    def __contains__(self, key: object) -> bool:
        RECORDED.add(str(key))
        return super().__contains__(key)


@pytest.fixture
def recording(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(app.request_class, "parameter_storage_class", RecordingMultiDict)
    yield


@pytest.fixture
def world(app: Flask, jobs) -> dict[str, str]:
    """One of everything a route can name, made through the real services."""
    from app.services import pki

    domain_id = add_domain(app, "example.com")
    admin_id = make_user(app)
    other_id = make_user(app, "user@example.com", role="user", domains=("example.com",))
    issuer = issuing_ca(app, jobs)
    policy_id = add_policy(app, "Sweep policy", ["*.example.com"], [
        {"action": "enforce_max_validity", "fail": "soft", "values": {"max_days": 90}}])
    courier = make_courier(app, "sweeper")
    api = app.test_client()
    token = token_for(api, courier)
    accepted = api.post("/api/v1/courier/certificates", headers=bearer(token),
                        json={"csr": make_csr()}).get_json()
    bridge = make_bridge(app, "sweep-bridge")
    target_id = make_target(app, bridge, "sweep-target")
    profile_id, _ = make_profile(app, target_id, "sweep-profile")
    jobs()
    with app.app_context():
        from app.models import Order

        order = db.session.get(Order, uuid.UUID(accepted["order_id"]))
        certificate_id = str(order.certificate.id)
        root = pki.list_cas("root")[0]
        key_export = KeyExport(ca_id=root.id, requested_by_id=admin_id)
        cert_export = CertificateExport(certificate_id=order.certificate.id, user_id=admin_id,
                                        format="pkcs8")
        alert = CertificateAlert(type="policy_soft_fail", request_key="sweep",
                                 policy_name="Sweep policy", message="m",
                                 requester_user_id=admin_id)
        deployment_id = str(db.session.scalar(select(Deployment.id)))
        from app.services import discovery_scan

        scan = discovery_scan.create_scan("discovery.example.com:443", actor=None)
        from app.models import Webhook

        webhook = Webhook(name="sweep", url="https://127.0.0.1/hook",
                          events=["certificate.expired"], secret_sealed="sealed")
        db.session.add_all([key_export, cert_export, alert, webhook])
        db.session.commit()
        from app.services import acme_admin

        acme_server = acme_admin.create_server(acme_admin.ServerSettings(
            name="Sweep ACME", issuer=issuer))
        acme_account = acme_admin.create_account(acme_server, "sweep", "ops@example.com",
                                                 ["example.com"]).account
        ids = {"key_export": str(key_export.id), "cert_export": str(cert_export.id),
               "alert": str(alert.id), "root": str(root.id), "order": str(order.id),
               "provider": str(order.provider_id), "scan": str(scan.id),
               "webhook": str(webhook.id)}
        acme_server_id, acme_account_id = acme_server.id, acme_account.id
    return {"domain_id": str(domain_id), "user_id": str(other_id), "ca_id": issuer,
            "policy_id": policy_id, "courier_id": courier.id, "order_id": ids["order"],
            "certificate_id": certificate_id, "alert_id": ids["alert"],
            "admin_id": str(admin_id), "pki_export_id": ids["key_export"],
            "certificate_export_id": ids["cert_export"], "provider_id": ids["provider"],
            "scan_id": ids["scan"], "webhook_id": ids["webhook"], "token": token,
            "server_id": str(acme_server_id), "account_id": str(acme_account_id),
            "authz_id": str(uuid.uuid4()), "cert_id": "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlJyQ",
            "bridge_id": bridge.id, "target_id": target_id, "profile_id": profile_id,
            "deployment_id": deployment_id}


def _path_values(rule: Rule, world: dict[str, str], draft: str) -> dict[str, str]:
    values = {}
    for name in rule.arguments:
        if name == "export_id":
            values[name] = world["pki_export_id" if rule.endpoint.startswith("pki.")
                                 else "certificate_export_id"]
        elif name == "draft_id":
            values[name] = draft
        elif name == "step":
            values[name] = "names"
        elif name == "fmt":
            values[name] = "pem"
        elif name == "what":
            values[name] = "certificate"
        elif name == "session_id":
            values[name] = "1"
        elif name == "filename":
            values[name] = "app.css"
        elif name == "encoded":   # /pki/ocsp/<base64 OCSP request>
            values[name] = "MAMCAQE="
        else:
            assert name in world, f"the sweep does not know route argument {name!r}"
            values[name] = world[name]
    return values


def _url(rule: Rule, values: dict[str, str]) -> str:
    url = rule.rule
    for name, value in values.items():
        url = re.sub(rf"<[^>]*\b{name}>", value, url)
    return url


def _rules(app: Flask, method: str) -> list[Rule]:
    return sorted((r for r in app.url_map.iter_rules() if method in r.methods),
                  key=lambda r: ("delete" in r.endpoint, r.rule))


def _new_draft(client: FlaskClient) -> str:
    location = client.get("/request/").headers["Location"]
    return re.search(r"/request/([0-9a-f-]{36})/", location).group(1)


def _check(response, what: str, value: str) -> None:
    assert response.status_code < 500, (what, repr(value)[:60], response.status_code)
    if "\x00" in value:
        assert response.status_code == 400, (what, response.status_code)


def test_every_get_route_survives_odd_query_parameters(app, client, world, recording) -> None:
    login(client)
    draft = _new_draft(client)
    swept = 0
    read_by: dict[str, set[str]] = {}
    for rule in _rules(app, "GET"):
        url = _url(rule, _path_values(rule, world, draft))
        headers = bearer(world["token"]) if rule.rule.startswith("/api/v1/courier") else {}
        RECORDED.clear()
        assert client.get(url, headers=headers).status_code < 500, url
        read_by[rule.endpoint] = set(RECORDED)
        for name in sorted(RECORDED | set(COMMON_PARAMETERS)):
            for value in ODD_VALUES:
                response = client.get(url, query_string={name: value}, headers=headers)
                _check(response, f"GET {url}?{name}=", value)
                swept += 1
    # The recording sees what the views read (so the sweep covers each of them).
    assert {"q", "status", "before", "pathway"} <= read_by["orders.index"]
    assert {"q", "expiring", "issuer", "before"} <= read_by["certificates.index"]
    assert "before" in read_by["alerts.index"] and "before" in read_by["admin_audit.index"]
    assert swept > 300
    assert client.get("/").status_code == 200  # still logged in: nothing ended the session


def test_path_arguments_with_huge_numbers_or_nul_are_not_errors(app, client, world) -> None:
    login(client)
    for rule in _rules(app, "GET") + _rules(app, "POST"):
        if not rule.arguments or rule.endpoint == "static":
            continue
        for value in ("99999999999999999999", "%00", "-1"):
            values = dict.fromkeys(rule.arguments, value)
            values |= {k: v for k, v in (("step", "names"), ("fmt", "pem"),
                                          ("what", "certificate")) if k in values}
            url = _url(rule, values)
            method = "GET" if "GET" in rule.methods else "POST"
            response = client.open(url, method=method, headers=bearer(world["token"])
                                   if url.startswith("/api/") else {})
            assert response.status_code < 500, (method, url, response.status_code)
            if rule.endpoint == "pki_public.ocsp_get" and response.status_code == 200:
                # OCSP answers every request with HTTP 200 (RFC 6960 A.1): here the
                # unsigned malformedRequest status.
                assert response.mimetype == "application/ocsp-response", url
                assert response.data == b"\x30\x03\x0a\x01\x01", url
                continue
            assert response.status_code in (400, 404, 405) or method == "POST", url


def _csrf(client: FlaskClient) -> str:
    html = client.get("/account/sessions").get_data(as_text=True)
    match = CSRF_RE.search(html)
    return match.group(1) or match.group(2)


def test_every_form_survives_odd_field_values(app, client, world, recording) -> None:
    login(client)
    draft = _new_draft(client)
    token = _csrf(client)
    swept = 0
    read_by: dict[str, set[str]] = {}
    for rule in _rules(app, "POST"):
        if rule.rule.startswith("/api/") or rule.endpoint in SESSION_ENDING | {"auth.login"}:
            continue
        url = _url(rule, _path_values(rule, world, draft))
        RECORDED.clear()
        client.post(url, data={"csrf_token": token})
        fields = sorted(RECORDED - {"csrf_token"})
        read_by[rule.endpoint] = set(fields)
        for name in fields:
            for value in ODD_VALUES:
                form = {f: FIELD_DEFAULTS.get(f, "x") for f in fields} | {name: value}
                response = client.post(url, data={**form, "csrf_token": token})
                _check(response, f"POST {url} {name}=", value)
                swept += 1
        with app.app_context():  # the sweep must not have changed who is logged in
            assert db.session.get(User, int(world["admin_id"])).enabled
    assert {"email", "role", "domains"} <= read_by["admin_users.create"]
    assert {"name", "domains"} <= read_by["couriers.create"]
    assert {"common_name", "sans"} <= read_by["wizard.post_step"]
    assert "validity_days" in read_by["pki.new_root"]
    assert swept > 100


def test_the_login_form_survives_odd_values(app, client, world) -> None:
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    for name in ("email", "password"):
        for value in ODD_VALUES:
            form = {"email": "admin@example.com", "password": "wrong password", name: value}
            response = client.post("/login", data={**form, "csrf_token": token})
            _check(response, f"POST /login {name}=", value)
    response = client.post("/login?next=%00", data={"email": "admin@example.com",
                                                    "password": TEST_PASSWORD,
                                                    "csrf_token": token})
    assert response.status_code == 400


def _walk(value: Any) -> Iterator[list[Any]]:
    """Every path to a scalar in a JSON document."""
    if isinstance(value, dict):
        for key, inner in value.items():
            for path in _walk(inner):
                yield [key, *path]
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            for path in _walk(inner):
                yield [index, *path]
    else:
        yield []


def _replaced(document: Any, path: list[Any], value: Any) -> Any:
    if not path:
        return value
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[path[0]] = _replaced(document[path[0]], path[1:], value)
    return copy


def test_the_courier_api_survives_odd_json_values(app, client, world) -> None:
    courier = make_courier(app, "odd-json")
    auth = courier.auth_body()
    body = {"common_name": "www.example.com", "sans": ["api.example.com"],
            "subject": {"organization": "Acme", "country": "GB"}, "algorithm": "ec-256",
            "digest": "sha256", "validity_days": 90, "key_usage": ["digitalSignature"],
            "extended_key_usage": ["serverAuth"]}
    token = world["token"]
    odd_json = (NUL, 99999999999999999999, -99999999999999999999, "²", 10**400, 1e308)
    for path in _walk(body):
        for value in odd_json:
            response = client.post("/api/v1/courier/certificates", headers=bearer(token),
                                   json=_replaced(body, path, value))
            assert response.status_code < 500, (path, repr(value)[:40])
            assert response.is_json
            if value == NUL:
                assert response.status_code == 400
                assert response.get_json()["error"]["code"] == "request.bad_request"
    for key in auth:
        for value in (NUL, 99999999999999999999, "²"):
            response = client.post("/api/v1/courier/auth", json={**auth, key: value})
            assert response.status_code < 500 and response.is_json, (key, value)
    nul_key = client.post("/api/v1/courier/certificates", headers=bearer(token),
                          json={**body, "x\x00": 1})
    assert nul_key.status_code == 400
    raw = client.post("/api/v1/courier/auth", data=b'{"uuid": "\\u0000"}',
                      content_type="application/json")
    assert raw.status_code == 400 and raw.get_json()["error"]["code"] == "request.bad_request"

"""The web process never needs the key-encryption key: every page works without it."""
from __future__ import annotations

import os
import re

from flask import Flask

from app import create_app
from tests.conftest import login, make_user, post


def test_web_app_serves_every_page_without_the_key_encryption_key(
        app, test_settings, tmp_path, jobs, monkeypatch) -> None:
    # Data made by the real worker (which holds the key) …
    worker_client = app.test_client()
    make_user(app)
    login(worker_client)
    post(worker_client, "/admin/domains/", {"name": "example.com"})
    post(worker_client, "/admin/pki/roots/new", {
        "common_name": "Root", "organization": "Org", "country": "DE",
        "algorithm": "ec-256", "digest": "sha256",
        "validity_days": "100"})
    jobs()

    # … is then served by a web app whose environment and instance folder have no key.
    monkeypatch.delenv("KEY_ENCRYPTION_KEYS", raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    settings = {k: v for k, v in test_settings.items() if k != "KEY_ENCRYPTION_KEYS"}
    web: Flask = create_app({**settings, "TESTING": True})
    assert "KEY_ENCRYPTION_KEYS" not in web.config
    client = web.test_client()
    login(client)
    # Every page a browser session can open (the bearer-token APIs answer 401 to it).
    rules = [r for r in web.url_map.iter_rules()
             if "GET" in r.methods and not r.arguments and r.endpoint != "static"
             and not (r.rule.startswith("/api/") and r.rule != "/api/v1/openapi.json")]
    assert len(rules) >= 10
    for rule in rules:
        response = client.get(rule.rule, follow_redirects=True)
        assert response.status_code == 200, (rule.rule, response.status_code)
    root_page = client.get("/admin/pki/").get_data(as_text=True)
    detail = re.search(r'href="/admin/pki/([0-9a-f-]{36})"', root_page).group(1)
    assert client.get(f"/admin/pki/{detail}").status_code == 200
    assert client.get(f"/admin/pki/{detail}/certificate.pem").status_code == 200
    assert not (tmp_path / "key-encryption-keys").exists()
    assert not (tmp_path / "worker").exists()
    assert "KEY_ENCRYPTION_KEYS" not in os.environ

"""Security headers: a Content-Security-Policy that fits htmx on every response, the
usual hardening headers, HSTS in production; and templates with nothing the policy would
refuse (no inline script, event-handler attributes or style attributes)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from app import create_app

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"


def _check_hardening(response) -> None:
    policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_json_and_static_files_carry_the_headers(admin_client) -> None:
    for path in ("/", "/login", "/certificates/", "/api/v1/openapi.json",
                 "/static/app.css", "/no-such-page"):
        _check_hardening(admin_client.get(path))
    assert "Strict-Transport-Security" not in admin_client.get("/").headers


def test_hsts_in_production(test_settings) -> None:
    production = create_app({**test_settings, "TESTING": True, "APP_ENV": "production"})
    response = production.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(response.headers["Strict-Transport-Security"].split("=")[1]) >= 31536000
    _check_hardening(response)


def test_htmx_is_configured_for_the_policy(client) -> None:
    html = client.get("/login").get_data(as_text=True)
    config = re.search(r'name="htmx-config" content=\'([^\']+)\'', html).group(1)
    assert '"includeIndicatorStyles":false' in config and '"allowEval":false' in config
    # Settling a style attribute is a setAttribute("style") the policy refuses.
    assert json.loads(config)["attributesToSettle"] == ["class", "width", "height"]
    css = client.get("/static/app.css").get_data(as_text=True)
    assert ".htmx-request .htmx-indicator" in css


def test_no_template_has_what_the_policy_refuses() -> None:
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
    handler = re.compile(r"\son[a-z]+\s*=", re.I)
    style_attribute = re.compile(r"\sstyle\s*=", re.I)
    problems = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for pattern in (inline_script, handler, style_attribute, re.compile("<style", re.I),
                        re.compile("javascript:", re.I), re.compile(r"hx-on", re.I)):
            problems += [f"{path.relative_to(TEMPLATES)}: {m.group(0)!r}"
                         for m in pattern.finditer(text)]
    assert problems == []

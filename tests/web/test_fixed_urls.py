"""Templates' ``url_for`` remembers the URLs that can only ever be the same (the menu, the
static files) per script root, and builds every other URL each time."""
from __future__ import annotations

from flask import Flask

from app.web import templating
from app.web.templating import fixed_url_for


def test_fixed_urls_are_remembered_per_script_root(app: Flask) -> None:
    templating._FIXED_URLS.clear()
    with app.test_request_context("/"):
        assert fixed_url_for("orders.index") == "/orders/"
        assert fixed_url_for("static", filename="app.css") == "/static/app.css"
    with app.test_request_context("/", base_url="http://localhost/pki/"):
        assert fixed_url_for("orders.index") == "/pki/orders/"
        assert fixed_url_for("static", filename="app.css") == "/pki/static/app.css"
    assert set(templating._FIXED_URLS) == {
        ("", "orders.index", ()), ("", "static", (("filename", "app.css"),)),
        ("/pki", "orders.index", ()), ("/pki", "static", (("filename", "app.css"),))}


def test_urls_with_values_are_built_each_time(app: Flask) -> None:
    templating._FIXED_URLS.clear()
    with app.test_request_context("/"):
        assert fixed_url_for("orders.index", status="open") == "/orders/?status=open"
        assert fixed_url_for("orders.index", _external=True) == "http://localhost/orders/"
        assert fixed_url_for("orders.index", _anchor="top") == "/orders/#top"
    assert templating._FIXED_URLS == {}


def test_outside_a_request_nothing_is_remembered(app: Flask, monkeypatch) -> None:
    templating._FIXED_URLS.clear()
    # The app is the session's: the setting must go back (cookies follow SERVER_NAME).
    monkeypatch.setitem(app.config, "SERVER_NAME", "platform.example")
    with app.app_context():
        assert fixed_url_for("orders.index") == "http://platform.example/orders/"
    assert templating._FIXED_URLS == {}


def test_the_memory_is_bounded(app: Flask, monkeypatch) -> None:
    templating._FIXED_URLS.clear()
    monkeypatch.setattr(templating, "MAX_FIXED_URLS", 2)
    with app.test_request_context("/"):
        for name in ("a.css", "b.css", "c.css"):
            assert fixed_url_for("static", filename=name) == f"/static/{name}"
    assert len(templating._FIXED_URLS) == 2


def test_pages_use_it(app: Flask) -> None:
    assert app.jinja_env.globals["url_for"] is fixed_url_for

"""``web/busy_close.CloseWhenBusy``: a courier submission answered while another is in
flight in the same process closes its connection; alone, or for any other request, the
connection is kept."""
from __future__ import annotations

import threading
from typing import Any

import pytest

from app.web.busy_close import SUBMISSION_PREFIX, CloseWhenBusy


class _Blocking:
    """A WSGI app whose ``/api/v1/courier/certificates:batch`` answers wait for
    ``release`` once ``hold`` is set (a submission still running)."""

    def __init__(self) -> None:
        self.hold = threading.Event()
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if self.hold.is_set() and not self.entered.is_set():
            self.entered.set()
            self.release.wait(10)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]


def _call(app: CloseWhenBusy, method: str, path: str) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                       ) -> None:
        seen.extend(headers)

    app({"REQUEST_METHOD": method, "PATH_INFO": path}, start_response)
    return seen


BATCH = "/api/v1/courier/certificates:batch"


def _while_a_submission_runs(layer: CloseWhenBusy, inner: _Blocking,
                             method: str, path: str) -> list[tuple[str, str]]:
    inner.hold.set()
    first: list[list[tuple[str, str]]] = []
    running = threading.Thread(target=lambda: first.append(_call(layer, "POST", BATCH)))
    running.start()
    assert inner.entered.wait(10)
    try:
        return _call(layer, method, path)
    finally:
        inner.release.set()
        running.join(10)
        assert first and ("Connection", "close") not in first[0]  # it was alone when it began
        assert layer.in_flight == 0


def test_a_submission_alone_keeps_its_connection() -> None:
    layer = CloseWhenBusy(_Blocking())
    for path in (BATCH, "/api/v1/courier/certificates",
                 "/api/v1/courier/certificates/abc/renew"):
        assert ("Connection", "close") not in _call(layer, "POST", path)
    assert layer.in_flight == 0


def test_a_submission_while_another_runs_closes_its_connection() -> None:
    inner = _Blocking()
    layer = CloseWhenBusy(inner)
    headers = _while_a_submission_runs(layer, inner, "POST", "/api/v1/courier/certificates")
    assert ("Connection", "close") in headers
    assert ("Content-Type", "application/json") in headers


def test_polls_and_reads_keep_their_connection_even_when_busy() -> None:
    for method, path in (("GET", "/api/v1/courier/orders/abc"), ("GET", BATCH),
                         ("POST", "/orders/abc/status")):
        inner = _Blocking()
        layer = CloseWhenBusy(inner)
        assert ("Connection", "close") not in _while_a_submission_runs(layer, inner, method,
                                                                        path)


def test_a_failing_submission_is_not_counted_as_running() -> None:
    def failing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("boom")

    layer = CloseWhenBusy(failing)
    with pytest.raises(RuntimeError):
        _call(layer, "POST", BATCH)
    assert layer.in_flight == 0


def test_the_app_has_the_layer(app) -> None:
    layers = []
    wsgi = app.wsgi_app
    while wsgi is not None:
        layers.append(type(wsgi).__name__)
        wsgi = getattr(wsgi, "wsgi_app", None) or getattr(wsgi, "app", None)
        if len(layers) > 10:
            break
    assert "CloseWhenBusy" in layers


def test_the_prefix_names_the_courier_submission_routes(app) -> None:
    """The layer finds the courier's certificate writes by a path prefix: the single,
    batch, renewal and revocation routes are under it, and no other POST route is."""
    under = sorted(rule.rule for rule in app.url_map.iter_rules()
                   if "POST" in rule.methods and rule.rule.startswith(SUBMISSION_PREFIX))
    assert under == ["/api/v1/courier/certificates",
                     "/api/v1/courier/certificates/<certificate_id>/renew",
                     "/api/v1/courier/certificates/<certificate_id>/revoke",
                     "/api/v1/courier/certificates:batch"]

"""The web under ``gunicorn --worker-class gevent_pywsgi`` (docs/deployment.md): one worker
process holds hundreds of idle connections and still answers, and serves concurrent
requests that use PostgreSQL (psycopg 3, cooperative under gevent by itself) and Redis
(redis-py) — the status fast path's raw pool included."""
from __future__ import annotations

import re
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask import Flask

from tests.e2e.rq_worker import worker_env
from tests.scale.processes import WebProcess
from tests.web.test_orders import _submit
from tests.web.test_orders import setup as setup  # the fixture

pytestmark = pytest.mark.postgres_only

IDLE_CONNECTIONS = 300
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _login(base: str, email: str) -> requests.Session:
    session = requests.Session()
    token = CSRF.search(session.get(f"{base}/login", timeout=30).text)
    assert token, "no CSRF token on /login"
    answer = session.post(f"{base}/login", data={
        "email": email, "password": "correct horse battery staple",
        "csrf_token": token.group(1)}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[:500]
    return session


def test_one_gevent_worker_holds_idle_connections_and_serves(
        app: Flask, setup, jobs, test_settings: dict[str, str], tmp_path: Path) -> None:
    order_id = _submit(app, "u1@example.com", issuer=setup)
    jobs()
    open_order_id = _submit(app, "u1@example.com", issuer=setup)  # stays pending
    env = {**worker_env(test_settings), "ORDER_COUNTS_CACHE_MIN_ROWS": "1"}
    web = WebProcess(env, tmp_path / "web.log",
                     ("--worker-class", "gevent_pywsgi", "--workers", "1",
                      "--worker-connections", "2000")).start()
    idle: list[socket.socket] = []
    try:
        # Connections that never send a request: each would pin a sync worker.
        for _ in range(IDLE_CONNECTIONS):
            idle.append(socket.create_connection(("127.0.0.1", web.port), timeout=10))
        session = _login(web.url, "u1@example.com")
        url = f"{web.url}/orders/{order_id}/status"

        def poll(_: int) -> tuple[int, str]:
            answer = session.get(url, headers={"HX-Request": "true"}, timeout=30)
            return answer.status_code, answer.headers.get("ETag", "")

        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(poll, range(200)))
        assert {code for code, _ in answers} == {200}
        assert len({etag for _, etag in answers}) == 1
        cached = session.get(url, headers={"HX-Request": "true",
                                           "If-None-Match": answers[0][1]}, timeout=30)
        assert cached.status_code == 304
        # An open order: the first poll renders and keeps the fragment, the concurrent
        # repeats are answered by the fast path (more at once than its pool has
        # connections, so some wait for one) — all with the same bytes.
        open_url = f"{web.url}/orders/{open_order_id}/status"
        first = session.get(open_url, headers={"HX-Request": "true"}, timeout=30)
        assert first.status_code == 200 and 'data-status="pending"' in first.text
        with ThreadPoolExecutor(32) as pool:
            repeats = list(pool.map(lambda _: session.get(
                open_url, headers={"HX-Request": "true"}, timeout=30), range(200)))
        assert {r.status_code for r in repeats} == {200}
        assert {r.content for r in repeats} == {first.content}
        assert all("Cookie" not in r.headers["Vary"] for r in repeats)  # not Flask's
        # The Orders page: PostgreSQL counts shared through Redis (threshold 1 here).
        page = session.get(f"{web.url}/orders/", timeout=30)
        assert page.status_code == 200 and 'data-count="1"' in page.text
    finally:
        for connection in idle:
            connection.close()
        web.stop()
    assert "Traceback" not in (tmp_path / "web.log").read_text()



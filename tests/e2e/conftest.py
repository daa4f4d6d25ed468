"""Browser test harness: the session ``app`` served by a real WSGI server in a thread
(``live_server``, in ``tests/conftest.py``), a real
``worker.py`` subprocess on the session's queue, and one headless Chromium per session
(a fresh browser context per test).

On failure, the report gets the tail of the worker's output and a screenshot is written
to ``/tmp/e2e-failure-<test>.png``.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.rq_worker import WorkerProcess, worker_env

DEFAULT_TIMEOUT_MS = 15_000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]

WORKER_KEY = pytest.StashKey[WorkerProcess]()
CALL_REPORT_KEY = pytest.StashKey[pytest.TestReport]()


@pytest.fixture(scope="package")
def worker_process(app: Flask, test_settings: dict[str, str],
                   tmp_path_factory: pytest.TempPathFactory,
                   pytestconfig: pytest.Config) -> Iterator[WorkerProcess]:
    """``python worker.py`` with the session's settings (the schema exists: needs ``app``).

    Package-scoped: it must be gone before other tests run, which drain the same queue
    themselves with ``run_jobs`` and expect to find their jobs still queued."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    worker = WorkerProcess(worker_env(test_settings), log_path).start()
    pytestconfig.stash[WORKER_KEY] = worker
    yield worker
    del pytestconfig.stash[WORKER_KEY]
    worker.stop()


@pytest.fixture(autouse=True)
def _worker_alive(request: pytest.FixtureRequest) -> None:
    """Before each test using the worker: it must still run and listen on the queue.

    ``_clean_state`` flushes the Redis test database after every test, which deletes the
    worker's registration keys; the worker keeps polling its queue regardless (its next
    heartbeat rewrites its own key), so only the process itself is checked here."""
    if "worker_process" not in request.fixturenames:
        return
    worker: WorkerProcess = request.getfixturevalue("worker_process")
    assert worker.proc is not None and worker.proc.poll() is None, \
        f"worker.py is no longer running:\n{worker.tail()}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


def page_in_new_context(browser: Browser, live_server: str, request: pytest.FixtureRequest,
                        **options: Any) -> Iterator[Page]:
    """A page in a fresh context (own cookies), with relative URLs against the live server;
    a screenshot of it is kept when the test fails."""
    context = browser.new_context(base_url=live_server, **options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    yield page
    report = request.node.stash.get(CALL_REPORT_KEY, None)
    if report is not None and report.failed and not page.is_closed():
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        page.screenshot(path=str(Path("/tmp") / f"e2e-failure-{name}.png"), full_page=True)
    context.close()


@pytest.fixture
def page(browser: Browser, live_server: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    yield from page_in_new_context(browser, live_server, request)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT_KEY] = report
    worker = item.config.stash.get(WORKER_KEY, None)
    if report.failed and worker is not None:
        report.sections.append(("worker.py output (last lines)", worker.tail()))
    return report

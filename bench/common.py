"""Helpers shared by the benchmarks: timing the server side of a request, percentiles,
logging in through the real login form, and the machine's load for the record."""
from __future__ import annotations

import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _import_the_real_acme_package() -> None:
    """``bench/acme.py`` is named like the ``acme`` package the app imports, and a bench
    script's own directory comes first on the path: import the real package with this
    directory off the path, so ``import acme`` anywhere later finds it cached."""
    here = Path(__file__).resolve().parent
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    try:
        import acme.client  # noqa: F401
    finally:
        sys.path[:] = saved


if "acme" not in sys.modules:
    _import_the_real_acme_package()

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')
PASSWORD = "correct horse battery staple"


class ServerTimer:
    """WSGI middleware around ``app.wsgi_app``: wall and CPU time (ms) of the server side
    of the last request (routing, session and login, the view, the rendered body), without
    the test client's own work."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app
        self.last = (0.0, 0.0)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start, cpu = time.perf_counter(), time.process_time()
        iterable = self.wsgi_app(environ, start_response)
        try:
            body = list(iterable)
        finally:
            if hasattr(iterable, "close"):
                iterable.close()
            self.last = ((time.perf_counter() - start) * 1000,
                         (time.process_time() - cpu) * 1000)
        return body


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def login(client: Any, email: str, password: str = PASSWORD) -> None:
    html = client.get("/login").get_data(as_text=True)
    match = CSRF_RE.search(html)
    if not match:
        raise RuntimeError("no CSRF token on /login")
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": match.group(1) or match.group(2)})
    if response.status_code != 302:
        raise RuntimeError(f"login failed: {response.status_code}")


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else (os.cpu_count() or 1)


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[str, float] | None:
    """(command name, CPU seconds of the process and its reaped children)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    # fields[0] is the state (stat field 3): utime..cstime are stat fields 14-17
    ticks = sum(int(v) for v in fields[11:15])
    return name, ticks / _TICKS


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds (user + system, with reaped children) of these processes so far."""
    return sum(stat[1] for stat in map(_stat, pids) if stat is not None)


def server_cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of this machine's PostgreSQL (every ``postgres`` process, the
    ended backends counted through the postmaster's reaped children) and Redis servers:
    read before and after a run, the difference is what the run cost them. Only
    meaningful when both run on this machine, as in these benchmarks."""
    totals = {"postgres": 0.0, "redis": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None:
            continue
        name, seconds = stat
        if name == "postgres" or name.startswith("postgres:"):
            totals["postgres"] += seconds
        elif name.startswith("redis-server"):
            totals["redis"] += seconds
    return totals

"""Benchmark: the order-status fragment polled by many open tabs, served by gunicorn.

Seeds, in a PostgreSQL database of its own, one user and ``--orders`` orders still in
``processing`` (what tabs poll: a finished order's fragment stops polling and answers 304
to its ETag), starts ``gunicorn --worker-class <class> --workers <cores> wsgi:app`` on a
free loopback port, logs in through the real form and drives Debian's ``wrk`` with the
session cookie and ``HX-Request: true`` at ``/orders/<id>/status`` (a random order of the
user's per request):

- ``c64``:       ``wrk -c 64`` flat out for ``--seconds`` — responses/s (``poll_rps_c64``);
- ``2000 tabs``: ``wrk -c 2000`` with a Lua ``delay()`` of 1,000 ms, so each connection
  sends one request a second, like an open tab — p99 latency
  (``poll_p99_ms_2000_tabs``) and the rate actually served. Each tab starts at a random
  moment of its first second (``--phase random``, as tabs opened by people are);
  ``--phase together`` starts them all at once, so all 2,000 poll in the same few
  milliseconds every second (a burst, not a rate).

Goals (the scale issue): ≥ 3,000 responses/s at ``-c 64``; p99 ≤ 50 ms for 2,000 tabs.
Ends with one JSON line (also ``worker_class``, errors, load average).

    .venv/bin/python bench/polling.py [--database-url URL] [--redis-url URL]
        [--worker-class gevent|gthread|sync] [--seconds N] [--tabs N]
        [--phase random|together]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, cpu_count, loadavg
from orders_page import build_app, ensure_database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_polling"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
USER = "bench-poller@example.com"
PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
GOAL_RPS_C64 = 3000.0
GOAL_P99_MS_TABS = 50.0
WRK_THREADS = 2

# wrk's Lua hooks: a random order per request, optionally a pause before each request of
# a connection (delay() in ms), and a JSON summary from done(). wrk calls delay() before a
# connection's first request too; with ``phase = "random"`` each connection's first pause
# is a random part of the period (tabs are opened at different moments, as real ones are),
# then every pause is the period. ``"together"``: every connection starts at once, so the
# tabs stay in step — every second all of them poll within a few milliseconds.
LUA = """
local paths = {%(paths)s}
local pause = %(pause)d
local random_phase = %(random_phase)s
local per_thread = %(per_thread)d
local started = 0
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
init = function(args)
  math.randomseed(os.time() * 100 + (thread_number or 0))
end
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
if pause > 0 then
  delay = function()
    if random_phase and started < per_thread then
      started = started + 1
      return math.random(0, pause - 1)
    end
    return pause
  end
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "seconds": %%.3f, "p50_ms": %%.2f, "p99_ms": %%.2f, ' ..
    '"max_ms": %%.2f, "non_2xx": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
"""


def seed(url: str, redis_url: str, orders: int) -> list[str]:
    from sqlalchemy import text

    from app.extensions import db
    from app.services import users

    app = build_app(url, Path(tempfile.mkdtemp(prefix="bench-polling-")), fresh=True,
                    redis_url=redis_url)
    with app.app_context():
        user, _ = users.create_user(USER, role="super_admin", password=PASSWORD)
        rows = db.session.execute(text("""
            INSERT INTO orders (id, type, pathway, status, common_name, request, provider_id,
                                requested_by_user_id, requested_by_label, requested_by_kind,
                                submitted_at, started_at, attempts, checks,
                                revoke_predecessor)
            SELECT gen_random_uuid(), 'local_pki', 'wizard', 'processing',
                   'tab-' || g || '.example.com',
                   json_build_object('common_name', 'tab-' || g || '.example.com',
                                     'algorithm', 'ec-256', 'digest', 'sha256',
                                     'validity_days', 90),
                   (SELECT id FROM certificate_providers WHERE type = 'builtin' LIMIT 1),
                   :user, :label, 'user', now(), now(), 1, 0, false
            FROM generate_series(1, :n) g RETURNING id"""),
            {"user": user.id, "label": USER, "n": orders})
        ids = [str(row.id) for row in rows]
        db.session.commit()
    return ids


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], worker_class: str, workers: int,
                   log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = [sys.executable, "-m", "gunicorn", "--worker-class", worker_class,
            "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
            "--no-control-socket", "--backlog", "4096", "--keep-alive", "75"]
    if worker_class.startswith("gevent"):
        args += ["--worker-connections", "4000"]
    elif worker_class == "gthread":
        args += ["--threads", "8"]
    with log.open("wb") as out:
        proc = subprocess.Popen([*args, "wsgi:app"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/login", timeout=10).ok:
                return proc, base
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def session_cookie(base: str, email: str = USER) -> str:
    session = requests.Session()
    token = CSRF.search(session.get(f"{base}/login", timeout=30).text)
    if not token:
        raise RuntimeError("no CSRF token on /login")
    answer = session.post(f"{base}/login", data={"email": email, "password": PASSWORD,
                                                  "csrf_token": token.group(1)},
                          allow_redirects=False, timeout=30)
    if answer.status_code != 302:
        raise RuntimeError(f"login failed: {answer.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def wrk(base: str, cookie: str, paths: list[str], connections: int, seconds: int,
        pause_ms: int, workdir: Path, phase: str = "random") -> dict[str, Any]:
    script = workdir / f"poll-{connections}-{pause_ms}-{phase}.lua"
    script.write_text(LUA % {"paths": ", ".join(f'"{p}"' for p in paths),
                             "pause": pause_ms,
                             "random_phase": "true" if phase == "random" else "false",
                             "per_thread": -(-connections // WRK_THREADS)})
    command = ["wrk", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{seconds}s",
               "--timeout", "10s", "-s", str(script), "-H", f"Cookie: {cookie}",
               "-H", "HX-Request: true", base]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("WRKJSON "))
    result = json.loads(line.removeprefix("WRKJSON "))
    if not result["requests"]:
        print(f"wrk finished no request:\n{output}", file=sys.stderr)
    result["rps"] = result["requests"] / result["seconds"] if result["seconds"] else 0.0
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    if not shutil.which("wrk"):
        sys.exit("Debian's wrk is needed (apt-get install wrk)")
    ensure_database(args.database_url)
    ids = seed(args.database_url, args.redis_url, args.orders)
    workdir = Path(tempfile.mkdtemp(prefix="bench-polling-"))
    env = {**os.environ, "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url,
           "SECRET_KEY": "bench-" + uuid.uuid4().hex, "APP_ENV": "development",
           "INSTANCE_PATH": str(workdir), "DATABASE_POOL_SIZE": "10"}
    env.pop("KEY_ENCRYPTION_KEYS", None)
    workers = args.workers or cpu_count()
    proc, base = start_gunicorn(env, args.worker_class, workers, workdir / "gunicorn.log")
    try:
        cookie = session_cookie(base)
        paths = [f"/orders/{i}/status" for i in ids]
        probe = requests.get(base + paths[0], headers={"Cookie": cookie, "HX-Request": "true"},
                             timeout=30)
        if probe.status_code != 200 or "order-detail" not in probe.text:
            raise RuntimeError(f"the fragment answered {probe.status_code}: {probe.text[:300]}")
        # Each tab has polled its order once (the route keeps that fragment for the
        # session; app/web/status_fast_path.py answers the repeats), then a warm-up.
        with requests.Session() as tab:
            for path in paths:
                tab.get(base + path, headers={"Cookie": cookie, "HX-Request": "true"},
                        timeout=30).raise_for_status()
        wrk(base, cookie, paths, 64, 5, 0, workdir)  # warm-up
        load_c64 = loadavg()
        c64 = wrk(base, cookie, paths, 64, args.seconds, 0, workdir)
        load_tabs = loadavg()
        tabs = wrk(base, cookie, paths, args.tabs, args.seconds * 2, 1000, workdir,
                   args.phase)
    finally:
        stop(proc)
    print(f"\n{'run':<12} {'resp/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
          f"{'sock err':>8}")
    for name, result in (("c64", c64), (f"{args.tabs} tabs", tabs)):
        print(f"{name:<12} {result['rps']:>8.0f} {result['p50_ms']:>8.1f} "
              f"{result['p99_ms']:>8.1f} {result['non_2xx']:>8} {result['socket_errors']:>8}")
    met = c64["rps"] >= GOAL_RPS_C64 and tabs["p99_ms"] <= GOAL_P99_MS_TABS
    print(f"\nGOAL {'MET' if met else 'MISSED'}: {c64['rps']:.0f} responses/s at -c 64 "
          f"(goal ≥ {GOAL_RPS_C64:.0f}); p99 {tabs['p99_ms']:.1f} ms for {args.tabs} tabs "
          f"(goal ≤ {GOAL_P99_MS_TABS:.0f} ms)")
    return {"poll_rps_c64": round(c64["rps"], 1), "poll_p99_ms_c64": round(c64["p99_ms"], 2),
            f"poll_p99_ms_{args.tabs}_tabs": round(tabs["p99_ms"], 2),
            f"poll_p50_ms_{args.tabs}_tabs": round(tabs["p50_ms"], 2),
            "poll_rps_tabs": round(tabs["rps"], 1),
            "errors": c64["non_2xx"] + c64["socket_errors"] + tabs["non_2xx"]
            + tabs["socket_errors"],
            "worker_class": args.worker_class, "web_workers": workers,
            "orders": args.orders, "database": "postgresql", "cores": cpu_count(),
            "tabs_phase": args.phase, "loadavg_1m_c64": load_c64,
            "loadavg_1m_tabs": load_tabs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="a PostgreSQL database of its own (created if missing; emptied)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--worker-class", default="gevent_pywsgi",
                        choices=("gevent_pywsgi", "gevent", "gthread", "sync"))
    parser.add_argument("--workers", type=int, default=0, help="default: one per core")
    parser.add_argument("--orders", type=int, default=1000, help="open orders polled")
    parser.add_argument("--tabs", type=int, default=2000)
    parser.add_argument("--phase", choices=("random", "together"), default="random",
                        help="tabs opened at random moments of the second (default), or "
                             "all at once, polling in step")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        sys.exit("the polling benchmark runs on PostgreSQL")
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()

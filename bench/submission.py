"""Benchmark: couriers submitting certificate requests through the JSON API.

Builds a PostgreSQL database of its own (emptied), an active root and intermediate,
example.com and one courier, starts ``gunicorn --worker-class gevent_pywsgi --workers <cores>
wsgi:app`` (no RQ worker: this measures intake — validation, policy, the order row, its
idempotency key and the job enqueued — not issuance), takes a bearer token and drives
Debian's ``wrk`` with 16 connections (16 concurrent clients) posting
``POST /api/v1/courier/certificates`` with a fresh common name per request, or with
``--batch N`` ``POST /api/v1/courier/certificates:batch`` with N such requests per call.

Goal (the scale issue): ≥ 500 orders/s with 16 clients, p99 ≤ 100 ms. Ends with one JSON
line: ``submit_per_s`` (accepted orders per second, counted in the database),
``submit_p99_ms`` (per HTTP request, i.e. per batch with ``--batch``), the orders found in
the database, errors and the load average. The courier's rate limit is switched off for
the run (``COURIER_RATE_LIMIT_PER_MINUTE=0``).

``--rate R`` paces the clients: R orders a second are offered on a fixed schedule (each
of wrk's threads sends a request every ``threads * batch / R`` seconds on a free
connection), so the latency is measured at a load, not at saturation, where 16 clients
that each wait for their answer make the latency 16 / throughput by construction. A
request sent more than 5 ms after its slot counts as late (``late_requests``; the
latency wrk reports starts when a request is sent, so late requests would hide queueing).

``--profile K`` instead sends K calls (of ``--batch`` requests each) through the app in
this process under cProfile (no gunicorn, no wrk) and prints where the server side's time
goes: the functions with the most own and cumulative time, and SQL statements and
CPU milliseconds per order.

    .venv/bin/python bench/submission.py [--database-url URL] [--redis-url URL]
        [--clients 16] [--seconds 10] [--batch 0] [--rate 0] [--profile 0]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_count, loadavg
from issuance import build_app, set_up_pki, settings
from polling import start_gunicorn, stop

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_submission"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
GOAL_PER_S = 500.0
GOAL_P99_MS = 100.0

# One fresh name per request: a per-thread prefix and a counter (wrk runs one Lua state
# per thread). With batch > 0 a body holds ``batch`` requests. Each thread counts the
# orders its answers accepted (202: one; a batch's 200: its "accepted").
LUA = """
local counter = 0
local prefix = "t"
local threads = 0
local all_threads = {}
local batch = %(batch)d
-- Paced (--rate): each thread sends on a fixed schedule, one request every interval_ms
-- (wrk calls delay() before each request of a connection); 0: as fast as answers come.
-- A request whose slot has passed goes at once and counts as late (late_ms: how far).
local interval_ms = %(interval_ms)f
local thread_count = %(threads)d
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
           int clock_gettime(int clock, bench_timespec *ts); ]]
local clock = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local next_slot = nil
accepted = 0
late = 0
late_ms_max = 0
delay = function()
  if interval_ms <= 0 then return 0 end
  local now = now_ms()
  -- The threads' schedules are staggered evenly (thread k starts (k-1)/threads of an
  -- interval late), so requests are offered one every interval_ms / threads. (Each wrk
  -- thread's Lua state has its own math.random with the same default seed: a random
  -- start gave every thread the same offset, and the requests came in simultaneous pairs.)
  if next_slot == nil then next_slot = now + (tid - 1) * interval_ms / thread_count end
  local slot = next_slot
  next_slot = next_slot + interval_ms
  if slot >= now then return slot - now end
  if now - slot > 5 then
    late = late + 1
    if now - slot > late_ms_max then late_ms_max = now - slot end
  end
  return 0
end
local function item()
  counter = counter + 1
  return '{"common_name": "' .. prefix .. '-' .. counter .. '.example.com", ' ..
         '"algorithm": "ec-256", "validity_days": 90}'
end
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
  table.insert(all_threads, thread)
end
init = function(args) prefix = "t" .. tid .. "-" .. os.time() end
request = function()
  local body
  if batch > 0 then
    local items = {}
    for i = 1, batch do items[i] = item() end
    body = '{"requests": [' .. table.concat(items, ", ") .. ']}'
  else
    body = item()
  end
  return wrk.format("POST", "%(path)s", nil, body)
end
response = function(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  elseif status == 200 then
    local n = string.match(body, '"accepted":%%s*(%%d+)')
    accepted = accepted + (tonumber(n) or 0)
  end
end
done = function(summary, latency, requests)
  local errors = summary.errors
  local taken, late_count, late_max = 0, 0, 0
  for _, thread in ipairs(all_threads) do
    taken = taken + thread:get("accepted")
    late_count = late_count + thread:get("late")
    late_max = math.max(late_max, thread:get("late_ms_max"))
  end
  io.write(string.format(
    'WRKJSON {"requests": %%d, "accepted": %%d, "seconds": %%.3f, "p50_ms": %%.2f, ' ..
    '"p99_ms": %%.2f, "non_2xx": %%d, "socket_errors": %%d, "late": %%d, ' ..
    '"late_ms_max": %%.1f}\\n',
    summary.requests, taken, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout, late_count, late_max))
end
"""


def fresh_database(url: str) -> None:
    """Drop and create the benchmark's own database (emptying its schema in place can fail
    on extension-backed indexes such as pg_trgm's)."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conninfo = parsed.set(drivername="postgresql", database="postgres") \
        .render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')


def make_courier(app) -> tuple[str, str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from app.services import couriers, domains

    # The courier's encryption key: platform-made keys go back encrypted to it.
    public_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with app.app_context():
        courier, secret = couriers.create_courier(
            "bench-courier", [domains.find_domain("example.com").id],
            public_key_pem=public_pem)
        return str(courier.id), courier.client_id, secret


PROBE = {"common_name": "probe.example.com", "algorithm": "ec-256", "validity_days": 90}


def body_for(batch: int, prefix: str) -> dict[str, Any]:
    """What the wrk script sends, for the in-process probe and profile."""
    items = [{"common_name": f"{prefix}-{i}.example.com", "algorithm": "ec-256",
              "validity_days": 90} for i in range(max(batch, 1))]
    return {"requests": items} if batch else items[0]


def accepted_orders(response: Any, batch: int) -> int:
    """How many orders one answer accepted (raises on an answer that is not a success)."""
    if batch:
        if response.status_code != 200:
            raise RuntimeError(f"a batch answered {response.status_code}: {response.text}")
        body = response.json() if callable(response.json) else response.get_json()
        return int(body["accepted"])
    if response.status_code != 202:
        raise RuntimeError(f"a submission answered {response.status_code}: {response.text}")
    return 1


def orders_in_database(app) -> int:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Order

    with app.app_context():
        return db.session.scalar(select(func.count(Order.id))) or 0


def drained(app, quiet_seconds: float = 1.0, limit_seconds: float = 120.0) -> int:
    """The order count once it stops moving: requests a finished wrk run left in flight
    (its clients gone, the server still working on them) must not be counted in — or
    slow down — the next run."""
    deadline = time.monotonic() + limit_seconds
    last = orders_in_database(app)
    while time.monotonic() < deadline:
        time.sleep(quiet_seconds)
        now = orders_in_database(app)
        if now == last:
            return now
        last = now
    return last


WRK_THREADS = 2


def drive(base: str, token: str, clients: int, seconds: int, batch: int,
          workdir: Path, rate: float = 0.0) -> dict[str, Any]:
    """One wrk run; ``rate`` > 0 offers that many orders a second on a fixed schedule
    (each of wrk's threads sends a request every ``threads * orders per request / rate``
    seconds on whichever of its connections is free), else each client sends its next
    request as soon as its answer is in."""
    path = "/api/v1/courier/certificates" + (":batch" if batch else "")
    script = workdir / f"submit-{batch}-{rate:g}.lua"
    interval_ms = WRK_THREADS * max(batch, 1) * 1000.0 / rate if rate > 0 else 0.0
    script.write_text(LUA % {"batch": batch, "path": path, "interval_ms": interval_ms,
                             "threads": WRK_THREADS})
    command = ["wrk", "-t", str(WRK_THREADS), "-c", str(clients), "-d", f"{seconds}s",
               "--timeout", "10s",
               "-s", str(script), "-H", f"Authorization: Bearer {token}",
               "-H", "Content-Type: application/json", base]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"wrk failed: {done.stderr}{done.stdout}")
    output = done.stdout
    line = next(x for x in output.splitlines() if x.startswith("WRKJSON "))
    return json.loads(line.removeprefix("WRKJSON "))


def run(args: argparse.Namespace) -> dict[str, Any]:
    fresh_database(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-submission-"))
    config = settings(args.database_url, args.redis_url, workdir)
    app = build_app(config)
    set_up_pki(app)
    courier_id, client_id, secret = make_courier(app)
    env = {**os.environ, "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url,
           "RQ_QUEUE": config["RQ_QUEUE"], "SECRET_KEY": config["SECRET_KEY"],
           "APP_ENV": "development", "INSTANCE_PATH": str(workdir),
           "DATABASE_POOL_SIZE": "10", "COURIER_RATE_LIMIT_PER_MINUTE": "0",
           "COURIER_AUTH_RATE_LIMIT_PER_MINUTE": "0"}
    env.pop("KEY_ENCRYPTION_KEYS", None)
    workers = args.workers or cpu_count()
    proc, base = start_gunicorn(env, args.worker_class, workers, workdir / "gunicorn.log")
    try:
        token = requests.post(f"{base}/api/v1/courier/auth", timeout=30, json={
            "uuid": courier_id, "client_id": client_id, "client_secret": secret}).json()["token"]
        probe = requests.post(f"{base}/api/v1/courier/certificates" +
                              (":batch" if args.batch else ""), timeout=60,
                              headers={"Authorization": f"Bearer {token}"},
                              json={"requests": [PROBE] * args.batch} if args.batch
                              else PROBE)
        if accepted_orders(probe, args.batch) != max(args.batch, 1):
            raise RuntimeError(f"the probe was not accepted whole: {probe.text}")
        drive(base, token, args.clients, 3, args.batch, workdir, args.rate)  # warm-up
        before = drained(app)
        load = loadavg()
        result = drive(base, token, args.clients, args.seconds, args.batch, workdir,
                       args.rate)
        load_after = loadavg()
        made = drained(app) - before
    finally:
        stop(proc)
        from redis import Redis
        from rq import Queue
        Queue(config["RQ_QUEUE"], connection=Redis.from_url(args.redis_url)).empty()
    # Orders accepted by the answers wrk received within its run; the database count
    # (drained) also holds the requests still in flight when wrk stopped.
    per_s = result["accepted"] / result["seconds"]
    per_item = max(args.batch, 1)
    print(f"\n{result['requests']} requests ({per_item} order(s) each) in "
          f"{result['seconds']:.1f} s: {result['accepted']} orders accepted ({made} written "
          f"with those in flight at the end), {per_s:.0f} orders/s, "
          f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms per request")
    if args.rate:
        print(f"paced at {args.rate:.0f} orders/s offered: {result['late']} requests sent "
              f"more than 5 ms after their slot (at most {result['late_ms_max']:.0f} ms)")
    met = per_s >= GOAL_PER_S and result["p99_ms"] <= GOAL_P99_MS
    print(f"GOAL {'MET' if met else 'MISSED'}: {per_s:.0f} orders/s (goal ≥ "
          f"{GOAL_PER_S:.0f}), p99 {result['p99_ms']:.1f} ms (goal ≤ {GOAL_P99_MS:.0f})")
    return {"submit_per_s": round(per_s, 1), "submit_p99_ms": round(result["p99_ms"], 2),
            "submit_p50_ms": round(result["p50_ms"], 2), "batch": args.batch,
            "requests": result["requests"], "orders_accepted": result["accepted"],
            "orders_written": made, "expected_orders": result["requests"] * per_item,
            "errors": result["non_2xx"] + result["socket_errors"],
            "clients": args.clients, "rate_offered": args.rate,
            "late_requests": result["late"], "late_ms_max": result["late_ms_max"],
            "worker_class": args.worker_class,
            "web_workers": workers, "database": "postgresql", "cores": cpu_count(),
            "loadavg_1m": load, "loadavg_1m_after": load_after}


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """K calls through the app in this process, the server side under cProfile."""
    from sqlalchemy import event

    from app.extensions import db

    fresh_database(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-submission-profile-"))
    config = settings(args.database_url, args.redis_url, workdir)
    app = build_app(config)
    set_up_pki(app)
    app.config.update(COURIER_RATE_LIMIT_PER_MINUTE=0, COURIER_AUTH_RATE_LIMIT_PER_MINUTE=0)
    courier_id, client_id, secret = make_courier(app)
    client = app.test_client()
    token = client.post("/api/v1/courier/auth", json={
        "uuid": courier_id, "client_id": client_id, "client_secret": secret}).get_json()["token"]
    path = "/api/v1/courier/certificates" + (":batch" if args.batch else "")
    headers = {"Authorization": f"Bearer {token}"}
    counts = {"statements": 0}
    with app.app_context():
        engine = db.engine

    def statement(*_: Any) -> None:
        counts["statements"] += 1

    event.listen(engine, "before_cursor_execute", statement)
    profiler = cProfile.Profile() if args.cprofile else None
    wall = cpu = 0.0
    inner = app.wsgi_app

    def profiled(environ: Any, start_response: Any) -> Any:
        nonlocal wall, cpu
        started, started_cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        try:
            return list(inner(environ, start_response))
        finally:
            if profiler is not None:
                profiler.disable()
            wall += time.perf_counter() - started
            cpu += time.process_time() - started_cpu

    for warm in range(3):  # caches (policy index, statement cache, imports) warm
        accepted_orders(client.post(path, json=body_for(args.batch, f"warm{warm}"),
                                    headers=headers), args.batch)
    counts["statements"] = 0
    app.wsgi_app = profiled  # type: ignore[method-assign]
    orders = 0
    try:
        for call in range(args.profile):
            orders += accepted_orders(client.post(path, json=body_for(args.batch, f"p{call}"),
                                                  headers=headers), args.batch)
    finally:
        app.wsgi_app = inner  # type: ignore[method-assign]
        event.remove(engine, "before_cursor_execute", statement)
        from redis import Redis
        from rq import Queue
        Queue(config["RQ_QUEUE"], connection=Redis.from_url(args.redis_url)).empty()
    if profiler is not None and args.profile_out:
        profiler.dump_stats(args.profile_out)
    for key in ("tottime", "cumulative") if profiler is not None else ():
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(30)
        text = out.getvalue()
        print(text[text.index("   ncalls"):])
    return {"profile_calls": args.profile, "batch": args.batch, "orders": orders,
            "server_ms_per_call": round(1000 * wall / args.profile, 2),
            "server_ms_per_order": round(1000 * wall / orders, 3),
            "cpu_ms_per_order": round(1000 * cpu / orders, 3),
            "sql_statements_per_call": round(counts["statements"] / args.profile, 1),
            "sql_statements_per_order": round(counts["statements"] / orders, 3),
            "cprofile": args.cprofile, "database": "postgresql", "cores": cpu_count(),
            "loadavg_1m": loadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="a PostgreSQL database of its own (created if missing; emptied)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--worker-class", default="gevent_pywsgi",
                        choices=("gevent_pywsgi", "gevent", "gthread", "sync"),
                        help="gunicorn's worker class (default: the deployment's)")
    parser.add_argument("--workers", type=int, default=0, help="default: one per core")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0.0, metavar="ORDERS_PER_S",
                        help="offer this many orders a second on a fixed schedule "
                             "(latency at a given load); default 0: each client sends "
                             "again as soon as answered (the most the server takes)")
    parser.add_argument("--batch", type=int, default=0,
                        help="requests per POST /api/v1/courier/certificates:batch call, "
                             "1-100 (0: one request per POST /api/v1/courier/certificates)")
    parser.add_argument("--profile", type=int, default=0, metavar="K",
                        help="profile K calls in this process instead of running wrk")
    parser.add_argument("--profile-out", metavar="PATH",
                        help="with --profile: also write the pstats file (python -m pstats)")
    parser.add_argument("--no-cprofile", dest="cprofile", action="store_false",
                        help="with --profile: time and count only (cProfile's overhead "
                             "roughly doubles the figures)")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        sys.exit("the submission benchmark runs on PostgreSQL")
    if args.rate < 0:
        sys.exit("--rate takes orders per second above 0 (or 0: as fast as answered)")
    if not 0 <= args.batch <= 100:
        sys.exit("--batch takes 0 (no batch) or 1 to 100 requests per call")
    print(json.dumps(profile(args) if args.profile else run(args)))


if __name__ == "__main__":
    main()

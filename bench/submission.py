"""Benchmark: couriers submitting certificate requests through the JSON API.

Builds a PostgreSQL database of its own (emptied), an active root and intermediate,
example.com and one courier, starts ``gunicorn --worker-class gevent --workers <cores>
wsgi:app`` (no RQ worker: this measures intake — validation, policy, the order row, its
idempotency key and the job enqueued — not issuance), takes a bearer token and drives
Debian's ``wrk`` with 16 connections (16 concurrent clients) posting
``POST /api/v1/courier/certificates`` with a fresh common name per request
(``--batch N`` is for a ``:batch`` endpoint of N requests per call, which is not built
yet: the option refuses to run until it is).

Goal (the scale issue): ≥ 500 orders/s with 16 clients, p99 ≤ 100 ms. Ends with one JSON
line: ``submit_per_s`` (accepted orders per second), ``submit_p99_ms`` (per HTTP request),
the orders found in the database, errors and the load average. The courier's rate limit is
switched off for the run (``COURIER_RATE_LIMIT_PER_MINUTE=0``).

    .venv/bin/python bench/submission.py [--database-url URL] [--redis-url URL]
        [--clients 16] [--seconds 10] [--batch 0]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_count, loadavg
from issuance import build_app, ensure_database, set_up_pki, settings
from polling import start_gunicorn, stop

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_submission"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
GOAL_PER_S = 500.0
GOAL_P99_MS = 100.0

# One fresh name per request: a per-thread prefix and a counter (wrk runs one Lua state
# per thread). With batch > 0 a body holds ``batch`` requests.
LUA = """
local counter = 0
local prefix = "t"
local threads = 0
local batch = %(batch)d
local function item()
  counter = counter + 1
  return '{"common_name": "' .. prefix .. '-' .. counter .. '.example.com", ' ..
         '"algorithm": "ec-256", "validity_days": 90}'
end
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
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
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "seconds": %%.3f, "p50_ms": %%.2f, "p99_ms": %%.2f, ' ..
    '"non_2xx": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
"""


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


def orders_in_database(app) -> int:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Order

    with app.app_context():
        return db.session.scalar(select(func.count(Order.id))) or 0


def drive(base: str, token: str, clients: int, seconds: int, batch: int,
          workdir: Path) -> dict[str, Any]:
    path = "/api/v1/courier/certificates" + (":batch" if batch else "")
    script = workdir / f"submit-{batch}.lua"
    script.write_text(LUA % {"batch": batch, "path": path})
    command = ["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds}s", "--timeout", "10s",
               "-s", str(script), "-H", f"Authorization: Bearer {token}",
               "-H", "Content-Type: application/json", base]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"wrk failed: {done.stderr}{done.stdout}")
    output = done.stdout
    line = next(x for x in output.splitlines() if x.startswith("WRKJSON "))
    return json.loads(line.removeprefix("WRKJSON "))


def run(args: argparse.Namespace) -> dict[str, Any]:
    ensure_database(args.database_url)
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
                              json={"common_name": "probe.example.com", "algorithm": "ec-256",
                                    "validity_days": 90})
        if probe.status_code != 202 and not args.batch:
            raise RuntimeError(f"a submission answered {probe.status_code}: {probe.text}")
        drive(base, token, args.clients, 3, args.batch, workdir)  # warm-up
        before = orders_in_database(app)
        load = loadavg()
        result = drive(base, token, args.clients, args.seconds, args.batch, workdir)
        made = orders_in_database(app) - before
    finally:
        stop(proc)
        from redis import Redis
        from rq import Queue
        Queue(config["RQ_QUEUE"], connection=Redis.from_url(args.redis_url)).empty()
    per_s = made / result["seconds"]
    per_item = max(args.batch, 1)
    print(f"\n{result['requests']} requests ({per_item} order(s) each) in "
          f"{result['seconds']:.1f} s: {made} orders written, {per_s:.0f} orders/s, "
          f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms per request")
    met = per_s >= GOAL_PER_S and result["p99_ms"] <= GOAL_P99_MS
    print(f"GOAL {'MET' if met else 'MISSED'}: {per_s:.0f} orders/s (goal ≥ "
          f"{GOAL_PER_S:.0f}), p99 {result['p99_ms']:.1f} ms (goal ≤ {GOAL_P99_MS:.0f})")
    return {"submit_per_s": round(per_s, 1), "submit_p99_ms": round(result["p99_ms"], 2),
            "submit_p50_ms": round(result["p50_ms"], 2), "batch": args.batch,
            "requests": result["requests"], "orders_written": made,
            "expected_orders": result["requests"] * per_item,
            "errors": result["non_2xx"] + result["socket_errors"],
            "clients": args.clients, "worker_class": args.worker_class,
            "web_workers": workers, "database": "postgresql", "cores": cpu_count(),
            "loadavg_1m": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="a PostgreSQL database of its own (created if missing; emptied)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--worker-class", default="gevent",
                        choices=("gevent", "gthread", "sync"))
    parser.add_argument("--workers", type=int, default=0, help="default: one per core")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=0,
                        help="requests per :batch call (0: one request per call); the "
                             "batch endpoint does not exist yet, so only 0 runs today")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        sys.exit("the submission benchmark runs on PostgreSQL")
    if args.batch:
        sys.exit("POST /api/v1/courier/certificates:batch is not built yet (see "
                 "docs/performance.md: the per-order service work is the cost)")
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()

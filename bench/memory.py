"""Benchmark: resident memory of a web worker and an RQ worker as orders accumulate.

Builds a PostgreSQL database of its own (emptied), an active root and intermediate, starts
one RQ worker (``python worker.py``, the non-forking worker: its RSS is the one that
matters) and one gunicorn gevent web worker. Then, twice — up to ``--small`` orders and up
to ``--large`` orders in total —: submits orders through the service layer, waits until
the worker has issued every one, and has the web worker serve status-fragment polls of
those orders (up to 200 per 400 orders, 16 at a time) plus Orders pages; then reads
``VmRSS`` of both processes from ``/proc``.

Goal (the scale issue): growth ≤ 5 % between the two sizes (defaults 10,000 and 100,000;
``--small``/``--large`` run it smaller on a busy machine). Ends with one JSON line:
``rss_mb_web_<small>``, ``rss_mb_web_<large>``, ``rss_mb_worker_<small>``,
``rss_mb_worker_<large>`` (sizes written as 10k/100k …), growth in percent, load average.

    .venv/bin/python bench/memory.py [--database-url URL] [--redis-url URL]
        [--small 10000] [--large 100000]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_count, loadavg
from issuance import (
    ADMIN,
    build_app,
    ensure_database,
    set_up_pki,
    settings,
    start_workers,
    stop_workers,
    submit_and_wait,
)
from polling import session_cookie, start_gunicorn, stop

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_memory"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
GOAL_GROWTH_PERCENT = 5.0
CHUNK = 400  # orders submitted, then issued, at a time
POLLS_PER_CHUNK = 200  # status polls of the chunk's orders served by the web worker



def rss_mb(pid: int) -> float:
    match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return round(int(match.group(1)) / 1024, 1) if match else 0.0


def web_worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def order_ids(app, since: int) -> list[str]:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Order

    with app.app_context():
        rows = db.session.scalars(select(Order.id).order_by(Order.submitted_at)
                                  .offset(since)).all()
    return [str(r) for r in rows]


def serve(base: str, cookie: str, paths: list[str]) -> None:
    """Each path once, 16 at a time (wrk cannot stop after a number of requests)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import requests

    local = threading.local()

    def get(path: str) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers.update({"Cookie": cookie, "HX-Request": "true"})
        answer = local.session.get(base + path, timeout=60)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path} answered {answer.status_code}")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(get, paths))


def label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def run(args: argparse.Namespace) -> dict[str, Any]:
    ensure_database(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    config = settings(args.database_url, args.redis_url, workdir)
    app = build_app(config)
    issuer = set_up_pki(app)
    env = {**os.environ, "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url,
           "RQ_QUEUE": config["RQ_QUEUE"], "SECRET_KEY": config["SECRET_KEY"],
           "APP_ENV": "development", "INSTANCE_PATH": str(workdir)}
    env.pop("KEY_ENCRYPTION_KEYS", None)
    workers = start_workers(config, 1, workdir)
    web, base = start_gunicorn(env, "gevent", 1,
                               workdir / "gunicorn.log")
    figures: dict[str, Any] = {}
    try:
        web_pid = web_worker_pid(web.pid)
        cookie = session_cookie(base, ADMIN)
        done = 0
        for target in (args.small, args.large):
            while done < target:
                size = min(CHUNK, target - done)
                submit_and_wait(app, issuer, size, f"m{done}")
                paths = [f"/orders/{i}/status"
                         for i in order_ids(app, done)[:POLLS_PER_CHUNK]]
                paths += ["/orders/"] * 5
                serve(base, cookie, paths)
                done += size
                print(f"  {done:,} orders: web {rss_mb(web_pid)} MB, "
                      f"worker {rss_mb(workers[0].pid)} MB", file=sys.stderr, flush=True)
            figures[f"rss_mb_web_{label(target)}"] = rss_mb(web_pid)
            figures[f"rss_mb_worker_{label(target)}"] = rss_mb(workers[0].pid)
            figures[f"loadavg_1m_{label(target)}"] = loadavg()
    finally:
        stop(web)
        stop_workers(workers)
    small, large = label(args.small), label(args.large)
    for kind in ("web", "worker"):
        before, after = figures[f"rss_mb_{kind}_{small}"], figures[f"rss_mb_{kind}_{large}"]
        figures[f"growth_percent_{kind}"] = round((after - before) / before * 100, 1)
    worst = max(figures["growth_percent_web"], figures["growth_percent_worker"])
    print(f"GOAL {'MET' if worst <= GOAL_GROWTH_PERCENT else 'MISSED'}: growth "
          f"{worst:.1f} % between {args.small:,} and {args.large:,} orders "
          f"(goal ≤ {GOAL_GROWTH_PERCENT:.0f} %)")
    figures.update(database="postgresql", cores=cpu_count(), started=time.strftime("%H:%M"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="a PostgreSQL database of its own (created if missing; emptied)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql") or args.small >= args.large:
        sys.exit("runs on PostgreSQL, with --small below --large")
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()

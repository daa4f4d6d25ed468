"""Benchmark: the Orders page over 1,000,000 orders in PostgreSQL.

Builds the schema with the migrations in a PostgreSQL database of its own (created when
missing, emptied first), seeds N orders (default 1,000,000) with one set-based INSERT per
100,000 rows, then times real GETs of the Orders page through the Flask test client as
an administrator (who sees every order), server side (``ServerTimer`` around the WSGI app):

- ``first_page``:  ``/orders/`` — the summary cards (counts per status) and 25 newest orders;
- ``filtered``:    ``/orders/?status=failed&pathway=courier`` — cards and page, filtered;
- ``search``:      ``/orders/?q=<fragment>`` — a common-name substring search;
- ``search_one``:  ``/orders/?q=<name>`` — one order's whole name, taken from PostgreSQL's
  histogram of names: the planner then guesses 1 % of the orders match (the trap of
  walking the orders newest first until a page is full, app/services/order_queries.py);
- ``page_1000``:   ``/orders/?before=<cursor>`` — the 1,000th page (cursor of row 24,975).

Goal (the scale issue): p95 ≤ 20 ms for each view (the status cards served from the
short-lived counts cache, app/services/order_counts.py; ``*_recount`` figures give the cost
of the recount that fills it). Prints a table and ends with one JSON
line (``p95_ms_first_page``, ``p95_ms_filtered``, ``p95_ms_search``, ``p95_ms_search_one``,
``p95_ms_page_1000``
plus medians and CPU times). ``--reuse`` skips seeding when the database already holds
exactly N orders from an earlier run.

    .venv/bin/python bench/orders_page.py [--database-url URL] [--redis-url URL] [--orders N]
        [--iterations N] [--reuse]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ServerTimer, cpu_count, loadavg, login, percentile

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_orders"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
ADMIN = "bench-admin@example.com"
USERS = 200
BATCH = 100_000
GOAL_P95_MS = 20.0
PAGE_SIZE = 25
SEARCH = "host-4242"


def ensure_database(url: str) -> None:
    """Create the database named by ``url`` when it does not exist."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (parsed.database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


def build_app(url: str, instance: Path, fresh: bool, redis_url: str = DEFAULT_REDIS):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db

    os.environ["INSTANCE_PATH"] = str(instance)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True,
                      "SECRET_KEY": "bench-" + uuid.uuid4().hex, "INSTANCE_PATH": str(instance),
                      "APP_ENV": "development", "PAGE_SIZE": PAGE_SIZE,
                      "REDIS_URL": redis_url})
    with app.app_context():
        if fresh:
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
        upgrade()
    return app


def seeded_count(app) -> int:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Order

    with app.app_context():
        return db.session.scalar(select(func.count(Order.id))) or 0


def seed(app, orders: int) -> None:
    """The admin, USERS plain users, and ``orders`` orders over the last two years: a mix of
    statuses, pathways, types and requesters like a busy platform's (90 % complete)."""
    from sqlalchemy import text

    from app.extensions import db
    from app.services import users

    with app.app_context():
        users.create_user(ADMIN, role="super_admin", password="correct horse battery staple")
        db.session.execute(text(
            "INSERT INTO users (email, name, role, password_hash, enabled, "
            "must_change_password, email_notifications, created_at) "
            "SELECT 'user' || g || '@example.com', 'User ' || g, 'user', 'x', true, false, "
            "true, now() FROM generate_series(1, :n) g"), {"n": USERS})
        db.session.commit()
        first_user = db.session.scalar(text("SELECT min(id) FROM users WHERE role = 'user'"))
        for start in range(0, orders, BATCH):
            size = min(BATCH, orders - start)
            began = time.perf_counter()
            db.session.execute(text(_SEED_SQL), {"start": start, "size": size,
                                                 "first_user": first_user, "users": USERS,
                                                 "total": orders})
            db.session.commit()
            print(f"  seeded {start + size:,} orders ({time.perf_counter() - began:.1f} s)",
                  file=sys.stderr, flush=True)
        db.session.execute(text("ANALYZE"))
        db.session.commit()


_SEED_SQL = """
INSERT INTO orders (id, type, pathway, status, common_name, request, provider_id,
                    requested_by_user_id, requested_by_label, requested_by_kind,
                    submitted_at, started_at, finished_at, error, attempts, checks,
                    revoke_predecessor)
SELECT md5('order-' || g)::uuid,
       'local_pki',
       (ARRAY['wizard','csr_upload','courier','wizard','courier'])[1 + g % 5],
       CASE WHEN g % 20 = 2 THEN 'failed' WHEN g % 50 = 1 THEN 'pending'
            WHEN g % 97 = 3 THEN 'processing' ELSE 'complete' END,
       'host-' || g || '.d' || (g % 1000) || '.example.com',
       json_build_object('common_name', 'host-' || g || '.d' || (g % 1000) || '.example.com',
                         'algorithm', 'ec-256', 'digest', 'sha256', 'validity_days', 90),
       (SELECT id FROM certificate_providers WHERE type = 'builtin' LIMIT 1),
       :first_user + g % :users,
       'user' || (1 + g % :users) || '@example.com',
       CASE WHEN g % 5 IN (2, 4) THEN 'courier' ELSE 'user' END,
       now() - ((:total - g) * interval '63 seconds'),
       now() - ((:total - g) * interval '63 seconds') + interval '1 second',
       CASE WHEN g % 50 = 1 OR g % 97 = 3 THEN NULL
            ELSE now() - ((:total - g) * interval '63 seconds') + interval '2 seconds' END,
       CASE WHEN g % 20 = 2 THEN 'The provider refused the request.' ELSE NULL END,
       1, 0, false
FROM generate_series(:start + 1, :start + :size) AS g
"""


def page_1000_cursor(app) -> str:
    """The cursor the 999th page hands out (its last row), as the page itself makes it."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Order

    with app.app_context():
        row = db.session.execute(
            select(Order.submitted_at, Order.id)
            .order_by(Order.submitted_at.desc(), Order.id.desc())
            .offset(999 * PAGE_SIZE - 1).limit(1)).one()
    return f"{row.submitted_at.isoformat()}_{row.id}"


def search_index(app) -> str:
    """How the common-name search is indexed (access method and operator class, migration
    0005_w2), for the record: the search's figure depends on it."""
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        definition = db.session.scalar(text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_orders_common_name_trgm'"))
    return definition.split(" USING ", 1)[1] if definition else "none"


def planner_histogram_name(app) -> str:
    """A name from the middle of PostgreSQL's histogram of ``orders.common_name`` (one
    order has it); the SEARCH-like name of the middle order when there is no histogram."""
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        bounds = db.session.scalar(text(
            "SELECT histogram_bounds::text::text[] FROM pg_stats "
            "WHERE tablename = 'orders' AND attname = 'common_name'"))
        if bounds:
            return bounds[len(bounds) // 2]
        middle = db.session.scalar(text("SELECT count(*) / 2 FROM orders"))
        return f"host-{middle}.d{middle % 1000}.example.com"


def measure(client, url: str, iterations: int, expect: str) -> dict[str, float]:
    client.get(url)  # warm-up: plans cached, templates compiled
    walls, cpus = [], []
    for _ in range(iterations):
        response = client.get(url)
        if response.status_code != 200 or expect not in response.get_data(as_text=True):
            raise RuntimeError(f"GET {url} answered {response.status_code} without {expect!r}")
        wall, cpu = client.application.wsgi_app.last
        walls.append(wall)
        cpus.append(cpu)
    return {"median": statistics.median(walls), "p95": percentile(walls, 0.95),
            "cpu_median": statistics.median(cpus), "cpu_p95": percentile(cpus, 0.95)}


def run(url: str, redis_url: str, orders: int, iterations: int,
        reuse: bool) -> dict[str, Any]:
    ensure_database(url)
    instance = Path(tempfile.mkdtemp(prefix="bench-orders-"))
    app = build_app(url, instance, fresh=False, redis_url=redis_url)
    if not (reuse and seeded_count(app) == orders):
        app = build_app(url, instance, fresh=True, redis_url=redis_url)
        began = time.perf_counter()
        seed(app, orders)
        seed_s = round(time.perf_counter() - began, 1)
        print(f"seeded {orders:,} orders in {seed_s:.0f} s", file=sys.stderr)
    else:
        seed_s = None
        print(f"reusing the {orders:,} orders already seeded", file=sys.stderr)
    app.wsgi_app = ServerTimer(app.wsgi_app)  # type: ignore[method-assign]
    client = app.test_client()
    login(client, ADMIN)
    one = planner_histogram_name(app)
    views = {
        "first_page": ("/orders/", "host-"),
        "filtered": ("/orders/?status=failed&pathway=courier", "host-"),
        "search": (f"/orders/?q={SEARCH}", SEARCH),
        "search_one": (f"/orders/?q={quote(one)}", one),
        "page_1000": (f"/orders/?before={page_1000_cursor(app)}", "host-"),
    }
    figures: dict[str, Any] = {}
    print(f"\n{'view':<12} {'median ms':>10} {'p95 ms':>8} {'CPU med':>8} {'CPU p95':>8}")
    for name, (path, expect) in views.items():
        result = measure(client, path, iterations, expect)
        print(f"{name:<12} {result['median']:>10.2f} {result['p95']:>8.2f} "
              f"{result['cpu_median']:>8.2f} {result['cpu_p95']:>8.2f}")
        figures[f"p95_ms_{name}"] = round(result["p95"], 2)
        figures[f"p50_ms_{name}"] = round(result["median"], 2)
        figures[f"cpu_p95_ms_{name}"] = round(result["cpu_p95"], 2)
    worst = max(figures[f"p95_ms_{name}"] for name in views)
    # What one recount of the cards costs (paid once per ORDER_COUNTS_CACHE_SECONDS per
    # filter set when the set is large; every view when the cache is off).
    app.config["ORDER_COUNTS_CACHE_SECONDS"] = 0
    for name in ("first_page", "filtered"):
        result = measure(client, views[name][0], 3, views[name][1])
        print(f"{name + ' recount':<12} {result['median']:>10.2f} {result['p95']:>8.2f}")
        figures[f"p50_ms_{name}_recount"] = round(result["median"], 2)
    print(f"\nGOAL {'MET' if worst <= GOAL_P95_MS else 'MISSED'}: worst p95 {worst:.1f} ms "
          f"(goal ≤ {GOAL_P95_MS:.0f} ms)")
    figures.update(orders=orders, iterations=iterations, seed_s=seed_s,
                   search_index=search_index(app), database="postgresql",
                   cores=cpu_count(), loadavg_1m=loadavg())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="a PostgreSQL database of its own (created if missing; emptied)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS,
                        help="Redis for the status-card counts cache")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the orders of an earlier run if there are exactly N")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        sys.exit("the Orders page benchmark runs on PostgreSQL")
    print(json.dumps(run(args.database_url, args.redis_url, args.orders, args.iterations,
                         args.reuse)))


if __name__ == "__main__":
    main()

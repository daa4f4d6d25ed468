"""Benchmark: the audit log's CSV and JSON export over a large trail, streamed.

Seeds N audit events (default 1,000,000) in one INSERT … SELECT, logs in as a super
admin, times a few audit log pages (first page, filtered by action, by actor, by outcome and
resource type), then downloads ``/admin/audit/export.csv`` and ``export.json`` through the
Flask test client without buffering, reading the body chunk by chunk. Reports rows, seconds, rows/s,
and the process's resident memory before and at its peak while streaming: the export
reads keyset batches of plain rows, so the growth must stay flat (a few MB) whatever N is.

    .venv/bin/python bench/audit_export.py [--database-url URL] [--events N]

``--database-url`` must name an empty database (PostgreSQL recommended for a million
rows; the default is a fresh SQLite file). The last line printed is the JSON of the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

EMAIL = "bench-admin@example.com"
PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
GOAL_RSS_GROWTH_MB = 64


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def seed(app, events: int) -> float:
    from app.extensions import db

    started = time.perf_counter()
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(
                "INSERT INTO audit_events (timestamp, actor_label, action, resource_type, "
                "resource_id, outcome, details, source_ip) "
                "SELECT now() - (g || ' seconds')::interval, 'user' || (g % 97) || "
                "'@example.com', (ARRAY['order.submit','certificate.issue','auth.login',"
                "'certificate.download'])[1 + g % 4], 'order', g::text, "
                "CASE WHEN g % 50 = 0 THEN 'failure' ELSE 'success' END, "
                "json_build_object('common_name', 'host' || g || '.example.com', 'n', g), "
                "'10.0.0.1' FROM generate_series(1, :n) AS g"), {"n": events})
        else:
            db.session.execute(text(
                "INSERT INTO audit_events (timestamp, actor_label, action, resource_type, "
                "resource_id, outcome, details, source_ip) "
                "WITH RECURSIVE c(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM c WHERE g < :n) "
                "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || g || ' seconds') || "
                "'+00:00', 'user' || (g % 97) || '@example.com', CASE g % 4 WHEN 0 THEN "
                "'order.submit' WHEN 1 THEN 'certificate.issue' WHEN 2 THEN 'auth.login' "
                "ELSE 'certificate.download' END, 'order', CAST(g AS TEXT), CASE WHEN "
                "g % 50 = 0 THEN 'failure' ELSE 'success' END, json_object('common_name', "
                "'host' || g || '.example.com', 'n', g), '10.0.0.1' FROM c"), {"n": events})
        db.session.commit()
        # A table that grows day by day is analysed by autovacuum; one bulk insert is not
        # yet, and without statistics the planner misjudges the filters.
        db.session.execute(text("ANALYZE audit_events" if db.engine.dialect.name ==
                                "postgresql" else "ANALYZE"))
        db.session.commit()
    return time.perf_counter() - started


def export(client, fmt: str) -> dict[str, float]:
    before = rss_mb()
    peak = before
    started = time.perf_counter()
    response = client.get(f"/admin/audit/export.{fmt}", buffered=False)
    assert response.status_code == 200, response.status_code
    size = 0
    newlines = 0
    for chunk in response.response:
        data = chunk if isinstance(chunk, bytes) else chunk.encode()
        size += len(data)
        newlines += data.count(b"\n")
        peak = max(peak, rss_mb())
    response.close()
    seconds = time.perf_counter() - started
    rows = newlines - (1 if fmt == "csv" else 2)   # the header; "\n]\n" after the array
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
            "mb": round(size / 1e6, 1), "rss_before_mb": round(before, 1),
            "rss_peak_mb": round(peak, 1), "rss_growth_mb": round(peak - before, 1)}


def page_times(client, path: str, runs: int = 20) -> dict[str, float]:
    """Median and worst of ``runs`` GETs of an audit log page (after one warm-up)."""
    client.get(path)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    times.sort()
    return {"p50_ms": round(times[len(times) // 2], 1), "max_ms": round(times[-1], 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from app import create_app
    from app.services import users

    tmp = tempfile.mkdtemp(prefix="bench-audit-")
    os.environ["INSTANCE_PATH"] = tmp
    url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": uuid.uuid4().hex * 2,
                      "WTF_CSRF_ENABLED": True, "REDIS_URL": "redis://127.0.0.1:6379/15"})
    with app.app_context():
        upgrade()
        users.create_user(EMAIL, role="super_admin", password=PASSWORD)
    seconds = seed(app, args.events)
    print(f"seeded {args.events:,} events in {seconds:.1f} s")

    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    figures: dict[str, object] = {"events": args.events,
                                  "database": url.split(":", 1)[0].split("+")[0],
                                  "loadavg_1m": round(os.getloadavg()[0], 2)}
    for name, path in (("page_first", "/admin/audit/"),
                       ("page_action", "/admin/audit/?action=certificate.issue"),
                       ("page_actor", "/admin/audit/?actor=user42%40"),
                       ("page_failures", "/admin/audit/?outcome=failure&resource_type=order")):
        result = page_times(client, path)
        print(f"{path}: median {result['p50_ms']} ms, worst {result['max_ms']} ms")
        figures.update({f"{name}_{k}": v for k, v in result.items()})
    for fmt in ("csv", "json"):
        result = export(client, fmt)
        print(f"{fmt}: {result['rows']:,} rows in {result['seconds']} s "
              f"({result['rows_per_s']:,} rows/s, {result['mb']} MB); RSS "
              f"{result['rss_before_mb']} → {result['rss_peak_mb']} MB "
              f"(+{result['rss_growth_mb']} MB)")
        figures.update({f"{fmt}_{k}": v for k, v in result.items()})
    growth = max(figures["csv_rss_growth_mb"], figures["json_rss_growth_mb"])  # type: ignore[type-var]
    print(("GOAL MET" if growth <= GOAL_RSS_GROWTH_MB else "GOAL MISSED") +
          f": memory growth while streaming {growth} MB (goal ≤ {GOAL_RSS_GROWTH_MB} MB)")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

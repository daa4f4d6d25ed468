"""Benchmark: the certificate inventory and the expiry scan over 1,000,000 certificates in
PostgreSQL.

Builds the schema with the migrations in a PostgreSQL database of its own (created when
missing, emptied first), seeds N certificates (default 1,000,000; 70 % managed with an
owner, 30 % discovered; 1 % revoked; notAfter spread from 20 days ago to 400 days ahead)
with one set-based INSERT per 100,000 rows, then times real GETs of the inventory through
the Flask test client as an administrator (who sees every certificate), server side
(``ServerTimer`` around the WSGI app):

- ``first_page``: ``/certificates/`` — the 25 newest certificates;
- ``filtered``:   ``/certificates/?status=active&source=discovered``;
- ``search``:     ``/certificates/?q=<fragment>`` — a name (CN or SAN) substring search;
- ``expiring``:   ``/certificates/?expiring=30`` — expiring within 30 days;

and the expiry scan over all of them (``expiry.scan``: every threshold, the alerts and
the bookkeeping, in one transaction; no SMTP or webhook is configured), then a second scan
(which must raise nothing), then the home page ``/`` with the scan's alerts in place
(``p95_ms_home``: the platform's counts and the administrator's own lists).

Goal (issue 14): p95 ≤ 50 ms for each view, the scan under 60 s. Prints a table and ends
with one JSON line (``p95_ms_first_page``, ``p95_ms_filtered``, ``p95_ms_search``,
``p95_ms_expiring``, ``expiry_scan_s`` …). ``--reuse`` skips seeding when the database
already holds exactly N certificates (the expiry alerts of the earlier run are deleted
first, so the scan covers them all again).

    .venv/bin/python bench/inventory.py [--database-url URL] [--certificates N]
        [--iterations N] [--reuse]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ServerTimer, cpu_count, loadavg, login, percentile
from orders_page import build_app, ensure_database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_inventory"
ADMIN = "bench-admin@example.com"
USERS = 200
BATCH = 100_000
GOAL_P95_MS = 50.0
GOAL_SCAN_S = 60.0
SEARCH = "host-4242"


def _trgm_indexes() -> dict[str, str]:
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "migrations" / "versions" / \
        "0015_w14_inventory_search.py"
    spec = importlib.util.spec_from_file_location("inventory_search", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return dict(module.INDEXES)


TRGM_INDEXES = _trgm_indexes()


def seeded_count(app) -> int:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Certificate

    with app.app_context():
        return db.session.scalar(select(func.count(Certificate.id))) or 0


_SEED_SQL = """
INSERT INTO certificates (id, order_id, source, common_name, sans, issuer_dn, provider,
                          algorithm, digest, serial_hex, fingerprint_sha256, not_before,
                          not_after, revoked, certificate_pem, chain_pem, owner_user_id,
                          created_at)
SELECT md5('cert-' || g)::uuid, NULL,
       CASE WHEN g % 10 < 7 THEN 'managed' ELSE 'discovered' END,
       'host-' || g || '.d' || (g % 1000) || '.example.com',
       json_build_array('host-' || g || '.d' || (g % 1000) || '.example.com',
                        'alt-' || g || '.example.net'),
       'CN=Bench Issuing CA', 'Local PKI', 'ec-256', 'sha256', md5('serial-' || g),
       md5('fp-' || g) || md5('fp2-' || g),
       now() - interval '200 days',
       now() - interval '20 days' + ((g::bigint * 7919) % 420) * interval '1 day'
             + (g % 1440) * interval '1 minute',
       g % 100 = 7, '-----BEGIN CERTIFICATE-----', '',
       CASE WHEN g % 10 < 7 THEN :first_user + g % :users END,
       now() - ((:total - g) * interval '30 seconds')
FROM generate_series(:start + 1, :start + :size) AS g
"""


def seed(app, certificates: int) -> None:
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
        # Bulk loading: the trigram indexes are built once after the rows are in (the same
        # definitions as migrations 0015_w14 and 0020_w18), not maintained row by row.
        for name in TRGM_INDEXES:
            db.session.execute(text(f"DROP INDEX IF EXISTS {name}"))
        db.session.commit()
        for start in range(0, certificates, BATCH):
            size = min(BATCH, certificates - start)
            began = time.perf_counter()
            db.session.execute(text(_SEED_SQL), {"start": start, "size": size,
                                                 "first_user": first_user, "users": USERS,
                                                 "total": certificates})
            db.session.commit()
            print(f"  seeded {start + size:,} certificates "
                  f"({time.perf_counter() - began:.1f} s)", file=sys.stderr, flush=True)
        began = time.perf_counter()
        db.session.execute(text("SET maintenance_work_mem = '256MB'"))
        for name, expression in TRGM_INDEXES.items():
            db.session.execute(text(f"CREATE INDEX {name} ON certificates USING gin "
                                    f"({expression}) WITH (fastupdate = on, "
                                    f"gin_pending_list_limit = 128)"))
        db.session.commit()
        print(f"  built the trigram indexes ({time.perf_counter() - began:.1f} s)",
              file=sys.stderr, flush=True)
        db.session.commit()
        # What autovacuum does after a bulk load (the insert threshold): statistics and
        # the visibility map, which index-only scans need. This machine's PostgreSQL runs
        # with autovacuum off, so the bench does it itself.
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE"))


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


def time_scans(app) -> dict[str, Any]:
    from sqlalchemy import delete

    from app.extensions import db
    from app.models import CertificateAlert
    from app.services import expiry

    with app.app_context():
        # With --reuse: forget the expiry alerts of an earlier run, so the scan covers all.
        db.session.execute(delete(CertificateAlert).where(
            CertificateAlert.type.in_(list(expiry.alert_types()))))
        db.session.commit()
        began = time.perf_counter()
        first, _, _ = expiry.scan()
        first_s = time.perf_counter() - began
        began = time.perf_counter()
        second, _, _ = expiry.scan()
        second_s = time.perf_counter() - began
    print(f"\nexpiry scan: {first_s:.1f} s, {first.as_dict()['alerts_total']:,} alerts "
          f"{first.alerts}; again: {second_s:.2f} s, "
          f"{second.as_dict()['alerts_total']} alerts", file=sys.stderr)
    return {"expiry_scan_s": round(first_s, 2), "expiry_rescan_s": round(second_s, 2),
            "expiry_alerts": first.as_dict()["alerts_total"],
            "expiry_alerts_again": second.as_dict()["alerts_total"]}


def run(url: str, certificates: int, iterations: int, reuse: bool) -> dict[str, Any]:
    ensure_database(url)
    instance = Path(tempfile.mkdtemp(prefix="bench-inventory-"))
    app = build_app(url, instance, fresh=False)
    if not (reuse and seeded_count(app) == certificates):
        app = build_app(url, instance, fresh=True)
        began = time.perf_counter()
        seed(app, certificates)
        print(f"seeded {certificates:,} certificates in {time.perf_counter() - began:.0f} s",
              file=sys.stderr)
    else:
        print(f"reusing the {certificates:,} certificates already seeded", file=sys.stderr)
    app.wsgi_app = ServerTimer(app.wsgi_app)  # type: ignore[method-assign]
    client = app.test_client()
    login(client, ADMIN)
    views = {
        "first_page": ("/certificates/", "host-"),
        "filtered": ("/certificates/?status=active&source=discovered", "host-"),
        "search": (f"/certificates/?q={SEARCH}", SEARCH),
        "expiring": ("/certificates/?expiring=30", "host-"),
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
    figures.update(time_scans(app))
    # The home page (an administrator's: platform counts and their own lists) once the
    # scan's alerts exist; VACUUM first, as autovacuum would after the scan's inserts
    # (the counts are index-only scans, which need the visibility map).
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE certificate_alerts"))
    home = measure(client, "/", iterations, "Expiring within")
    print(f"{'home':<12} {home['median']:>10.2f} {home['p95']:>8.2f} "
          f"{home['cpu_median']:>8.2f} {home['cpu_p95']:>8.2f}  (after the scan; "
          f"not an inventory view)")
    figures.update(p95_ms_home=round(home["p95"], 2), p50_ms_home=round(home["median"], 2),
                   cpu_p95_ms_home=round(home["cpu_p95"], 2))
    worst = max(figures[f"p95_ms_{name}"] for name in views)
    met = worst <= GOAL_P95_MS and figures["expiry_scan_s"] < GOAL_SCAN_S
    print(f"\nGOAL {'MET' if met else 'MISSED'}: worst p95 {worst:.1f} ms (goal ≤ "
          f"{GOAL_P95_MS:.0f} ms), expiry scan {figures['expiry_scan_s']:.1f} s (goal < "
          f"{GOAL_SCAN_S:.0f} s)")
    figures.update(certificates=certificates, iterations=iterations, database="postgresql",
                   cores=cpu_count(), loadavg_1m=loadavg())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="a PostgreSQL database of its own (created if missing; emptied)")
    parser.add_argument("--certificates", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the certificates of an earlier run if there are exactly N")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        sys.exit("the inventory benchmark runs on PostgreSQL")
    print(json.dumps(run(args.database_url, args.certificates, args.iterations, args.reuse)))


if __name__ == "__main__":
    main()

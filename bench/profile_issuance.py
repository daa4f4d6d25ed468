"""Where an order's time goes: submits N orders through the service layer (as
``bench/issuance.py`` does), then profiles (cProfile) the submission and one worker
draining the queue in this process, and prints the functions with the most time of
their own and the most time below them. For ``docs/performance.md``.

    .venv/bin/python bench/profile_issuance.py [--orders 300] [--lint every|sample:100] [--batch N]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from issuance import ADMIN, VALUES, build_app, ensure_database, set_up_pki, settings

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_profile"


def submit(app, issuer: str, orders: int, batch: int = 0) -> None:
    """``batch`` N: ``submit_orders`` with N requests a call (batch issuance jobs)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import User
    from app.services.intake import request_from_values
    from app.services.orders import OrderDraft, submit_order, submit_orders
    from app.services.requesters import requester_for_user

    with app.app_context():
        requester = requester_for_user(db.session.scalar(select(User).where(
            User.email == ADMIN)))
        drafts: list = []
        for i in range(orders):
            request, problems = request_from_values(
                {**VALUES, "common_name": f"p-{i}.example.com", "issuer_id": issuer})
            if problems:
                raise RuntimeError(problems)
            if not batch:
                submit_order(request, requester, pathway="wizard", request_key=f"profile:{i}")
                continue
            drafts.append(OrderDraft(request, f"profile:{i}", earlier_alerts=False))
            if len(drafts) == batch or i == orders - 1:
                submit_orders(drafts, requester, pathway="courier")
                drafts = []


def report(profile: cProfile.Profile, title: str, orders: int, seconds: float) -> None:
    print(f"\n=== {title}: {orders} orders in {seconds:.2f} s = {orders / seconds:.0f}/s "
          f"({1000 * seconds / orders:.2f} ms an order) ===")
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(key).print_stats(25)
        text = out.getvalue()
        print(text[text.index("   ncalls"):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--lint", default="every")
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--callees", default="",
                        help="also print what functions matching this pattern call")
    parser.add_argument("--callers", default="",
                        help="also print what calls functions matching this pattern")
    args = parser.parse_args()
    ensure_database(args.database_url)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        config = settings(args.database_url, args.redis_url, Path(tmp))
        config["LINT_BEFORE_SIGNING"] = args.lint
        app = build_app(config)
        issuer = set_up_pki(app)
        from app.jobs.worker import build_worker

        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        submit(app, issuer, args.orders, args.batch)
        profile.disable()
        report(profile, "submission (service layer)", args.orders,
               time.perf_counter() - started)
        if args.callers:
            pstats.Stats(profile).sort_stats("cumulative").print_callers(args.callers)

        from app.pki import lint

        lint.warm_up()        # as worker.py does before its first job
        worker = build_worker(app, name=f"profile-{uuid.uuid4().hex[:6]}")
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        worker.work(burst=True)
        profile.disable()
        report(profile, f"worker (lint {args.lint})", args.orders,
               time.perf_counter() - started)
        if args.callees:
            pstats.Stats(profile).sort_stats("cumulative").print_callees(args.callees)
        if args.callers:
            pstats.Stats(profile).sort_stats("cumulative").print_callers(args.callers)


if __name__ == "__main__":
    main()

"""Benchmark: one wizard step transition with many policies and registered domains.

Builds a fresh database (SQLite in a temp dir unless ``--database-url`` names an empty
one), registers 10,000 enabled domains and a plain ``user`` assigned to a few of them,
then for 10, 1,000 and 10,000 enabled policies times real HTTP POSTs of the wizard's
names step (``/request/<draft>/names``, ``nav=next``) through the Flask test client:
request parsing, login/CSRF, domain scopes, policy evaluation, alert recording and the
draft write, i.e. one step transition, server side.

About five policies apply to the measured names at every size, so evaluation really runs
(including soft violations that record alerts and still let the step advance).

Prints a table and ends with one JSON line of the figures. Always exits 0 when the run
completes: it reports figures, the "GOAL MET/MISSED" line is informational.

    .venv/bin/python bench/policy_eval.py [--database-url URL] [--iterations N]
"""
from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

DOMAINS = 10_000
POLICY_COUNTS = (10, 1_000, 10_000)
TARGET = 4242                               # index of the domain the measured request uses
EMAIL = "bench-user@example.com"
PASSWORD = "correct horse battery staple"
GOAL_P95_MS = 10.0
GOAL_GROWTH = 2.0
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def domain_name(i: int) -> str:
    return f"d{i:05d}.example"


TARGET_DOMAIN = domain_name(TARGET)
COMMON_NAME = f"www.{TARGET_DOMAIN}"
SANS = [f"api.{TARGET_DOMAIN}"]


# ---- data --------------------------------------------------------------------------------

#: Rules for the filler policies (valid documents, varied actions); each policy takes 2-4.
FILLER_RULES: tuple[dict[str, Any], ...] = (
    {"action": "enforce_digest", "fail": "hard", "values": {"digest": "sha384"}},
    {"action": "enforce_max_validity", "fail": "hard", "values": {"max_days": 397}},
    {"action": "disable_wildcard", "fail": "soft"},
    {"action": "enforce_values", "fail": "hard", "values": {"organization": "Example Corp",
                                                            "country": "DE"}},
    {"action": "enforce_minimum_key_size", "fail": "hard", "values": {"minimum_bits": 3072}},
    {"action": "block_ip_in_san", "fail": "hard"},
    {"action": "enforce_key_usage", "fail": "soft",
     "values": {"extended_key_usage": ["serverAuth"]}},
    {"action": "enforce_min_validity", "fail": "soft", "values": {"min_days": 7}},
    {"action": "block_email_in_san", "fail": "hard"},
    {"action": "enforce_algorithm", "fail": "hard", "values": {"algorithm": "ecdsa"}},
    {"action": "require_san", "fail": "soft"},
    {"action": "block_ca_flag", "fail": "hard"},
)

#: The policies that apply to the measured request (www./api. under TARGET_DOMAIN). The
#: soft ones are broken by it: they record alerts but let the step advance.
APPLICABLE: tuple[tuple[list[str], list[dict[str, Any]]], ...] = (
    ([f"*.{TARGET_DOMAIN}"],
     [{"action": "enforce_digest", "fail": "hard", "values": {"digest": "sha384"}},
      {"action": "enforce_max_validity", "fail": "hard", "values": {"max_days": 397}},
      {"action": "disable_wildcard", "fail": "hard"}]),
    ([COMMON_NAME, f"*.{domain_name(TARGET + 1)}"],
     [{"action": "enforce_values", "fail": "hard",
       "values": {"organization": "Bench Corp", "country": "DE"}},
      {"action": "block_ip_in_san", "fail": "hard"}]),
    ([SANS[0]],
     [{"action": "enforce_key_usage", "fail": "hard",
       "values": {"key_usage": ["digitalSignature"], "extended_key_usage": ["serverAuth"]}},
      {"action": "require_san", "fail": "hard"},
      {"action": "enforce_max_san_count", "fail": "soft", "values": {"max_count": 1}}]),
    ([f"*.{TARGET_DOMAIN}", f"*.{domain_name(TARGET - 1)}"],
     [{"action": "enforce_domain_suffix", "fail": "hard", "values": {"suffix": TARGET_DOMAIN}},
      {"action": "block_subdomains", "fail": "soft"},
      {"action": "enforce_algorithm", "fail": "hard", "values": {"algorithm": "ecdsa"}},
      {"action": "block_email_in_san", "fail": "hard"}]),
    ([f"*.{TARGET_DOMAIN}"],
     [{"action": "enforce_minimum_key_size", "fail": "hard",
       "values": {"minimum_bits": 3072, "minimum_ec_bits": 256}},
      {"action": "enforce_min_validity", "fail": "soft", "values": {"min_days": 30}}]),
)


def filler_patterns(i: int) -> list[str]:
    """1-2 patterns spread over the domains (never the measured one), exact and ``*.``."""
    a = (i * 7919 + 13) % DOMAINS
    b = (i * 104_729 + 5_003) % DOMAINS
    a = a if a != TARGET else TARGET + 17
    b = b if b != TARGET else TARGET + 29
    first = f"*.{domain_name(a)}" if i % 2 else f"host{i % 50}.{domain_name(a)}"
    if i % 3:
        return [first]
    second = domain_name(b) if i % 4 else f"*.{domain_name(b)}"
    return [first, second]


def policy_documents(count: int) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    actions = ["certificate.generate", "certificate.renew"]
    for n, (domains, rules) in enumerate(APPLICABLE[:count]):
        docs.append({"name": f"bench applicable {n}", "description": "applies to the request",
                     "enabled": True, "matching_criteria": {"actions": actions,
                                                            "domains": domains},
                     "rules": rules})
    for i in range(count - len(docs)):
        size = 2 + i % 3
        start = (i * 5) % len(FILLER_RULES)
        rules = [FILLER_RULES[(start + k) % len(FILLER_RULES)] for k in range(size)]
        docs.append({"name": f"bench filler {i:05d}", "description": "filler",
                     "enabled": True,
                     "matching_criteria": {"actions": actions, "domains": filler_patterns(i)},
                     "rules": rules})
    return docs


def insert_domains_and_user(app: Flask) -> None:
    from sqlalchemy import insert, select

    from app.extensions import db
    from app.models import Domain
    from app.services import users

    now = datetime.now(UTC)
    rows = [{"name": domain_name(i), "kind": "dns", "enabled": True, "created_at": now}
            for i in range(DOMAINS)]
    rows += [{"name": net, "kind": "network", "enabled": True, "created_at": now}
             for net in ("10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32")]
    with app.app_context():
        db.session.execute(insert(Domain.__table__), rows)
        db.session.commit()
        assigned = [domain_name(i) for i in (TARGET, 17, 999, 7777)]
        ids = list(db.session.scalars(select(Domain.id).where(Domain.name.in_(assigned))))
        users.create_user(EMAIL, role="user", password=PASSWORD, domain_ids=ids)


def replace_policies(app: Flask, count: int) -> None:
    """Delete all policies and bulk-insert ``count`` enabled ones (validated, normalised)."""
    from sqlalchemy import delete, insert

    from app.domain.policy_schema import parse_policy, policy_to_document
    from app.extensions import db
    from app.models import PolicyRecord

    base = datetime.now(UTC)
    rows = []
    for i, doc in enumerate(policy_documents(count)):
        stored = policy_to_document(parse_policy(doc))  # what the admin service would store
        stamp = base + timedelta(microseconds=i)
        rows.append({"id": uuid.uuid4(), "name": stored["name"],
                     "description": stored["description"], "enabled": True,
                     "matching_criteria": stored["matching_criteria"],
                     "rules": stored["rules"], "created_at": stamp, "updated_at": stamp})
    with app.app_context():
        db.session.execute(delete(PolicyRecord.__table__))
        for start in range(0, len(rows), 2_000):
            db.session.execute(insert(PolicyRecord.__table__), rows[start:start + 2_000])
        db.session.commit()


# ---- app and HTTP ------------------------------------------------------------------------

def build_app(database_url: str, instance: Path) -> Flask:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from app import create_app
    from app.extensions import db
    from app.models import Domain, PolicyRecord, User

    os.environ["INSTANCE_PATH"] = str(instance)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True,
                      "SECRET_KEY": "bench-" + uuid.uuid4().hex,
                      "INSTANCE_PATH": str(instance), "APP_ENV": "development"})
    with app.app_context():
        upgrade()
        for model in (Domain, PolicyRecord, User):
            if db.session.scalar(select(func.count()).select_from(model)):
                sys.exit(f"{database_url} is not empty ({model.__tablename__}); the benchmark "
                         "needs an empty database")
    return app


def csrf_token(client: FlaskClient, path: str) -> str:
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = CSRF_RE.search(html)
    if not match:
        raise RuntimeError(f"no CSRF token on {path}")
    return match.group(1) or match.group(2)


def login(client: FlaskClient) -> str:
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": EMAIL, "password": PASSWORD,
                                           "csrf_token": token})
    if response.status_code != 302:
        raise RuntimeError(f"login failed: {response.status_code}")
    return csrf_token(client, "/")


def new_draft(client: FlaskClient, token: str) -> str:
    response = client.post("/request/new", data={"csrf_token": token})
    match = re.search(r"/request/([0-9a-f-]{36})/", response.headers.get("Location", ""))
    if response.status_code != 303 or not match:
        raise RuntimeError(f"could not start a draft: {response.status_code}")
    return match.group(1)


class ServerTimer:
    """WSGI middleware around ``app.wsgi_app``: the server side of each request (routing,
    session and login, CSRF, the view, teardown, the response body), without the test
    client's own work of encoding the form and parsing the response. Records wall and CPU
    time in ms (CPU time leaves out waiting for a core on a busy machine)."""

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


def step(client: FlaskClient, draft: str, token: str) -> tuple[float, float]:
    """One names-step transition; returns its server-side wall and CPU time in ms."""
    data = {"common_name": COMMON_NAME, "sans": SANS, "nav": "next", "csrf_token": token}
    response = client.post(f"/request/{draft}/names", data=data)
    elapsed = client.application.wsgi_app.last
    if response.status_code != 303:
        body = response.get_data(as_text=True)
        raise RuntimeError(f"names step answered {response.status_code}, not 303: {body[:500]}")
    return elapsed


def check_evaluation(app: Flask, expected: int) -> None:
    """Make sure the measured request really is judged by ``expected`` policies."""
    from app.domain.request import CertificateRequest
    from app.services.policies import policy_index

    with app.app_context():
        request = CertificateRequest(common_name=COMMON_NAME, dns_names=tuple(SANS))
        found = policy_index().applicable(request)
    if len(found) != expected:
        raise RuntimeError(f"{len(found)} policies apply to the request, expected {expected}")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


# ---- main --------------------------------------------------------------------------------

def run(database_url: str, instance: Path, iterations: int,
        profile: str | None) -> dict[str, Any]:
    app = build_app(database_url, instance)
    started = time.perf_counter()
    insert_domains_and_user(app)
    print(f"setup: {DOMAINS} domains + user in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    app.wsgi_app = ServerTimer(app.wsgi_app)  # type: ignore[method-assign]
    client = app.test_client()
    token = login(client)
    figures: dict[str, Any] = {}
    rows = []
    for count in POLICY_COUNTS:
        started = time.perf_counter()
        replace_policies(app, count)
        print(f"inserted {count} policies in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
        draft = new_draft(client, token)
        first, _ = step(client, draft, token)       # rebuilds the cached policy index
        check_evaluation(app, min(count, len(APPLICABLE)))
        for _ in range(min(10, iterations)):        # warm caches after the rebuild
            step(client, draft, token)
        profiler = cProfile.Profile() if profile and count == POLICY_COUNTS[-1] else None
        if profiler:
            profiler.enable()
        samples = [step(client, draft, token) for _ in range(iterations)]
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
            pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        wall, cpu = [w for w, _ in samples], [c for _, c in samples]
        row = (statistics.median(wall), percentile(wall, 0.95),
               statistics.median(cpu), percentile(cpu, 0.95))
        figures[f"p50_ms_{count}"] = round(row[0], 3)
        figures[f"p95_ms_{count}"] = round(row[1], 3)
        figures[f"cpu_p50_ms_{count}"] = round(row[2], 3)
        figures[f"cpu_p95_ms_{count}"] = round(row[3], 3)
        figures[f"index_build_ms_{count}"] = round(first, 1)
        rows.append((count, *row, first))
    figures["growth_1000_to_10000"] = round(figures["p95_ms_10000"] / figures["p95_ms_1000"], 3)
    figures["domains"] = DOMAINS
    figures["iterations"] = iterations
    figures["database"] = database_url.split(":", 1)[0]
    figures["loadavg_1m"] = round(os.getloadavg()[0], 2)

    print(f"\nOne wizard step transition (POST names step), {DOMAINS} registered domains, "
          f"{iterations} iterations per size; load average {figures['loadavg_1m']:.2f} on "
          f"{os.cpu_count()} cores")
    print(f"{'policies':>9} {'median ms':>10} {'p95 ms':>8} {'cpu median':>11} {'cpu p95':>8} "
          f"{'index build ms':>15}")
    for count, p50, p95, cpu50, cpu95, first in rows:
        print(f"{count:>9} {p50:>10.2f} {p95:>8.2f} {cpu50:>11.2f} {cpu95:>8.2f} {first:>15.1f}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="an empty database to use (default: a "
                        "fresh SQLite file in a temp dir)")
    parser.add_argument("--iterations", type=int, default=200,
                        help="timed step transitions per policy count (default 200)")
    parser.add_argument("--profile", metavar="FILE",
                        help="cProfile the 10,000-policy run into FILE (skews the timings)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="policy-bench-") as tmp:
        instance = Path(tmp) / "instance"
        instance.mkdir()
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        figures = run(url, instance, max(1, args.iterations), args.profile)
    met = (figures["p95_ms_10000"] <= GOAL_P95_MS
           and figures["growth_1000_to_10000"] <= GOAL_GROWTH)
    print(f"{'GOAL MET' if met else 'GOAL MISSED'}: p95 at 10000 policies "
          f"{figures['p95_ms_10000']:.2f} ms (goal <= {GOAL_P95_MS:g} ms), growth 1000 -> "
          f"10000 {figures['growth_1000_to_10000']:.2f}x (goal <= {GOAL_GROWTH:g}x)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

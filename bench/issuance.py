"""Benchmark: orders issued per second, end to end, by 1 and by 2 worker processes.

Against real PostgreSQL and Redis: builds the schema with the migrations in a database of
its own (created when missing, emptied first), registers example.com, makes a root and
an intermediate with the real worker code, then for 1 and for 2 ``worker.py`` processes
(started and registered on the queue before the clock starts) submits N orders through
the service layer (``request_from_values`` → ``submit_order``: the checks, the policy
engine, the order row and the enqueue, as the wizard does) — CSR-less ``ec-256``, so the
worker generates each key — and waits until every one is ``complete``.

- ``orders_per_s_K_worker(s)``: N / (time from the first submit until the last order is
  complete), submission included;
- ``issue_per_s_K``: N / (last ``finished_at`` - first ``started_at``), the workers alone;
- ``raw_per_s``: in this process (one core), ``cryptography`` alone: an ec-256 key
  generation plus signing a leaf certificate for it with the same intermediate's key;
- ``ratio``: ``orders_per_s_2_workers / raw_per_s`` (how much of one core's raw crypto
  rate the whole platform delivers with two workers).

Goals (the scale issue): ≥ 1,000 orders/s with 2 workers on a 2-core machine with lint
``sample:N`` (``--lint sample:100``), ≥ 300/s with lint ``every``; ``--batch 100`` submits
as the batch endpoint does. Ends with one
JSON line of the figures.

    .venv/bin/python bench/issuance.py [--database-url URL] [--redis-url URL] [--orders N]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, cpu_count, cpu_seconds, loadavg, server_cpu_seconds

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_issuance"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
ADMIN = "bench-admin@example.com"
GOAL_EVERY = 300.0     # the scale issue: lint on every certificate
GOAL_SAMPLE = 1000.0   # ... and with LINT_BEFORE_SIGNING=sample:N
VALUES = {"sans": [], "algorithm": "ec-256", "digest": "sha256", "validity_days": "90",
          "key_usage": ["digitalSignature"], "extended_key_usage": ["serverAuth"]}


def ensure_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conninfo = parsed.set(drivername="postgresql", database="postgres") \
        .render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (parsed.database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


def settings(url: str, redis_url: str, instance: Path) -> dict[str, str]:
    from app.pki.key_encryption import KeyEncryptionKeyring

    return {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": redis_url,
            "RQ_QUEUE": f"bench-{uuid.uuid4().hex[:10]}",
            "SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "KEY_ENCRYPTION_KEYS": KeyEncryptionKeyring.generate_spec("bench"),
            "INSTANCE_PATH": str(instance)}


def build_app(config: dict[str, str]):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db

    os.environ["INSTANCE_PATH"] = config["INSTANCE_PATH"]
    app = create_app({**config, "TESTING": True, "APP_ENV": "development"})
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
        upgrade()
    return app


def set_up_pki(app) -> str:
    """The admin, example.com, and an active root + intermediate; returns the intermediate."""
    from app.jobs.worker import build_worker
    from app.services import domains, pki, users

    with app.app_context():
        users.create_user(ADMIN, role="super_admin", password="correct horse battery staple")
        domains.add_domain("example.com")
        root_id = pki.request_root(pki.CAParameters(common_name="Bench Root",
                                                    organization="Bench", country="DE",
                                                    algorithm="ec-256")).id
    build_worker(app, name=f"bench-setup-{uuid.uuid4().hex[:6]}").work(burst=True)
    with app.app_context():
        inter = pki.request_intermediate(pki.CAParameters(
            common_name="Bench Issuing", organization="Bench", country="DE",
            algorithm="ec-256", validity_days=365), root_id)
        inter_id = str(inter.id)
    build_worker(app, name=f"bench-setup-{uuid.uuid4().hex[:6]}").work(burst=True)
    with app.app_context():
        if not pki.get_ca(inter_id).can_sign:
            raise RuntimeError("the intermediate CA was not generated")
    return inter_id


def start_workers(config: dict[str, str], count: int, log_dir: Path,
                  lint: str = "every") -> list[subprocess.Popen]:
    from redis import Redis
    from rq import Worker

    env = {**os.environ, "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
           "SWEEP_INTERVAL_SECONDS": "3600", "LINT_BEFORE_SIGNING": lint,
           **{k: config[k] for k in ("REDIS_URL", "RQ_QUEUE", "SECRET_KEY",
                                     "KEY_ENCRYPTION_KEYS", "INSTANCE_PATH")}}
    procs = [subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env,
                              stdout=(log_dir / f"worker-{count}-{i}.log").open("wb"),
                              stderr=subprocess.STDOUT, start_new_session=True)
             for i in range(count)]
    deadline = time.monotonic() + 60
    with Redis.from_url(config["REDIS_URL"]) as redis:
        while time.monotonic() < deadline:
            pids = {w.pid for w in Worker.all(connection=redis)
                    if config["RQ_QUEUE"] in w.queue_names()}
            if all(p.pid in pids for p in procs):
                return procs
            if any(p.poll() is not None for p in procs):
                break
            time.sleep(0.2)
    stop_workers(procs)
    raise RuntimeError(f"workers did not register; see {log_dir}")


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def submit_and_wait(app, issuer: str, orders: int, tag: str, batch: int = 0
                    ) -> dict[str, float]:
    """``batch`` 0: one ``submit_order`` per order (the wizard's path, one issuance job
    each); N: ``submit_orders`` with N requests a call (the courier batch endpoint's
    path, one batch issuance job per call)."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Order, User
    from app.services.intake import request_from_values
    from app.services.orders import OrderDraft, submit_order, submit_orders
    from app.services.requesters import requester_for_user

    started = time.perf_counter()
    with app.app_context():
        requester = requester_for_user(db.session.scalar(select(User).where(
            User.email == ADMIN)))
        ids = []
        drafts = []
        for i in range(orders):
            request, problems = request_from_values(
                {**VALUES, "common_name": f"{tag}-{i}.example.com", "issuer_id": issuer})
            if problems:
                raise RuntimeError(problems)
            if not batch:
                order, _ = submit_order(request, requester, pathway="wizard",
                                        request_key=f"bench:{tag}:{i}")
                ids.append(order.id)
                continue
            drafts.append(OrderDraft(request, f"bench:{tag}:{i}", earlier_alerts=False))
            if len(drafts) == batch or i == orders - 1:
                for outcome in submit_orders(drafts, requester, pathway="courier"):
                    if not isinstance(outcome, tuple):
                        raise RuntimeError(outcome)
                    ids.append(outcome[0].id)
                drafts = []
        submitted = time.perf_counter()
        deadline = time.monotonic() + 600
        # Waiting costs the workers as little as can be: the bench's database holds no
        # other open order, so "none pending or processing" (an index lookup) means
        # every order of this run is finished; their outcomes are counted once after.
        while True:
            open_orders = db.session.scalar(select(func.count(Order.id)).where(
                Order.status.in_(("pending", "processing"))))
            db.session.rollback()
            if not open_orders:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{open_orders} orders not finished after 600 s")
            time.sleep(0.05)
        finished = time.perf_counter()
        done = dict(db.session.execute(
            select(Order.status, func.count(Order.id)).where(Order.id.in_(ids))
            .group_by(Order.status)).all())
        if done.get("complete", 0) + done.get("failed", 0) != orders:
            raise RuntimeError(f"orders of this run not finished: {done}")
        if done.get("failed"):
            raise RuntimeError(f"{done['failed']} orders failed")
        first_start, last_finish = db.session.execute(
            select(func.min(Order.started_at), func.max(Order.finished_at))
            .where(Order.id.in_(ids))).one()
    return {"end_to_end_s": finished - started, "submit_s": submitted - started,
            "issue_s": (last_finish - first_start).total_seconds()}


def raw_rate(app, issuer: str, seconds: float = 5.0) -> float:
    """ec-256 key generation + signing a leaf with the intermediate's key, cryptography only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from app.extensions import db
    from app.models import CertificateAuthority
    from app.pki.keys import load_private_key_pem
    from app.services.key_bindings import ca_key_binding
    from app.services.keyring import load_keyring

    with app.app_context():
        ca = db.session.get(CertificateAuthority, uuid.UUID(issuer))
        ca_cert = x509.load_pem_x509_certificate(ca.certificate_pem.encode())
        ca_key = load_private_key_pem(load_keyring().decrypt(ca.encrypted_private_key,
                                                             ca_key_binding(ca.id)))
    now = datetime.now(UTC)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        key = ec.generate_private_key(ec.SECP256R1())
        name = f"raw-{count}.example.com"
        (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
         .issuer_name(ca_cert.subject).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now).not_valid_after(now + timedelta(days=90))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
         .sign(ca_key, hashes.SHA256()))
        count += 1
    return count / (time.perf_counter() - started)


def _cpu_now(workers: list[subprocess.Popen]) -> dict[str, float]:
    """CPU seconds so far: this process (the submission and the wait for the end), the
    worker processes, and the local PostgreSQL and Redis servers."""
    return {"submit": time.process_time(), "workers": cpu_seconds([p.pid for p in workers]),
            **server_cpu_seconds()}


def run(url: str, redis_url: str, orders: int, batch: int = 0, lint: str = "every"
        ) -> dict[str, Any]:
    ensure_database(url)
    instance = Path(tempfile.mkdtemp(prefix="bench-issuance-"))
    config = settings(url, redis_url, instance)
    app = build_app(config)
    issuer = set_up_pki(app)
    figures: dict[str, Any] = {}
    print(f"{'workers':>7} {'orders':>6} {'end to end /s':>14} {'submit s':>9} "
          f"{'issue-only /s':>14}")
    for workers in (1, 2):
        procs = start_workers(config, workers, instance, lint)
        try:
            before = _cpu_now(procs)
            result = submit_and_wait(app, issuer, orders, f"w{workers}", batch)
            spent = {k: v - before[k] for k, v in _cpu_now(procs).items()}
        finally:
            stop_workers(procs)
        figures[f"cpu_ms_per_order_{workers}"] = {
            k: round(1000 * v / orders, 3) for k, v in {**spent,
                                                        "total": sum(spent.values())}.items()}
        per_s = orders / result["end_to_end_s"]
        issue_per_s = orders / result["issue_s"] if result["issue_s"] else float("nan")
        key = "orders_per_s_1_worker" if workers == 1 else "orders_per_s_2_workers"
        figures[key] = round(per_s, 1)
        figures[f"issue_per_s_{workers}"] = round(issue_per_s, 1)
        figures[f"submit_s_{workers}"] = round(result["submit_s"], 2)
        print(f"{workers:>7} {orders:>6} {per_s:>14.1f} {result['submit_s']:>9.2f} "
              f"{issue_per_s:>14.1f}   CPU ms an order: {figures[f'cpu_ms_per_order_{workers}']}")
    figures["raw_per_s"] = round(raw_rate(app, issuer), 1)
    figures["ratio"] = round(figures["orders_per_s_2_workers"] / figures["raw_per_s"], 3)
    print(f"raw (cryptography alone, one process): {figures['raw_per_s']:.1f} /s; "
          f"ratio {figures['ratio']:.3f}")
    goal = GOAL_EVERY if lint == "every" else GOAL_SAMPLE
    met = figures["orders_per_s_2_workers"] >= goal
    print(f"GOAL {'MET' if met else 'MISSED'}: {figures['orders_per_s_2_workers']:.1f} "
          f"orders/s with 2 workers (goal ≥ {goal:.0f} with lint {lint})")
    figures.update(orders=orders, batch=batch, lint=lint, database="postgresql",
                   cores=cpu_count(),
                   loadavg_1m=loadavg())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="a PostgreSQL database of its own (created if missing; emptied)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--batch", type=int, default=0,
                        help="submit N requests a call (submit_orders, the batch "
                             "endpoint's path; Local PKI orders then issue in batch jobs); "
                             "0: one submit_order per order")
    parser.add_argument("--lint", default="every",
                        help="the workers' LINT_BEFORE_SIGNING: every or sample:N")
    args = parser.parse_args()
    print(json.dumps(run(args.database_url, args.redis_url, args.orders, args.batch,
                         args.lint)))


if __name__ == "__main__":
    main()

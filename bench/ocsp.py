"""Benchmark: pre-signing OCSP responses in the worker, and serving them from the web.

Against real PostgreSQL and Redis: builds the schema with the migrations in a database of
its own (created when missing, emptied first), makes a root and an intermediate with the
real worker code (the defaults: ECDSA P-384, SHA-384), inserts N certificate rows issued
by that intermediate (bulk SQL: the rows matter, not how they were issued), then:

- ``ocsp_sign_per_s``: the ``ocsp-refresh`` task run as a job by the real worker class
  (``flask lifecycle run-now`` does the same), signing and storing a response for each of
  the N certificates: N / (task finished - task started), from its ``task_runs`` row.
  Goal ≥ 1,700/s (1,000,000 in under 10 minutes).
- ``ocsp_serve_per_s`` / ``ocsp_serve_p99_ms``: gunicorn (``wsgi:app``, gthread worker
  class, WEB_WORKERS x WEB_THREADS) serving ``GET /pki/ocsp/<base64 request>`` for 2,000
  different certificates picked at random, driven by Debian's ``wrk -c 64`` for
  DURATION seconds. Goal ≥ 3,000 responses/s with p99 ≤ 50 ms. Every answer is checked
  beforehand to be a signed ``good`` for the right serial.

Ends with one JSON line of the figures.

    .venv/bin/python bench/ocsp.py [--certificates 100000] [--duration 15]
        [--web-workers 3] [--web-threads 4] [--database-url URL] [--redis-url URL]
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, cpu_count, loadavg
from issuance import ensure_database, settings

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_ocsp"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
SIGN_GOAL, SERVE_GOAL, P99_GOAL = 1700.0, 3000.0, 50.0
SAMPLE = 2000


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
    from app.jobs.worker import build_worker
    from app.services import pki

    def drain() -> None:
        build_worker(app, name=f"bench-setup-{uuid.uuid4().hex[:6]}").work(burst=True)

    with app.app_context():
        root_id = pki.request_root(pki.CAParameters(
            common_name="Bench OCSP Root", organization="Bench", country="DE",
            algorithm="ec-384", digest="sha384")).id
    drain()
    with app.app_context():
        inter_id = str(pki.request_intermediate(pki.CAParameters(
            common_name="Bench OCSP Issuing", organization="Bench", country="DE",
            algorithm="ec-384", digest="sha384",
            validity_days=365), root_id).id)
    drain()
    with app.app_context():
        if not pki.get_ca(inter_id).can_sign:
            raise RuntimeError("the intermediate CA was not generated")
    return inter_id


def insert_certificates(app, issuer: str, count: int) -> list[int]:
    """N inventory rows of the intermediate (random 128-bit serials); returns a sample."""
    from sqlalchemy import insert

    from app.extensions import db
    from app.models import Certificate
    from app.models.base import utcnow

    now = utcnow()
    serials: list[int] = []
    with app.app_context():
        batch: list[dict[str, Any]] = []
        for i in range(count):
            serial = secrets.randbits(127) | (1 << 126)
            serials.append(serial)
            batch.append({
                "id": uuid.uuid4(), "source": "managed", "common_name": f"h{i}.example.com",
                "sans": [], "issuer_dn": "CN=Bench OCSP Issuing", "provider": "Local PKI",
                "issuer_ca_id": uuid.UUID(issuer), "algorithm": "ec-256", "digest": "sha256",
                "serial_hex": format(serial, "x"), "fingerprint_sha256": uuid.uuid4().hex * 2,
                "not_before": now, "not_after": now + timedelta(days=90), "revoked": False,
                "certificate_pem": "(bench row)", "chain_pem": "", "created_at": now})
            if len(batch) == 5000:
                db.session.execute(insert(Certificate), batch)
                batch = []
        if batch:
            db.session.execute(insert(Certificate), batch)
        db.session.commit()
    return secrets.SystemRandom().sample(serials, min(SAMPLE, count))


def sign_all(app) -> dict[str, Any]:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.jobs.worker import build_worker
    from app.models import OcspResponse, TaskRun
    from app.services import scheduler

    with app.app_context():
        scheduler.run_now("ocsp-refresh", wait=False)
    build_worker(app, name=f"bench-sign-{uuid.uuid4().hex[:6]}").work(burst=True)
    with app.app_context():
        run = db.session.scalar(select(TaskRun).where(TaskRun.task == "ocsp-refresh"))
        if run is None or run.status != "success":
            raise RuntimeError(f"ocsp-refresh did not succeed: {run and run.error}")
        stored = db.session.scalar(select(func.count(OcspResponse.id)))
        seconds = (run.finished_at - run.started_at).total_seconds()
        return {"signed": sum(run.result["ocsp_signed"].values()), "stored": stored,
                "seconds": seconds}


def raw_sign_rate(app, issuer: str, count: int = 2000, lint: bool = False) -> float:
    """Responses/s of ``sign_ocsp_response`` alone with the same CA key, in this process:
    the ceiling the worker's task is measured against (it adds the queries and upserts,
    and lints one response per shape and batch). ``lint=True``: each one linted first."""
    from datetime import UTC, datetime

    from cryptography import x509

    from app.pki.keys import load_private_key_pem
    from app.pki.ocsp import sign_ocsp_response, signer_for
    from app.services import pki
    from app.services.key_bindings import ca_key_binding
    from app.services.keyring import load_keyring

    with app.app_context():
        ca = pki.get_ca(issuer)
        key = load_private_key_pem(load_keyring().decrypt(ca.encrypted_private_key,
                                                          ca_key_binding(ca.id)))
        signer = signer_for(x509.load_pem_x509_certificate(ca.certificate_pem.encode()),
                            key, ca.digest)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    for i in range(count):
        sign_ocsp_response(signer, (1 << 100) + i, "good", now, now + timedelta(days=4),
                           lint=lint)
    return count / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_web(config: dict[str, str], workers: int, threads: int, port: int,
              log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
           "DATABASE_POOL_SIZE": str(threads + 1),
           **{k: config[k] for k in ("REDIS_URL", "RQ_QUEUE", "SECRET_KEY", "INSTANCE_PATH")}}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
         str(workers), "--threads", str(threads), "--worker-class", "gthread",
         "--no-control-socket", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2):
                return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"gunicorn did not start; see {log}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def request_paths(app, issuer: str, serials: list[int]) -> list[str]:
    """GET paths (RFC 6960 A.1) for the sampled serials, each checked to answer good."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    from app.pki.ocsp import issuer_hashes
    from app.services import pki

    with app.app_context():
        issuer_cert = x509.load_pem_x509_certificate(pki.get_ca(issuer).certificate_pem
                                                     .encode())
    name_hash, key_hash = issuer_hashes(issuer_cert)
    paths = []
    for serial in serials:
        der = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
            name_hash, key_hash, serial, hashes.SHA1()).build().public_bytes(
            serialization.Encoding.DER)
        paths.append("/pki/ocsp/" + urllib.parse.quote(base64.b64encode(der).decode(),
                                                        safe=""))
    return paths


def check_answers(base: str, paths: list[str], serials: list[int]) -> None:
    from cryptography.x509 import ocsp

    for path, serial in list(zip(paths, serials, strict=True))[:50]:
        with urllib.request.urlopen(base + path, timeout=10) as response:
            answer = ocsp.load_der_ocsp_response(response.read())
        if answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL \
                or answer.serial_number != serial \
                or answer.certificate_status != ocsp.OCSPCertStatus.GOOD:
            raise RuntimeError(f"wrong OCSP answer for serial {serial:x}")


LUA = """
paths = {%s}
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


def run_wrk(base: str, paths: list[str], duration: int, workdir: Path) -> dict[str, float]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    script = workdir / "ocsp.lua"
    script.write_text(LUA % ",".join(json.dumps(p) for p in paths))
    out = subprocess.run([wrk, "-t", "2", "-c", "64", "-d", f"{duration}s", "--latency",
                          "-s", str(script), base], capture_output=True, text=True,
                         timeout=duration + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"per_s": rate, "p99_ms": float(p99.group(1)) * scale,
            "non_2xx": int(errors.group(1)) if errors else 0, "raw": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--certificates", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--web-threads", type=int, default=4)
    args = parser.parse_args()
    ensure_database(args.database_url)
    with tempfile.TemporaryDirectory(prefix="bench-ocsp-") as tmp:
        workdir = Path(tmp)
        (workdir / "instance").mkdir()
        config = settings(args.database_url, args.redis_url, workdir / "instance")
        app = build_app(config)
        issuer = set_up_pki(app)
        started = time.perf_counter()
        sample = insert_certificates(app, issuer, args.certificates)
        insert_s = time.perf_counter() - started
        signed = sign_all(app)
        raw = raw_sign_rate(app, issuer)
        raw_linted = raw_sign_rate(app, issuer, count=500, lint=True)
        paths = request_paths(app, issuer, sample)
        port = free_port()
        web = start_web(config, args.web_workers, args.web_threads, port,
                        workdir / "gunicorn.log")
        try:
            base = f"http://127.0.0.1:{port}"
            check_answers(base, paths, sample)
            load_before = loadavg()
            served = run_wrk(base, paths, args.duration, workdir)
        finally:
            stop(web)
    sign_rate = signed["signed"] / signed["seconds"]
    print(f"certificates: {args.certificates:,} (rows inserted in {insert_s:.1f} s)")
    print(f"sign (worker, ocsp-refresh): {signed['signed']:,} responses in "
          f"{signed['seconds']:.1f} s = {sign_rate:,.0f}/s (goal {SIGN_GOAL:,.0f}/s); "
          f"signing alone in one process: {raw:,.0f}/s, each linted first: "
          f"{raw_linted:,.0f}/s")
    print(f"serve (gunicorn gthread {args.web_workers}x{args.web_threads}, wrk -c 64, "
          f"{args.duration} s): {served['per_s']:,.0f}/s, p99 {served['p99_ms']:.1f} ms "
          f"(goal {SERVE_GOAL:,.0f}/s, p99 ≤ {P99_GOAL:.0f} ms), non-2xx "
          f"{served['non_2xx']}")
    print(f"cores: {cpu_count()}, load average before serving: {load_before}")
    print(json.dumps({
        "certificates": args.certificates, "ocsp_sign_per_s": round(sign_rate, 1),
        "ocsp_sign_seconds": round(signed["seconds"], 2),
        "ocsp_raw_sign_per_s": round(raw, 1),
        "ocsp_raw_sign_linted_per_s": round(raw_linted, 1),
        "ocsp_serve_per_s": round(served["per_s"], 1),
        "ocsp_serve_p99_ms": round(served["p99_ms"], 2), "non_2xx": served["non_2xx"],
        "web": f"gunicorn gthread {args.web_workers}x{args.web_threads}",
        "cores": cpu_count(), "loadavg": load_before,
        "sign_goal_met": sign_rate >= SIGN_GOAL,
        "serve_goal_met": served["per_s"] >= SERVE_GOAL and served["p99_ms"] <= P99_GOAL}))


if __name__ == "__main__":
    main()

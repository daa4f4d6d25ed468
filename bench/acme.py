"""Benchmark: full ACME issuances per second (newOrder → finalize → certificate download,
ec-256 keys, one account), the ``acme`` package's client in-process against gunicorn with
2 RQ workers (``worker.py``) on PostgreSQL.

The client threads each run ``ClientV2.new_order`` / ``finalize_order`` (which polls the
order after the server's Retry-After, as ACME clients do) / the chain download with the
same account. ``acme_issuances_per_s`` = issuances / wall time from the first newOrder to
the last chain. The goal of ≥ 150/s belongs to the scale issue; this prints the figure.
Ends with one JSON line.

    .venv/bin/python bench/acme.py [--database-url URL] [--redis-url URL] [--issuances N]
                                   [--threads T]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

# This file is named like the ``acme`` package it benchmarks with: take the script's own
# directory off the path until the real package is imported, then add it back (last).
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]
import acme.client  # noqa: E402,F401  (the real package, cached before bench/ is on the path)

sys.path.append(str(_BENCH))
from common import ROOT, cpu_count, loadavg  # noqa: E402
from issuance import (  # noqa: E402
    build_app,
    ensure_database,
    set_up_pki,
    settings,
    start_workers,
    stop_workers,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_acme"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(config: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           **{k: config[k] for k in ("REDIS_URL", "RQ_QUEUE", "SECRET_KEY", "INSTANCE_PATH")}}
    env.pop("KEY_ENCRYPTION_KEYS", None)
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4",
                             "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not listen; see {log}")


def make_acme(app, issuer: str) -> tuple[str, str, str]:
    from app.services import acme_admin

    with app.app_context():
        server = acme_admin.create_server(acme_admin.ServerSettings(
            name="Bench ACME", issuer=issuer, orders_per_hour=1_000_000))
        made = acme_admin.create_account(server, "bench", "ops@example.com",
                                         ["example.com:subdomains"])
        return str(server.id), made.eab_kid, made.eab_hmac_key


def csr_pem(name: str) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    from app.pki.csr import build_csr
    from app.pki.keys import generate_private_key

    return build_csr(generate_private_key("ec-256"), name, (name,)).public_bytes(Encoding.PEM)


def issue_all(directory_url: str, kid: str, hmac_key: str, issuances: int,
              threads: int) -> dict[str, float]:
    import josepy as jose
    from acme import client, messages
    from cryptography.hazmat.primitives.asymmetric import ec

    key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    net = client.ClientNetwork(key, alg=jose.ES256, user_agent="bench-acme")
    directory = client.ClientV2.get_directory(directory_url, net)
    acme = client.ClientV2(directory, net)
    eab = messages.ExternalAccountBinding.from_data(account_public_key=key.public_key(),
                                                    kid=kid, hmac_key=hmac_key,
                                                    directory=directory)
    account = acme.new_account(messages.NewRegistration.from_data(
        email="ops@example.com", terms_of_service_agreed=True, external_account_binding=eab))
    csrs = [csr_pem(f"host{i}.example.com") for i in range(issuances)]
    next_index, lock, failures, durations = [0], threading.Lock(), [], []

    def run() -> None:
        own = client.ClientV2(directory, client.ClientNetwork(
            key, account=account, alg=jose.ES256, user_agent="bench-acme"))
        while True:
            with lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= issuances:
                return
            started = time.perf_counter()
            try:
                order = own.new_order(csrs[index])
                # acme compares the deadline with a naive datetime.now()
                order = own.finalize_order(order, datetime.now() + timedelta(minutes=2))
                if "BEGIN CERTIFICATE" not in (order.fullchain_pem or ""):
                    raise RuntimeError("no chain")
                durations.append(time.perf_counter() - started)
            except Exception as exc:  # counted and reported, the run goes on
                failures.append(repr(exc)[:200])

    start = time.perf_counter()
    workers = [threading.Thread(target=run) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    wall = time.perf_counter() - start
    done = issuances - len(failures)
    durations.sort()
    return {"acme_issuances_per_s": round(done / wall, 2), "wall_s": round(wall, 2),
            "issued": done, "failed": len(failures),
            "p50_issuance_s": round(durations[len(durations) // 2], 2) if durations else None,
            "first_failure": failures[0] if failures else None}


def run(url: str, redis_url: str, issuances: int, threads: int) -> dict[str, Any]:
    ensure_database(url)
    instance = Path(tempfile.mkdtemp(prefix="bench-acme-"))
    config = settings(url, redis_url, instance)
    app = build_app(config)
    issuer = set_up_pki(app)
    server_id, kid, hmac_key = make_acme(app, issuer)
    port = free_port()
    web = start_gunicorn(config, port, instance / "gunicorn.log")
    procs = start_workers(config, 2, instance)
    try:
        figures = issue_all(f"http://127.0.0.1:{port}/acme/{server_id}/directory", kid,
                            hmac_key, issuances, threads)
    finally:
        stop_workers(procs)
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=20)
    print(f"{'issuances':>9} {'threads':>7} {'per s':>7} {'p50 s':>6} {'failed':>6}")
    print(f"{figures['issued']:>9} {threads:>7} {figures['acme_issuances_per_s']:>7} "
          f"{figures['p50_issuance_s']!s:>6} {figures['failed']:>6}")
    figures.update(issuances=issuances, threads=threads, web="gunicorn 2 workers x 4 threads",
                   rq_workers=2, database="postgresql", cores=cpu_count(),
                   loadavg_1m=loadavg())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="a PostgreSQL database of its own (created if missing; emptied)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--issuances", type=int, default=200)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    print(json.dumps(run(args.database_url, args.redis_url, args.issuances, args.threads)))


if __name__ == "__main__":
    main()

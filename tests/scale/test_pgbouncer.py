"""PostgreSQL through Debian's PgBouncer in transaction mode (the pooling that
docs/deployment.md recommends): with ``DATABASE_PGBOUNCER=transaction`` psycopg prepares
no statements, so orders submitted through the courier API and issued by the worker
complete while PgBouncer hands every transaction whichever server connection is free."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask

from app import create_app
from app.extensions import db
from app.jobs.worker import build_worker
from app.models import Order
from tests.api.conftest import make_courier
from tests.builders import add_domain, issuing_ca
from tests.jobs.processes import free_port

pytestmark = pytest.mark.interop
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


@pytest.fixture
def pgbouncer(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    (tmp_path / "users.txt").write_text('"postgres" ""\n')
    (tmp_path / "pgbouncer.ini").write_text(f"""[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {tmp_path / 'users.txt'}
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
ignore_startup_parameters = extra_float_digits,options
logfile = {tmp_path / 'pgbouncer.log'}
pidfile = {tmp_path / 'pgbouncer.pid'}
""")
    command = [PGBOUNCER, str(tmp_path / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root: drop to Debian's postgres user
        command[1:1] = ["-u", "postgres"]
        for path in (tmp_path, tmp_path / "users.txt", tmp_path / "pgbouncer.ini"):
            shutil.chown(path, user="postgres")
        for parent in (tmp_path, *tmp_path.parents):  # reachable for the postgres user
            if parent == Path(parent.anchor):
                break
            parent.chmod(parent.stat().st_mode | 0o011)
    proc = subprocess.Popen(command,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while True:
        try:
            psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres",
                            connect_timeout=2).close()
            break
        except psycopg.OperationalError:
            assert proc.poll() is None, (tmp_path / "pgbouncer.log").read_text()
            assert time.monotonic() < deadline, "pgbouncer did not accept connections"
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def test_orders_complete_through_pgbouncer_in_transaction_mode(
        app: Flask, jobs, test_settings: dict[str, str], pgbouncer: int) -> None:
    add_domain(app, "example.com")
    issuing_ca(app, jobs)
    courier = make_courier(app, domains=("example.com",))
    direct = app.config["SQLALCHEMY_DATABASE_URI"]
    pooled_url = direct.replace("@127.0.0.1:5432/", f"@127.0.0.1:{pgbouncer}/")
    assert pooled_url != direct
    pooled = create_app({**test_settings, "TESTING": True,
                         "SQLALCHEMY_DATABASE_URI": pooled_url,
                         "DATABASE_PGBOUNCER": "transaction"})
    assert pooled.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] == {
        "prepare_threshold": None}

    client = pooled.test_client()
    token = client.post("/api/v1/courier/auth", json=courier.auth_body()).get_json()["token"]
    # More than psycopg's prepare threshold (5) of the same statements on each connection.
    for index in range(25):
        response = client.post("/api/v1/courier/certificates",
                               json={"common_name": f"p{index}.example.com",
                                     "algorithm": "ec-256"},
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 202, response.get_json()
    build_worker(pooled, name="pgbouncer-test").work(burst=True)

    with pooled.app_context():
        statuses = [order.status for order in db.session.query(Order).all()]
        db.session.remove()
        db.engine.dispose()
    assert statuses == ["complete"] * 25

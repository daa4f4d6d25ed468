"""End to end with Debian's nginx and haproxy on loopback ports, the live app, the real
worker class and the bridge run as ``python -m bridge``: a profile's certificate is issued,
deployed, the server reloaded and the new serial probed; a renewal made by the renewals
task is deployed the same way without anyone clicking; a failing reload restores the
previous files and raises ``renewed_not_deployed`` when its time passes.

The renewals task is run as an operator would: ``flask lifecycle run-now renewals`` in a
process of its own, waiting for a worker, while this process's real worker runs it."""
from __future__ import annotations

import json
import shlex
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import CertificateAlert, Deployment, Order, TargetSystem
from bridge.probe import Served, certificates_only, served_certificate
from tests.api.conftest import root_pem
from tests.builders import add_domain, issuing_ca
from tests.conftest import run_jobs, run_jobs_until
from tests.e2e.rq_worker import ROOT, worker_env
from tests.interop.tls_servers import HAProxy, Nginx
from tests.targets.bridge_process import BridgeProcess, wait_until, write_config
from tests.targets.helpers import bridge_keypair

pytestmark = pytest.mark.interop

FAILING_RELOAD = "/bin/sh -c 'echo nginx: configuration file test failed >&2; exit 1'"


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    server = Nginx(tmp_path / "nginx")
    yield server
    server.stop()


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[HAProxy]:
    server = HAProxy(tmp_path / "haproxy")
    yield server
    server.stop()


@pytest.fixture
def cli(app: Flask):
    runner = app.test_cli_runner()

    def invoke(*args: str) -> dict:
        result = runner.invoke(args=[*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    return invoke


@pytest.fixture
def pki(app: Flask, jobs) -> None:
    add_domain(app, "example.com")
    issuing_ca(app, jobs)


@pytest.fixture
def run_renewals(app: Flask, test_settings: dict[str, str]):
    """``flask lifecycle run-now renewals --json`` (the scheduler's task, enqueued and
    waited for); the task's summary."""
    env = {**worker_env(test_settings), "FLASK_APP": "app"}
    env.pop("KEY_ENCRYPTION_KEYS")  # only the worker holds it

    def invoke() -> dict:
        proc = subprocess.Popen([sys.executable, "-m", "flask", "lifecycle", "run-now",
                                 "renewals", "--json", "--timeout", "60"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            run_jobs_until(app, lambda: proc.poll() is not None, timeout=90)
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, out + err
        body = json.loads(out)
        assert (body["task"], body["status"]) == ("renewals", "success"), body
        return body["result"]

    return invoke


def _bridge(tmp_path: Path, live_server: str, cli, allowed: list[str],
            commands: list[str]) -> BridgeProcess:
    private_pem, public_pem = bridge_keypair("x25519")
    (tmp_path / "bridge.pub").write_text(public_pem)
    creds = cli("bridges", "create", "--name", "dc1", "--public-key",
                str(tmp_path / "bridge.pub"), "--poll-interval", "2")
    config = write_config(tmp_path / "bridge.yaml", live_server, creds, private_pem,
                          allowed, commands)
    return BridgeProcess(config)


def _deployments(app: Flask, target_id: str) -> list[Deployment]:
    with app.app_context():
        rows = list(db.session.scalars(select(Deployment).where(
            Deployment.target_system_id == uuid.UUID(target_id))
            .order_by(Deployment.created_at)))
        for row in rows:
            _ = row.steps, row.certificate.serial_hex
        db.session.expunge_all()
        return rows


def _settled(port: int, sni: str, trust_pem: str, serial_hex: str) -> Served:
    """What the endpoint serves once the reload has settled: after a reload the old
    workers may still accept a connection or two with the old certificate (the bridge's
    probe saw the new one at least once), so ask until the new serial answers or 15 s
    pass, and return the last answer for the assertion to report."""
    deadline, last = time.monotonic() + 15, None
    while True:
        try:
            last = served_certificate("127.0.0.1", port, sni, trust_pem)
            if last.serial == serial_hex.lstrip("0"):
                return last
        except (OSError, ssl.SSLError):
            if time.monotonic() >= deadline:
                raise
        if time.monotonic() >= deadline:
            return last
        time.sleep(0.1)


def _finished(app: Flask, target_id: str, n: int):
    def check():
        rows = _deployments(app, target_id)
        done = [d for d in rows if d.status in ("succeeded", "failed")]
        return done if len(done) >= n else None
    return check


def _verify(app: Flask, tmp_path: Path, fullchain: Path) -> None:
    (tmp_path / "root.pem").write_text(root_pem(app))
    pems = fullchain.read_text().split("-----END CERTIFICATE-----")
    leaf = pems[0] + "-----END CERTIFICATE-----\n"
    chain = "-----END CERTIFICATE-----".join(pems[1:])
    (tmp_path / "leaf.pem").write_text(leaf)
    (tmp_path / "chain.pem").write_text(chain)
    result = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "root.pem"),
                             "-untrusted", str(tmp_path / "chain.pem"),
                             str(tmp_path / "leaf.pem")], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr


def test_nginx_first_certificate_and_renewal_deployed_without_clicks(
        app: Flask, live_server: str, pki, cli, run_renewals, nginx: Nginx,
        tmp_path: Path) -> None:
    bridge = _bridge(tmp_path, live_server, cli, [str(nginx.tls)], [nginx.reload_command])
    try:
        target = cli("targets", "create", "--name", "web-1", "--bridge", "dc1", "--kind",
                     "nginx", "--path", f"fullchain={nginx.tls}/fullchain.pem",
                     "--path", f"key={nginx.tls}/key.pem", "--reload-command",
                     nginx.reload_command, "--probe", f"127.0.0.1:{nginx.port}", "--sni",
                     "web.example.com")
        # A renewal rule longer than the validity: due as soon as a certificate exists.
        cli("targets", "add-profile", "web-1", "--name", "web", "--common-name",
            "web.example.com", "--validity-days", "30", "--renew-before-days", "60")
        run_jobs(app)                                   # the worker issues it
        first = wait_until(_finished(app, target["id"], 1), "the first deployment",
                           bridge)[0]
        assert first.status == "succeeded", [(s.name, s.output) for s in first.steps]
        assert [s.name for s in first.steps] == ["check", "key", "write", "reload", "probe"]
        served = _settled(nginx.port, "web.example.com",
                          (nginx.tls / "fullchain.pem").read_text(), first.certificate.serial_hex)
        assert served.serial == first.certificate.serial_hex.lstrip("0")
        assert first.served_serial == served.serial
        _verify(app, tmp_path, nginx.tls / "fullchain.pem")
        assert (nginx.tls / "key.pem").stat().st_mode & 0o777 == 0o600
        assert (nginx.tls / "fullchain.pem.bak").exists()   # the previous file, kept

        run = run_renewals()                             # the scheduler's renewals task
        assert run["renewals"] == 1 and run["initial"] == 0
        run_jobs(app)
        both = wait_until(_finished(app, target["id"], 2), "the renewal's deployment",
                          bridge)
        renewal = both[1]
        assert renewal.status == "succeeded", [(s.name, s.output) for s in renewal.steps]
        assert renewal.certificate.serial_hex != first.certificate.serial_hex
        served = _settled(nginx.port, "web.example.com",
                          (nginx.tls / "fullchain.pem").read_text(),
                          renewal.certificate.serial_hex)
        assert served.serial == renewal.certificate.serial_hex.lstrip("0")
        with app.app_context():
            orders = list(db.session.scalars(select(Order).order_by(Order.submitted_at)))
            assert [o.requested_by_label for o in orders] == ["web-1", "web-1"]
            assert {o.pathway for o in orders} == {"target_system"}
            assert any("Renews certificate" in e.message for e in orders[1].events)
            assert orders[1].renews_certificate_id == first.certificate.id
            assert orders[1].renews_order_id == orders[0].id
            row = db.session.get(TargetSystem, uuid.UUID(target["id"]))
            assert row.served_serial == served.serial
        assert run_renewals()["renewals"] == 1           # due again (rule > validity)
    finally:
        bridge.stop()


def test_failing_reload_restores_the_previous_files_and_alerts_in_time(
        app: Flask, live_server: str, pki, cli, run_renewals, nginx: Nginx,
        tmp_path: Path) -> None:
    before = {p: (nginx.tls / p).read_bytes() for p in ("fullchain.pem", "key.pem")}
    bridge = _bridge(tmp_path, live_server, cli, [str(nginx.tls)], [FAILING_RELOAD])
    try:
        target = cli("targets", "create", "--name", "web-1", "--bridge", "dc1", "--kind",
                     "nginx", "--path", f"fullchain={nginx.tls}/fullchain.pem",
                     "--path", f"key={nginx.tls}/key.pem", "--reload-command",
                     FAILING_RELOAD, "--probe", f"127.0.0.1:{nginx.port}")
        cli("targets", "add-profile", "web-1", "--name", "web", "--common-name",
            "web.example.com", "--validity-days", "30")
        run_jobs(app)
        failed = wait_until(_finished(app, target["id"], 1), "the deployment", bridge)[0]
    finally:
        bridge.stop()
    assert failed.status == "failed"
    assert "configuration file test failed" in failed.error
    assert [(s.name, s.ok) for s in failed.steps] == [
        ("check", True), ("key", True), ("write", True), ("reload", False),
        ("restore", True), ("reload_restored", False)]
    assert {p: (nginx.tls / p).read_bytes() for p in before} == before
    served = served_certificate("127.0.0.1", nginx.port, "web.example.com",
                                (nginx.tls / "fullchain.pem").read_text())
    assert served.serial == format(nginx.initial.serial_number, "x")
    assert failed.served_serial == served.serial

    assert run_renewals()["alerts"] == 0                   # not yet overdue
    app.config["DEPLOYMENT_CONFIRM_SECONDS"] = 0           # … its time has passed (the
    try:                                                   # worker runs in this process)
        assert run_renewals()["alerts"] == 1
        assert run_renewals()["alerts"] == 0               # raised once
    finally:
        app.config["DEPLOYMENT_CONFIRM_SECONDS"] = 86400
    with app.app_context():
        alert = db.session.scalar(select(CertificateAlert).where(
            CertificateAlert.type == "renewed_not_deployed"))
        assert "configuration file test failed" in alert.message
        assert not db.session.scalar(select(CertificateAlert).where(
            CertificateAlert.type == "served_mismatch"))


def test_haproxy_single_pem(app: Flask, live_server: str, pki, cli, haproxy: HAProxy,
                            tmp_path: Path) -> None:
    bridge = _bridge(tmp_path, live_server, cli, [str(haproxy.certs)],
                     [haproxy.reload_command])
    try:
        target = cli("targets", "create", "--name", "lb-1", "--bridge", "dc1", "--kind",
                     "haproxy", "--path", f"pem={haproxy.pem}", "--reload-command",
                     haproxy.reload_command, "--probe", f"127.0.0.1:{haproxy.port}",
                     "--sni", "lb.example.com")
        cli("targets", "add-profile", "lb-1", "--name", "lb", "--common-name",
            "lb.example.com", "--validity-days", "30")
        run_jobs(app)
        done = wait_until(_finished(app, target["id"], 1), "the deployment", bridge)[0]
    finally:
        bridge.stop()
    assert done.status == "succeeded", [(s.name, s.output) for s in done.steps]
    served = _settled(haproxy.port, "lb.example.com", certificates_only(haproxy.pem.read_text()),
                      done.certificate.serial_hex)
    assert served.serial == done.certificate.serial_hex.lstrip("0")
    pem = haproxy.pem.read_text()
    assert pem.count("BEGIN CERTIFICATE") == 2 and "BEGIN PRIVATE KEY" in pem
    assert x509.load_pem_x509_certificate(pem.encode()).serial_number == \
        int(done.certificate.serial_hex, 16)
    assert haproxy.pem.stat().st_mode & 0o777 == 0o600
    assert shlex.split(haproxy.reload_command)[0] == "/bin/kill"

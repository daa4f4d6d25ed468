"""The platform served over HTTPS (a throwaway listener CA, the session app in a
werkzeug thread with an ssl_context) with a real ``worker.py`` issuing — what unmodified
ACME clients (certbot, lego, dehydrated) talk to. Package-scoped worker: it must be gone
before other packages' tests drain the same queue themselves."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.extensions import db
from tests.acme.helpers import make_account, make_acme_server
from tests.builders import add_domain
from tests.e2e.rq_worker import WorkerProcess, worker_env
from tests.interop.servers import ListenerTLS, make_listener_tls


@dataclass(frozen=True)
class TlsPlatform:
    base_url: str
    tls: ListenerTLS


@pytest.fixture(scope="package")
def acme_worker(app: Flask, test_settings: dict[str, str],
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    log_path = tmp_path_factory.mktemp("acme-worker") / "worker.log"
    worker = WorkerProcess(worker_env(test_settings), log_path).start()
    yield worker
    worker.stop()


@pytest.fixture(scope="package")
def tls_platform(app: Flask, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[TlsPlatform]:
    tls = make_listener_tls(tmp_path_factory.mktemp("platform-tls"))
    server = make_server("127.0.0.1", 0, app, threaded=True,
                         ssl_context=(str(tls.cert_path), str(tls.key_path)))
    thread = threading.Thread(target=server.serve_forever, name="tls-platform", daemon=True)
    thread.start()
    base = f"https://localhost:{server.server_port}"
    previous = app.config.get("PUBLIC_BASE_URL")
    app.config["PUBLIC_BASE_URL"] = base
    yield TlsPlatform(base_url=base, tls=tls)
    app.config["PUBLIC_BASE_URL"] = previous
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def wait_until(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@dataclass(frozen=True)
class AcmeWorld:
    directory: str
    server_id: str
    eab_kid: str
    eab_hmac: str
    root_pem: Path


def _active_intermediate(app: Flask) -> str:
    from app.models import CertificateAuthority
    from app.services import pki

    with app.app_context():
        root_id = pki.request_root(pki.CAParameters(common_name="Interop Root",
                                                    algorithm="ec-256",
                                                    organization="Interop Org",
                                                    country="DE")).id

    def active(ca_id) -> bool:
        with app.app_context():
            ca = db.session.get(CertificateAuthority, ca_id)
            ok = ca is not None and ca.status == "active"
            db.session.remove()
            return ok

    wait_until(lambda: active(root_id), what="the root CA")
    with app.app_context():
        inter_id = pki.request_intermediate(pki.CAParameters(
            common_name="Interop Issuing", algorithm="ec-256", validity_days=730,
            organization="Interop Org", country="DE"),
            root_id).id
    wait_until(lambda: active(inter_id), what="the intermediate CA")
    return str(inter_id)


@pytest.fixture
def acme_world(app: Flask, acme_worker: WorkerProcess, tls_platform: TlsPlatform,
               tmp_path: Path) -> AcmeWorld:
    add_domain(app, "example.com")
    issuer = _active_intermediate(app)
    server_id = make_acme_server(app, issuer, name="Interop ACME")
    _, kid, hmac_key = make_account(app, server_id, "interop-fleet",
                                    ["example.com:wildcard"])
    from app.models import CertificateAuthority

    with app.app_context():
        root = db.session.query(CertificateAuthority).filter_by(kind="root").one()
        root_path = tmp_path / "platform-root.pem"
        root_path.write_text(root.certificate_pem)
    return AcmeWorld(directory=f"{tls_platform.base_url}/acme/{server_id}/directory",
                     server_id=server_id, eab_kid=kid, eab_hmac=hmac_key,
                     root_pem=root_path)

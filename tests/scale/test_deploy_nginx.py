"""deploy/nginx/certplatform.conf, tried with Debian's nginx in front of two gunicorn web
nodes: TLS for the UI and APIs, plain HTTP redirected except /pki/, the 1 MiB body limit,
and a web node going away without clients noticing."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from tests.e2e.rq_worker import worker_env
from tests.interop.servers import free_port, make_listener_tls, wait_for_port
from tests.scale.processes import ROOT, WebProcess

pytestmark = pytest.mark.interop
SITE = ROOT / "deploy" / "nginx" / "certplatform.conf"


class Nginx:
    def __init__(self, tmp: Path, web_ports: list[int]) -> None:
        tls = make_listener_tls(tmp / "tls")
        self.ca_path = tls.ca_path
        self.http_port, self.https_port = free_port(), free_port()
        site = SITE.read_text()
        replacements = {
            "listen 80;": f"listen 127.0.0.1:{self.http_port};",
            "listen 443 ssl http2;": f"listen 127.0.0.1:{self.https_port} ssl http2;",
            "/etc/certplatform/tls/fullchain.pem": str(tls.cert_path),
            "/etc/certplatform/tls/key.pem": str(tls.key_path),
            "server 127.0.0.1:8000 ": f"server 127.0.0.1:{web_ports[0]} ",
            "server 127.0.0.1:8001 ": f"server 127.0.0.1:{web_ports[1]} ",
        }
        for old, new in replacements.items():
            assert old in site, f"{old!r} is no longer in {SITE}"
            site = site.replace(old, new)
        (tmp / "site.conf").write_text(site)
        temp = tmp / "temp"
        temp.mkdir()
        (tmp / "nginx.conf").write_text(f"""
pid {tmp / 'nginx.pid'};
error_log {tmp / 'error.log'} warn;
user root;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {tmp / 'site.conf'};
}}
""")
        self.log = tmp / "nginx.out"
        self.proc = subprocess.Popen(
            ["nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        wait_for_port(self.https_port, self.proc, self.log)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def proxied(app: Flask, test_settings: dict[str, str], tmp_path: Path
            ) -> Iterator[tuple[Nginx, list[WebProcess]]]:
    env = {**worker_env(test_settings), "TRUSTED_PROXIES": "1"}
    webs = [WebProcess(env, tmp_path / f"web{i}.log").start() for i in range(2)]
    nginx = Nginx(tmp_path, [web.port for web in webs])
    yield nginx, webs
    nginx.stop()
    for web in webs:
        web.stop()


def test_the_documented_nginx_config_serves_the_platform(proxied) -> None:
    nginx, webs = proxied
    https = f"https://localhost:{nginx.https_port}"

    # TLS, verified against the listener's CA (never verify=False), reaching the app.
    response = requests.get(f"{https}/api/v1/openapi.json", verify=nginx.ca_path, timeout=10)
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")
    login = requests.get(f"{https}/login", verify=nginx.ca_path, timeout=10)
    assert login.status_code == 200
    assert "Content-Security-Policy" in login.headers  # the app's own headers came through

    # Plain HTTP: redirected to HTTPS, except /pki/ which the app itself answers.
    plain = requests.get(f"http://localhost:{nginx.http_port}/login",
                         allow_redirects=False, timeout=10)
    assert plain.status_code == 301
    assert plain.headers["Location"].startswith("https://localhost")
    pki = requests.get(f"http://localhost:{nginx.http_port}/pki/no-such-ca/crl",
                       allow_redirects=False, timeout=10)
    assert pki.status_code != 301
    assert "Content-Security-Policy" in pki.headers

    # Bodies over 1 MiB stop at the proxy.
    too_big = requests.post(f"{https}/api/v1/courier/auth", data=b"x" * (2 * 1024 * 1024),
                            verify=nginx.ca_path, timeout=10)
    assert too_big.status_code == 413

    # One web node gone: nginx sends every request to the other.
    webs[0].stop()
    for _ in range(6):
        again = requests.get(f"{https}/api/v1/openapi.json", verify=nginx.ca_path, timeout=10)
        assert again.status_code == 200

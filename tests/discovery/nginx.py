"""Debian's nginx serving TLS endpoints to scan: on one port, by SNI, a certificate with
its chain, an expired one and a self-signed one (the default server); and a plain-HTTP
port. Started on free loopback ports, stopped at the end."""
from __future__ import annotations

import subprocess
from pathlib import Path

from tests.discovery.certs import Pki
from tests.interop.servers import free_port, wait_for_port

VHOSTS = ("chain.nginx.test", "expired.nginx.test")
DEFAULT = "self-signed.nginx.test"


class DiscoveryNginx:
    def __init__(self, tmp: Path, pki: Pki) -> None:
        self.tls_port, self.http_port = free_port(), free_port()
        servers = []
        for name in (DEFAULT, *VHOSTS):
            cert, key = pki.write_server_files(tmp / "tls", name, chain=name != DEFAULT)
            default = " default_server" if name == DEFAULT else ""
            servers.append(f"""
    server {{
        listen 127.0.0.1:{self.tls_port} ssl{default};
        server_name {name};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        return 204;
    }}""")
        temp = tmp / "temp"
        temp.mkdir(parents=True, exist_ok=True)
        (tmp / "nginx.conf").write_text(f"""
pid {tmp / 'nginx.pid'};
error_log {tmp / 'error.log'} warn;
user root;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    {''.join(servers)}
    server {{
        listen 127.0.0.1:{self.http_port};
        return 200 "plain http\\n";
    }}
}}
""")
        self.log = tmp / "nginx.out"
        self.proc = subprocess.Popen(
            ["nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        wait_for_port(self.tls_port, self.proc, self.log)
        wait_for_port(self.http_port, self.proc, self.log)

    def endpoint(self, name: str) -> str:
        """The scan target that asks this nginx for ``name`` by SNI."""
        return f"127.0.0.1:{self.tls_port}/{name}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

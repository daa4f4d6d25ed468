"""Debian's nginx and haproxy on free loopback ports, serving TLS from the files a bridge
writes (a throwaway self-signed certificate until the first deployment)."""
from __future__ import annotations

import datetime
import os
import signal
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.interop.servers import Process, free_port, wait_for_port

NGINX = "/usr/sbin/nginx"
HAPROXY = "/usr/sbin/haproxy"


def self_signed(name: str) -> tuple[bytes, bytes, x509.Certificate]:
    """(certificate PEM, key PEM, certificate): what a server had before the platform."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()), cert)


class Nginx:
    """nginx (master + one worker) reading ``tls/fullchain.pem`` and ``tls/key.pem``."""

    def __init__(self, directory: Path, server_name: str = "web.example.com") -> None:
        self.dir = directory
        self.tls = directory / "tls"
        self.tls.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        cert, key, self.initial = self_signed(server_name)
        (self.tls / "fullchain.pem").write_bytes(cert)
        (self.tls / "key.pem").write_bytes(key)
        (self.tls / "key.pem").chmod(0o600)
        self.conf = directory / "nginx.conf"
        temp = "\n".join(f"  {kind}_temp_path {directory}/{kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        self.conf.write_text(f"""daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log off;
{temp}
  server {{
    listen 127.0.0.1:{self.port} ssl;
    server_name {server_name};
    ssl_certificate {self.tls}/fullchain.pem;
    ssl_certificate_key {self.tls}/key.pem;
    return 200 "ok\\n";
  }}
}}
""")
        self.base = [NGINX, "-p", str(directory), "-c", str(self.conf), "-e",
                     str(directory / "error.log")]
        self.reload_command = " ".join([*self.base, "-s", "reload"])
        self.process = Process(self.base, directory / "nginx.out")
        wait_for_port(self.port, self.process.proc, directory / "error.log")

    def stop(self) -> None:
        self.process.stop()


class HAProxy:
    """haproxy in master-worker mode serving one PEM (certificate, chain and key);
    reloaded by SIGUSR2 to the master."""

    def __init__(self, directory: Path, server_name: str = "lb.example.com") -> None:
        self.dir = directory
        self.certs = directory / "certs"
        self.certs.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        cert, key, self.initial = self_signed(server_name)
        self.pem = self.certs / "site.pem"
        self.pem.write_bytes(cert + key)
        self.pem.chmod(0o600)
        self.conf = directory / "haproxy.cfg"
        self.conf.write_text(f"""global
  maxconn 64
defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend tls
  bind 127.0.0.1:{self.port} ssl crt {self.pem}
  http-request return status 200 content-type text/plain string ok
""")
        self.process = Process([HAPROXY, "-W", "-db", "-f", str(self.conf)],
                               directory / "haproxy.out")
        wait_for_port(self.port, self.process.proc, directory / "haproxy.out")
        self.reload_command = f"/bin/kill -USR2 {self.process.proc.pid}"

    def stop(self) -> None:
        if self.process.proc.poll() is None:
            os.kill(self.process.proc.pid, signal.SIGTERM)
        self.process.stop()


__all__ = ["HAProxy", "Nginx", "self_signed", "subprocess"]

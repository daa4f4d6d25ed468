"""External programs for the interop tests, started on free loopback ports and stopped
afterwards: Debian's ``pebble`` and ``pebble-challtestsrv`` (a real ACME CA and its fake
DNS), and ``named`` (bind9) serving a test zone that takes TSIG-signed dynamic updates.

Pebble ships no listener certificate: a throwaway CA and a ``localhost`` certificate
(SAN DNS:localhost, IP:127.0.0.1) are generated here. Pebble prints "Listening" before it
binds, so readiness is the port accepting connections, never the log line."""
from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PEBBLE = shutil.which("pebble") or "/usr/bin/pebble"
CHALLTESTSRV = shutil.which("pebble-challtestsrv") or "/usr/bin/pebble-challtestsrv"
NAMED = shutil.which("named") or "/usr/sbin/named"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with closing(socket.socket(socket.AF_INET, kind)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path,
                  timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited ({proc.returncode}):\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        with closing(socket.socket()) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{proc.args[0]} did not open port {port}:\n"
                       f"{log.read_text(errors='replace')[-3000:]}")


class Process:
    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(args, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})},
                                     start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()


# ---- the listener certificate ---------------------------------------------------------------

@dataclass(frozen=True)
class ListenerTLS:
    ca_pem: str
    cert_path: Path
    key_path: Path
    ca_path: Path


def make_listener_tls(directory: Path) -> ListenerTLS:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pebble listener test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    paths = ListenerTLS(ca_pem=ca_pem, cert_path=directory / "cert.pem",
                        key_path=directory / "key.pem", ca_path=directory / "ca.pem")
    paths.ca_path.write_text(ca_pem)
    paths.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    return paths


# ---- pebble-challtestsrv ------------------------------------------------------------------

class ChallTestSrv:
    """A fake DNS answering every A query with 127.0.0.1 (so pebble's http-01 validation
    reaches the test web server on loopback); its management API changes answers."""

    def __init__(self, directory: Path) -> None:
        self.dns_port = free_port(socket.SOCK_DGRAM)
        self.management_port = free_port()
        self.process = Process([CHALLTESTSRV, "-dns01", f"127.0.0.1:{self.dns_port}",
                                "-http01", "", "-https01", "", "-tlsalpn01", "",
                                "-management", f"127.0.0.1:{self.management_port}",
                                "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
                               directory / "challtestsrv.log")
        wait_for_port(self.management_port, self.process.proc, self.process.log)

    def add_a(self, host: str, addresses: list[str]) -> None:
        requests.post(f"http://127.0.0.1:{self.management_port}/add-a",
                      json={"host": host, "addresses": addresses}, timeout=5).raise_for_status()

    def stop(self) -> None:
        self.process.stop()


# ---- pebble -------------------------------------------------------------------------------

@dataclass
class Pebble:
    """One pebble with EAB required (``eab_kid`` / ``eab_hmac_key``)."""

    directory: Path
    dns_server: str
    http_port: int
    nonce_reject: int = 0
    tls: ListenerTLS | None = None
    eab_kid: str = "kid-platform"
    eab_hmac_key: str = field(default_factory=lambda: base64.urlsafe_b64encode(
        secrets.token_bytes(32)).decode().rstrip("="))
    process: Process | None = None

    def start(self) -> Pebble:
        self.tls = make_listener_tls(self.directory / "tls")
        self.port, self.management_port = free_port(), free_port()
        config = {"pebble": {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(self.tls.cert_path), "privateKey": str(self.tls.key_path),
            "httpPort": self.http_port, "tlsPort": free_port(), "ocspResponderURL": "",
            "externalAccountBindingRequired": True,
            "externalAccountMACKeys": {self.eab_kid: self.eab_hmac_key}}}
        path = self.directory / "pebble-config.json"
        path.write_text(json.dumps(config))
        self.process = Process([PEBBLE, "-config", str(path), "-dnsserver", self.dns_server],
                               self.directory / "pebble.log",
                               env={"PEBBLE_VA_NOSLEEP": "1",
                                    "PEBBLE_WFE_NONCEREJECT": str(self.nonce_reject),
                                    "PEBBLE_AUTHZREUSE": "0"})
        wait_for_port(self.port, self.process.proc, self.process.log)
        wait_for_port(self.management_port, self.process.proc, self.process.log)
        return self

    @property
    def directory_url(self) -> str:
        return f"https://localhost:{self.port}/dir"

    def root_pem(self) -> str:
        """The root of the chain pebble issues under, from its management interface."""
        assert self.tls is not None
        response = requests.get(f"https://localhost:{self.management_port}/roots/0",
                                verify=str(self.tls.ca_path), timeout=10)
        response.raise_for_status()
        return response.text

    def log_text(self) -> str:
        return self.process.log.read_text(errors="replace") if self.process else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


# ---- bind9 --------------------------------------------------------------------------------

class Bind9:
    """``named`` serving ``zone`` on loopback, taking updates signed with ``tsig_name``."""

    def __init__(self, directory: Path, zone: str = "dns01.test",
                 tsig_name: str = "platform-key") -> None:
        self.zone, self.tsig_name = zone, tsig_name
        self.tsig_secret = base64.b64encode(secrets.token_bytes(32)).decode()
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"db.{zone}").write_text(
            f"$TTL 60\n@ IN SOA ns.{zone}. hostmaster.{zone}. 1 60 60 600 60\n"
            f"@ IN NS ns.{zone}.\nns IN A 127.0.0.1\n@ IN A 127.0.0.1\n* IN A 127.0.0.1\n")
        conf = directory / "named.conf"
        conf.write_text(f"""
options {{
  directory "{directory}";
  listen-on port {self.port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  pid-file "{directory}/named.pid";
  session-keyfile "{directory}/session.key";
  managed-keys-directory "{directory}";
  recursion no;
  dnssec-validation no;
  notify no;
}};
controls {{ }};
key "{tsig_name}." {{ algorithm hmac-sha256; secret "{self.tsig_secret}"; }};
zone "{zone}" {{ type primary; file "{directory}/db.{zone}";
  allow-update {{ key "{tsig_name}."; }}; }};
""")
        self.process = Process([NAMED, "-g", "-c", str(conf)], directory / "named.log")
        wait_for_port(self.port, self.process.proc, self.process.log)

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        with suppress(Exception):
            self.process.stop()

"""Certificates for discovery tests, made with cryptography: a root, an intermediate and
leaves (valid, expired), and a self-signed one. Written to files a TLS server can load."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn: str, org: str = "") -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), *parts]
    return x509.Name(parts)


def make_cert(cn: str, *, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None
              = None, ca: bool = False, sans: tuple[str, ...] = (),
              not_before: datetime | None = None, days: int = 90, org: str = ""
              ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    subject = _name(cn, org)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer[0].subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    return cert, key


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class Pki:
    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey
    inter: x509.Certificate
    inter_key: ec.EllipticCurvePrivateKey
    leaves: dict[str, tuple[x509.Certificate, ec.EllipticCurvePrivateKey]] = field(
        default_factory=dict)

    def leaf(self, name: str, **kwargs) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        if name not in self.leaves:
            self.leaves[name] = make_cert(name, issuer=(self.inter, self.inter_key),
                                          sans=(name,), org="Discovery Test", **kwargs)
        return self.leaves[name]

    def write_server_files(self, directory: Path, name: str, *, chain: bool = True
                           ) -> tuple[Path, Path]:
        """fullchain.pem (leaf + intermediate) and key.pem for a server."""
        cert, key = self.leaves[name]
        directory.mkdir(parents=True, exist_ok=True)
        cert_file = directory / f"{name}.fullchain.pem"
        key_file = directory / f"{name}.key.pem"
        cert_file.write_bytes(pem(cert, self.inter) if chain else pem(cert))
        key_file.write_bytes(key_pem(key))
        return cert_file, key_file


def new_pki() -> Pki:
    root, root_key = make_cert("Discovery Test Root", ca=True, days=3650, org="Discovery Test")
    inter, inter_key = make_cert("Discovery Test Issuing", issuer=(root, root_key), ca=True,
                                 days=1825, org="Discovery Test")
    return Pki(root, root_key, inter, inter_key)

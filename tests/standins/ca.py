"""The stand-in CAs' signing hierarchy (root → issuing CA → leaf) and the client CA the
GlobalSign stand-in trusts for mutual TLS. Real certificates made with ``cryptography``."""
from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stand-in CA Ltd"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _ca(name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None,
        issuer_key: ec.EllipticCurvePrivateKey | None) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(_name(name))
               .issuer_name(issuer.subject if issuer else _name(name))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(_now() - datetime.timedelta(hours=1))
               .not_valid_after(_now() + datetime.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None if issuer is None
                                                    else 0), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                            False, False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if issuer is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer.public_key()), critical=False)  # type: ignore[arg-type]
    return builder.sign(issuer_key or key, hashes.SHA256())


@dataclass
class StandInCA:
    """Signs like a public CA: a leaf for a given public key and names."""

    label: str
    root_key: ec.EllipticCurvePrivateKey = field(init=False)
    root: x509.Certificate = field(init=False)
    issuing_key: ec.EllipticCurvePrivateKey = field(init=False)
    issuing: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = _ca(f"{self.label} Test Root", self.root_key, None, None)
        self.issuing_key = ec.generate_private_key(ec.SECP256R1())
        self.issuing = _ca(f"{self.label} Test Issuing CA", self.issuing_key, self.root,
                           self.root_key)

    def issue(self, public_key: object, common_name: str, dns_names: list[str],
              ip_addresses: list[str] = (), days: int = 90) -> x509.Certificate:  # type: ignore[assignment]
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]) \
            if common_name else x509.Name([])
        return (x509.CertificateBuilder().subject_name(subject)
                .issuer_name(self.issuing.subject).public_key(public_key)  # type: ignore[arg-type]
                .serial_number(x509.random_serial_number())
                .not_valid_before(_now() - datetime.timedelta(minutes=1))
                .not_valid_after(_now() + datetime.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                               critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                             False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                    public_key), critical=False)  # type: ignore[arg-type]
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.issuing_key.public_key()), critical=False)
                .sign(self.issuing_key, hashes.SHA256()))


@dataclass(frozen=True)
class ClientIdentity:
    cert_pem: str
    key_pem: str


class ClientCA:
    """The CA whose client certificates the GlobalSign stand-in accepts."""

    def __init__(self, label: str = "Atlas mTLS") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.certificate = _ca(f"{label} Client CA", self.key, None, None)

    def client(self, account: str = "account-1") -> ClientIdentity:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(_name(account))
                .issuer_name(self.certificate.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(_now() - datetime.timedelta(minutes=5))
                .not_valid_after(_now() + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                               critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        return ClientIdentity(pem(cert), key_pem(key))

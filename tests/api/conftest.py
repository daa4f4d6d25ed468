"""Fixtures for the couriers' API: couriers made by the real service, tokens from the real
endpoint, CSRs of every kind, and row counts for "nothing was written"."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa, x25519
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from tests.builders import add_domain, count, issuing_ca

API = "/api/v1/courier"


@dataclass
class CourierCreds:
    id: str
    name: str
    client_id: str
    secret: str
    private_key_pem: bytes | None  # the courier's JWE decryption key, when it has one

    def auth_body(self) -> dict[str, str]:
        return {"uuid": self.id, "client_id": self.client_id, "client_secret": self.secret}


def encryption_keypair(kind: str = "ec") -> tuple[bytes, str]:
    private = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" \
        else x25519.X25519PrivateKey.generate()
    private_pem = private.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def make_courier(app: Flask, name: str | None = None, domains: tuple[str, ...] = ("example.com",),
                 key: str | None = "ec") -> CourierCreds:
    from app.services import couriers
    from app.services import domains as domain_service

    private_pem, public_pem = encryption_keypair(key) if key else (None, None)
    with app.app_context():
        ids = [domain_service.find_domain(d).id for d in domains]
        courier, secret = couriers.create_courier(name or f"courier-{uuid.uuid4().hex[:6]}",
                                                  ids, public_key_pem=public_pem)
        return CourierCreds(id=str(courier.id), name=courier.name,
                            client_id=courier.client_id, secret=secret,
                            private_key_pem=private_pem)


def token_for(client: FlaskClient, creds: CourierCreds) -> str:
    response = client.post(f"{API}/auth", json=creds.auth_body())
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


@pytest.fixture
def pki(app: Flask, jobs) -> str:
    """Active domains example.com and example.net, a root and an issuing intermediate."""
    add_domain(app, "example.com")
    add_domain(app, "example.net")
    return issuing_ca(app, jobs)


@pytest.fixture
def courier(app: Flask, pki) -> CourierCreds:
    return make_courier(app, "edge-proxy")


@pytest.fixture
def token(client: FlaskClient, courier: CourierCreds) -> str:
    return token_for(client, courier)


def root_pem(app: Flask) -> str:
    from sqlalchemy import select

    from app.models import CertificateAuthority

    with app.app_context():
        return db.session.scalar(select(CertificateAuthority.certificate_pem).where(
            CertificateAuthority.kind == "root"))


# ---- CSRs ------------------------------------------------------------------------------------

def new_key(kind: str = "ec-256") -> Any:
    if kind.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[4:]))
    if kind == "dsa":
        return dsa.generate_private_key(key_size=2048)
    curves = {"ec-256": ec.SECP256R1(), "ec-384": ec.SECP384R1(), "secp256k1": ec.SECP256K1()}
    return ec.generate_private_key(curves[kind])


def make_csr(cn: str = "www.example.com", sans: tuple[str, ...] = ("www.example.com",),
             key: Any = None, ca: bool = False, organization: str | None = None,
             der: bool = False) -> str | bytes:
    key = key if key is not None else new_key()
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(n) for n in sans]), critical=False)
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                        critical=True)
    csr = builder.sign(key, hashes.SHA256())
    if der:
        return csr.public_bytes(serialization.Encoding.DER)
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def pem_wrap(der: bytes) -> str:
    import base64
    import textwrap

    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}\n-----END CERTIFICATE REQUEST-----\n"


def csr_with_bad_signature() -> str:
    der = bytearray(make_csr(der=True))
    der[-5] ^= 0x55  # inside the signature BIT STRING, at the end of the structure
    return pem_wrap(bytes(der))


# ---- "nothing was written" -------------------------------------------------------------------

def row_counts(app: Flask) -> dict[str, int]:
    from app.models import ApiIdempotencyKey, Certificate, CertificateAlert, Order, OrderEvent

    return {m.__name__: count(app, m) for m in (Order, OrderEvent, ApiIdempotencyKey,
                                                 CertificateAlert, Certificate)}

"""Bridges, target systems and profiles made through the real services, for tests."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from flask import Flask

from app.domain.targets import TargetSpec


@dataclass
class BridgeCreds:
    id: str
    name: str
    client_id: str
    secret: str
    private_key_pem: bytes

    def auth_body(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.secret}


def bridge_keypair(kind: str = "ec") -> tuple[bytes, str]:
    private = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" \
        else x25519.X25519PrivateKey.generate()
    return (private.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
            private.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo).decode())


def make_bridge(app: Flask, name: str = "dc1-bridge", *, key: str = "ec",
                poll_interval: int = 30) -> BridgeCreds:
    from app.services import bridges

    private_pem, public_pem = bridge_keypair(key)
    with app.app_context():
        bridge, secret = bridges.create_bridge(name, public_pem, poll_interval=poll_interval)
        return BridgeCreds(id=str(bridge.id), name=bridge.name, client_id=bridge.client_id,
                           secret=secret, private_key_pem=private_pem)


def nginx_spec(directory: str, *, port: int = 8443, reload: str = "true",
               **extra: Any) -> TargetSpec:
    return TargetSpec(kind="nginx", paths={"fullchain": f"{directory}/fullchain.pem",
                                           "key": f"{directory}/key.pem"},
                      reload_command=reload, probe_host="127.0.0.1", probe_port=port,
                      probe_sni="web.example.com", **extra)


def make_target(app: Flask, bridge: BridgeCreds, name: str = "web-1",
                spec: TargetSpec | None = None) -> str:
    from app.services import bridges, target_systems

    with app.app_context():
        target = target_systems.create_target(name, bridges.get_bridge(bridge.id),
                                              spec or nginx_spec("/srv/tls"))
        return str(target.id)


def make_profile(app: Flask, target_id: str, name: str = "web", *,
                 common_name: str = "web.example.com", validity_days: int = 30,
                 renew_before_days: int | None = None, **values: Any) -> tuple[str, str | None]:
    """(profile id, first order id)."""
    from app.services import provisioning, target_systems

    with app.app_context():
        target = target_systems.get_target(target_id)
        profile, order = provisioning.create_profile(
            target, name, {"common_name": common_name, "algorithm": "ec-256",
                           "validity_days": validity_days, **values},
            renew_before_days=renew_before_days)
        return str(profile.id), str(order.id) if order else None

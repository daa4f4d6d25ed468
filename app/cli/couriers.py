"""``flask couriers …``: API clients that request certificates (SPEC section 8)."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from app.cli.output import emit, fail, json_option, service_errors
from app.models import Courier
from app.services import couriers
from app.services import domains as domain_service

group = click.Group("couriers", help="Manage couriers (automated API clients).")
ONCE_NOTE = "Store the client secret now: it is not shown again (only a hash is kept)."


def courier_json(courier: Courier, orders: int | None = None) -> dict[str, object]:
    payload: dict[str, object] = {
        "uuid": str(courier.id), "name": courier.name, "client_id": courier.client_id,
        "enabled": courier.enabled, "auth_method": courier.auth_method,
        "domains": [d.name for d in courier.domains],
        "encryption_public_key": bool(courier.encryption_public_key_pem),
        "created_at": courier.created_at, "last_used_at": courier.last_used_at}
    if orders is not None:
        payload["orders"] = orders
    return payload


def _credentials(courier: Courier, secret: str) -> dict[str, object]:
    return courier_json(courier) | {"client_secret": secret}


def _find(key: str, as_json: bool) -> Courier:
    courier = couriers.find_courier(key)
    if courier is None:
        fail(f"No courier with uuid or name '{key}'.", "courier.unknown", as_json)
    return courier


def _read_key(path: Path | None, as_json: bool) -> str | None:
    if path is None:
        return None
    try:
        if path.stat().st_size > couriers.MAX_PUBLIC_KEY_BYTES:
            fail(f"{path} is too large to be a public key.", "courier.public_key", as_json)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"Cannot read {path}: {exc.strerror}.", "file.unreadable", as_json)
    except UnicodeDecodeError:
        fail(f"{path} is not a PEM text file.", "courier.public_key", as_json)
    if not text.strip():
        fail(f"{path} is empty; expected an EC P-256 or X25519 public key in PEM.",
             "courier.public_key", as_json)
    return text


@group.command("create")
@click.option("--name", required=True, help="A label for people.")
@click.option("--domain", "domain_names", multiple=True,
              help="An allowed registered domain (repeat for several).")
@click.option("--public-key", "public_key", type=click.Path(dir_okay=False, path_type=Path),
              help="EC P-256 or X25519 public key (PEM) to encrypt platform-made keys to.")
@json_option
@with_appcontext
@service_errors
def create(name: str, domain_names: tuple[str, ...], public_key: Path | None,
           as_json: bool) -> None:
    """Create a courier; prints its uuid, client id and client secret (shown once)."""
    ids = []
    for raw in domain_names:
        domain = domain_service.find_domain(raw)
        if domain is None:
            fail(f"Domain '{raw}' is not registered.", "domain.unknown", as_json)
        ids.append(domain.id)
    pem = _read_key(public_key, as_json)
    courier, secret = couriers.create_courier(name, ids, public_key_pem=pem)
    emit(as_json, _credentials(courier, secret),
         f"Created courier {courier.name}\n  uuid:          {courier.id}\n"
         f"  client_id:     {courier.client_id}\n  client_secret: {secret}\n{ONCE_NOTE}")


@group.command("rotate-secret")
@click.argument("courier")
@json_option
@with_appcontext
@service_errors
def rotate_secret(courier: str, as_json: bool) -> None:
    """Replace COURIER's (uuid or name) client secret; old secret and tokens stop working."""
    record = _find(courier, as_json)
    secret = couriers.rotate_secret(record)
    emit(as_json, _credentials(record, secret),
         f"New client secret for {record.name} ({record.id}): {secret}\n"
         f"The old secret and every token issued with it no longer work. {ONCE_NOTE}")


def _toggle(key: str, enabled: bool, as_json: bool) -> None:
    record = _find(key, as_json)
    couriers.set_enabled(record, enabled)
    emit(as_json, courier_json(record),
         f"{'Enabled' if enabled else 'Disabled'} courier {record.name} ({record.id})")


@group.command("enable")
@click.argument("courier")
@json_option
@with_appcontext
@service_errors
def enable(courier: str, as_json: bool) -> None:
    """Let COURIER (uuid or name) authenticate again."""
    _toggle(courier, True, as_json)


@group.command("disable")
@click.argument("courier")
@json_option
@with_appcontext
@service_errors
def disable(courier: str, as_json: bool) -> None:
    """Stop COURIER (uuid or name): it cannot authenticate and its tokens stop working."""
    _toggle(courier, False, as_json)


@group.command("list")
@json_option
@with_appcontext
def list_couriers(as_json: bool) -> None:
    counts = couriers.order_counts()
    rows = couriers.list_couriers()
    emit(as_json, [courier_json(c, counts.get(c.id, 0)) for c in rows],
         "\n".join(f"{c.id}\t{c.name}\t{'enabled' if c.enabled else 'disabled'}\t"
                   f"{','.join(d.name for d in c.domains)}\t"
                   f"last used {c.last_used_at.isoformat() if c.last_used_at else 'never'}"
                   for c in rows) or "No couriers.")


@group.command("delete")
@click.argument("courier")
@json_option
@with_appcontext
@service_errors
def delete(courier: str, as_json: bool) -> None:
    """Delete COURIER (uuid or name). Its orders stay."""
    record = _find(courier, as_json)
    payload = courier_json(record)
    couriers.delete_courier(record)
    emit(as_json, payload | {"deleted": True}, f"Deleted courier {record.name} ({record.id})")

"""``flask bridges …``: the agents that deploy certificates to on-premises servers."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from app.cli.output import emit, fail, json_option, service_errors
from app.models import Bridge
from app.services import bridges
from app.services.couriers import MAX_PUBLIC_KEY_BYTES

group = click.Group("bridges", help="Manage bridges (deployment agents near the servers).")
ONCE_NOTE = "Store the client secret now: it is not shown again (only a hash is kept)."


def bridge_json(bridge: Bridge) -> dict[str, object]:
    return {"id": str(bridge.id), "name": bridge.name, "client_id": bridge.client_id,
            "enabled": bridge.enabled, "status": bridges.status_of(bridge),
            "poll_interval": bridge.poll_interval_seconds, "version": bridge.version,
            "last_seen_at": bridge.last_seen_at, "created_at": bridge.created_at}


def _find(key: str, as_json: bool) -> Bridge:
    bridge = bridges.find_bridge(key)
    if bridge is None:
        fail(f"No bridge with id or name '{key}'.", "bridge.unknown", as_json)
    return bridge


def _read_key(path: Path, as_json: bool) -> str:
    try:
        if path.stat().st_size > MAX_PUBLIC_KEY_BYTES:
            fail(f"{path} is too large to be a public key.", "bridge.public_key", as_json)
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"Cannot read {path}: {exc.strerror}.", "file.unreadable", as_json)
    except UnicodeDecodeError:
        fail(f"{path} is not a PEM text file.", "bridge.public_key", as_json)
    raise AssertionError("unreachable")


@group.command("create")
@click.option("--name", required=True, help="A label for people.")
@click.option("--public-key", "public_key", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The bridge's EC P-256 or X25519 public key (PEM): deployment keys are "
                   "encrypted to it.")
@click.option("--poll-interval", default=30, show_default=True, type=int,
              help="Seconds between the bridge's polls.")
@json_option
@with_appcontext
@service_errors
def create(name: str, public_key: Path, poll_interval: int, as_json: bool) -> None:
    """Create a bridge; prints its id, client id and client secret (shown once)."""
    bridge, secret = bridges.create_bridge(name, _read_key(public_key, as_json),
                                           poll_interval=poll_interval)
    emit(as_json, {"id": str(bridge.id), "client_id": bridge.client_id,
                   "client_secret": secret, "name": bridge.name},
         f"Created bridge {bridge.name}\n  id:            {bridge.id}\n"
         f"  client_id:     {bridge.client_id}\n  client_secret: {secret}\n{ONCE_NOTE}")


@group.command("list")
@json_option
@with_appcontext
def list_bridges(as_json: bool) -> None:
    rows = bridges.list_bridges()
    emit(as_json, [bridge_json(b) for b in rows],
         "\n".join(f"{b.id}\t{b.name}\t{bridges.status_of(b)}\t"
                   f"version {b.version or '-'}\tlast contact "
                   f"{b.last_seen_at.isoformat(timespec='seconds') if b.last_seen_at else 'never'}"
                   for b in rows) or "No bridges.")


@group.command("rotate-secret")
@click.argument("bridge")
@json_option
@with_appcontext
@service_errors
def rotate_secret(bridge: str, as_json: bool) -> None:
    """Replace BRIDGE's (id or name) client secret; the old one and its tokens stop."""
    record = _find(bridge, as_json)
    secret = bridges.rotate_secret(record)
    emit(as_json, {"id": str(record.id), "client_id": record.client_id,
                   "client_secret": secret},
         f"New client secret for bridge {record.name} ({record.id}): {secret}\n"
         f"The old secret and every token issued with it no longer work. {ONCE_NOTE}")


def _toggle(key: str, enabled: bool, as_json: bool) -> None:
    record = _find(key, as_json)
    bridges.set_enabled(record, enabled)
    emit(as_json, bridge_json(record),
         f"{'Enabled' if enabled else 'Disabled'} bridge {record.name} ({record.id})")


@group.command("disable")
@click.argument("bridge")
@json_option
@with_appcontext
@service_errors
def disable(bridge: str, as_json: bool) -> None:
    """Stop BRIDGE (id or name): it cannot authenticate and its tokens stop working."""
    _toggle(bridge, False, as_json)


@group.command("enable")
@click.argument("bridge")
@json_option
@with_appcontext
@service_errors
def enable(bridge: str, as_json: bool) -> None:
    """Let BRIDGE (id or name) authenticate again."""
    _toggle(bridge, True, as_json)

"""``flask targets …``: target systems and their certificate profiles. Their renewals are
the scheduler's ``renewals`` task (``flask lifecycle run-now renewals`` runs it now)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.output import emit, fail, json_option, service_errors
from app.domain.targets import KIND_PATHS, TargetSpec
from app.models import TargetSystem
from app.services import bridges, provisioning, target_systems

group = click.Group("targets", help="Manage target systems and certificate profiles.")


def target_json(target: TargetSystem) -> dict[str, object]:
    return {"id": str(target.id), "name": target.name, "kind": target.kind,
            "bridge": target.bridge.name, "paths": target.paths,
            "reload_command": target.reload_command,
            "probe": f"{target.probe_host}:{target.probe_port}", "sni": target.probe_sni,
            "served_serial": target.served_serial, "enabled": target.enabled,
            "profiles": [{"id": str(p.id), "name": p.name, "enabled": p.enabled,
                          "template": p.template, "renew_before_days": p.renew_before_days}
                         for p in target.profiles]}


def _mode(raw: str, name: str, as_json: bool) -> int:
    try:
        return int(raw, 8)
    except ValueError:
        fail(f"{name} must be an octal mode like 0640, not '{raw}'.", "target.mode", as_json)
    raise AssertionError("unreachable")


@group.command("create")
@click.option("--name", required=True)
@click.option("--bridge", "bridge_key", required=True, help="The bridge (id or name).")
@click.option("--kind", type=click.Choice(list(KIND_PATHS)), required=True)
@click.option("--path", "paths", multiple=True, metavar="NAME=PATH",
              help="nginx: fullchain, key; haproxy: pem; files: certificate, chain, key.")
@click.option("--reload-command", required=True)
@click.option("--reload-timeout", default=30, show_default=True, type=int)
@click.option("--probe", required=True, metavar="HOST:PORT", help="The TLS endpoint.")
@click.option("--sni", default=None, help="The SNI name to send when probing.")
@click.option("--owner", default=None)
@click.option("--group", "file_group", default=None)
@click.option("--file-mode", default="0644", show_default=True)
@click.option("--key-mode", default="0600", show_default=True)
@json_option
@with_appcontext
@service_errors
def create(name: str, bridge_key: str, kind: str, paths: tuple[str, ...],
           reload_command: str, reload_timeout: int, probe: str, sni: str | None,
           owner: str | None, file_group: str | None, file_mode: str, key_mode: str,
           as_json: bool) -> None:
    """Create a target system reached by a bridge."""
    bridge = bridges.find_bridge(bridge_key)
    if bridge is None:
        fail(f"No bridge with id or name '{bridge_key}'.", "bridge.unknown", as_json)
    parsed = dict(p.partition("=")[::2] for p in paths)
    host, _, port = probe.rpartition(":")
    if not port.isdigit():
        fail("--probe must be HOST:PORT.", "target.probe_port", as_json)
    spec = TargetSpec(kind=kind, paths=parsed, reload_command=reload_command,
                      probe_host=host.strip("[]"), probe_port=int(port), probe_sni=sni,
                      file_owner=owner, file_group=file_group,
                      file_mode=_mode(file_mode, "--file-mode", as_json),
                      key_mode=_mode(key_mode, "--key-mode", as_json),
                      reload_timeout_seconds=reload_timeout)
    target = target_systems.create_target(name, bridge, spec)
    emit(as_json, target_json(target), f"Created target system {target.name} ({target.id})")


@group.command("add-profile")
@click.argument("target")
@click.option("--name", required=True)
@click.option("--common-name", required=True)
@click.option("--san", "sans", multiple=True)
@click.option("--algorithm", default=None)
@click.option("--validity-days", type=int, default=None)
@click.option("--provider", "provider_id", default=None, help="Provider id (default: "
              "the Local PKI).")
@click.option("--renew-before-days", type=int, default=None,
              help="Default: when a third of the lifetime is left.")
@json_option
@with_appcontext
@service_errors
def add_profile(target: str, name: str, common_name: str, sans: tuple[str, ...],
                algorithm: str | None, validity_days: int | None, provider_id: str | None,
                renew_before_days: int | None, as_json: bool) -> None:
    """Add a certificate profile to TARGET (id or name); its first order is made now."""
    record = target_systems.find_target(target)
    if record is None:
        fail(f"No target system with id or name '{target}'.", "target.unknown", as_json)
    profile, order = provisioning.create_profile(
        record, name, {"common_name": common_name, "sans": list(sans),
                       "algorithm": algorithm, "validity_days": validity_days,
                       "provider_id": provider_id}, renew_before_days=renew_before_days)
    emit(as_json, {"id": str(profile.id), "order_id": str(order.id) if order else None},
         f"Created profile {profile.name} ({profile.id}); first order "
         f"{order.id if order else '(none: the target is disabled)'}")


@group.command("list")
@json_option
@with_appcontext
def list_targets(as_json: bool) -> None:
    rows = target_systems.list_targets()
    emit(as_json, [target_json(t) for t in rows],
         "\n".join(f"{t.id}\t{t.name}\t{t.kind}\tbridge {t.bridge.name}\t"
                   f"{len(t.profiles)} profile(s)" for t in rows) or "No target systems.")

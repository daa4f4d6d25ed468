from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.output import emit, fail, json_option, service_errors
from app.models import Domain
from app.services import domains

group = click.Group("domains", help="Manage registered domains and IP networks.")


def domain_json(domain: Domain) -> dict[str, object]:
    return {"id": domain.id, "name": domain.name, "display_name": domain.display_name,
            "kind": domain.kind, "enabled": domain.enabled}


@group.command("add")
@click.argument("name")
@click.option("--disabled", is_flag=True, help="Register without enabling.")
@json_option
@with_appcontext
@service_errors
def add(name: str, disabled: bool, as_json: bool) -> None:
    """Register a domain (example.com) or an IP network (10.0.0.0/24)."""
    domain = domains.add_domain(name, enabled=not disabled)
    emit(as_json, domain_json(domain), f"Registered {domain.name} ({domain.kind})")


def _toggle(key: str, enabled: bool, as_json: bool) -> None:
    domain = domains.find_domain(key)
    if domain is None:
        fail(f"Domain '{key}' is not registered.", "domain.unknown", as_json)
    domains.set_enabled(domain, enabled)
    emit(as_json, domain_json(domain),
         f"{'Enabled' if enabled else 'Disabled'} {domain.name}")


@group.command("enable")
@click.argument("name")
@json_option
@with_appcontext
@service_errors
def enable(name: str, as_json: bool) -> None:
    _toggle(name, True, as_json)


@group.command("disable")
@click.argument("name")
@json_option
@with_appcontext
@service_errors
def disable(name: str, as_json: bool) -> None:
    _toggle(name, False, as_json)


@group.command("list")
@json_option
@with_appcontext
def list_domains(as_json: bool) -> None:
    rows = domains.list_domains()
    emit(as_json, [domain_json(d) for d in rows],
         "\n".join(f"{d.name}\t{d.kind}\t{'active' if d.enabled else 'disabled'}"
                   for d in rows) or "No domains registered.")

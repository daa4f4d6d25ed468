"""``flask acme …``: ACME server configurations and their pre-created accounts (SPEC 9)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.output import emit, fail, json_option, service_errors
from app.models import AcmeServer
from app.services import acme_admin

group = click.Group("acme", help="Manage the ACME server (configurations and accounts).")
servers = click.Group("servers", help="ACME server configurations.")
accounts = click.Group("accounts", help="Pre-created ACME accounts (EAB).")
group.add_command(servers)
group.add_command(accounts)


def server_json(server: AcmeServer) -> dict[str, object]:
    return {"id": str(server.id), "name": server.name,
            "directory_url": acme_admin.directory_url(server),
            "issuer": server.issuer.common_name, "default_days": server.default_days,
            "max_days": server.max_days, "allowed_algorithms": server.allowed_algorithms,
            "terms_of_service_url": server.terms_of_service_url,
            "orders_per_hour": server.orders_per_hour, "enabled": server.enabled}


def _server(key: str, as_json: bool) -> AcmeServer:
    server = acme_admin.find_server(key)
    if server is None:
        fail(f"No ACME server with id or name '{key}'.", "acme_server.unknown", as_json)
    return server


@servers.command("create")
@click.option("--name", required=True)
@click.option("--intermediate", required=True, help="The issuing intermediate (id or CN).")
@click.option("--default-days", type=int, default=90, show_default=True)
@click.option("--max-days", type=int, default=397, show_default=True)
@click.option("--algorithm", "algorithms", multiple=True,
              help="An allowed key algorithm (repeat; default: ec-256, ec-384, rsa-2048/"
                   "3072/4096).")
@click.option("--terms-of-service", "tos", default=None, help="Terms-of-service URL.")
@click.option("--orders-per-hour", type=int, default=300, show_default=True)
@json_option
@with_appcontext
@service_errors
def create_server(name: str, intermediate: str, default_days: int, max_days: int,
                  algorithms: tuple[str, ...], tos: str | None, orders_per_hour: int,
                  as_json: bool) -> None:
    """Create an ACME server; prints its id and absolute directory URL."""
    settings = acme_admin.ServerSettings(
        name=name, issuer=intermediate, default_days=default_days, max_days=max_days,
        terms_of_service_url=tos, orders_per_hour=orders_per_hour,
        **({"allowed_algorithms": algorithms} if algorithms else {}))
    server = acme_admin.create_server(settings)
    emit(as_json, server_json(server),
         f"Created ACME server {server.name}\n  id:        {server.id}\n"
         f"  directory: {acme_admin.directory_url(server)}")


@servers.command("list")
@json_option
@with_appcontext
def list_servers(as_json: bool) -> None:
    """List the ACME servers."""
    rows = acme_admin.list_servers()
    emit(as_json, [server_json(s) for s in rows],
         "\n".join(f"{s.name}\t{'enabled' if s.enabled else 'disabled'}\t"
                   f"{acme_admin.directory_url(s)}" for s in rows) or "No ACME servers.")


def _toggle(key: str, enabled: bool, as_json: bool) -> None:
    server = _server(key, as_json)
    acme_admin.set_server_enabled(server, enabled)
    emit(as_json, server_json(server),
         f"{'Enabled' if enabled else 'Disabled'} ACME server {server.name} ({server.id})")


@servers.command("disable")
@click.argument("server")
@json_option
@with_appcontext
@service_errors
def disable_server(server: str, as_json: bool) -> None:
    """Stop SERVER (id or name): its directory and every request answer 404."""
    _toggle(server, False, as_json)


@servers.command("enable")
@click.argument("server")
@json_option
@with_appcontext
@service_errors
def enable_server(server: str, as_json: bool) -> None:
    """Serve SERVER (id or name) again."""
    _toggle(server, True, as_json)


@accounts.command("create")
@click.option("--server", "server_key", required=True, help="The ACME server (id or name).")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--bind", "bindings", multiple=True, required=True,
              help="DOMAIN[:exact|subdomains|wildcard] (repeat; default mode exact).")
@json_option
@with_appcontext
@service_errors
def create_account(server_key: str, name: str, email: str, bindings: tuple[str, ...],
                   as_json: bool) -> None:
    """Pre-create an account; prints its EAB key id and HMAC key (shown once)."""
    server = _server(server_key, as_json)
    made = acme_admin.create_account(server, name, email, list(bindings))
    emit(as_json, {"id": str(made.account.id), "eab_kid": made.eab_kid,
                   "eab_hmac_key": made.eab_hmac_key},
         f"Created ACME account {made.account.name} ({made.account.id})\n"
         f"  EAB key id:   {made.eab_kid}\n  EAB HMAC key: {made.eab_hmac_key}\n"
         "Store the HMAC key now: it is not shown again.")

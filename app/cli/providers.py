"""``flask providers …``: certificate providers (SPEC 4).

Secrets (EAB HMAC key, TSIG secret, API keys and secrets, the client key) are read only
from files (``-`` for stdin), never from
arguments, which would land in shell history and process listings."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask.cli import with_appcontext

from app.cli.output import emit, fail, json_option, service_errors
from app.domain.providers import CHALLENGES, TSIG_ALGORITHMS
from app.extensions import db
from app.models import Provider
from app.services import providers

group = click.Group("providers", help="Manage certificate providers (CAs to order from).")
MAX_FILE_BYTES = 64 * 1024
STDIN = "-"


def provider_json(provider: Provider, orders: int | None = None,
                  full: bool = False) -> dict[str, object]:
    payload: dict[str, object] = {"id": str(provider.id), "name": provider.name,
                                  "type": provider.type, "active": provider.active}
    if full:
        payload |= {"config": {k: v for k, v in (provider.config or {}).items()
                               if k != "ca_bundle"} | (
                        {"ca_bundle": "set"} if (provider.config or {}).get("ca_bundle")
                        else {}),
                    "secrets": {name: "set" for name in provider.secret_names},
                    "account_registered": bool(provider.account_url),
                    "last_test": provider.test_status}
    if orders is not None:
        payload["orders"] = orders
    return payload


def _read(path: str | None, what: str, as_json: bool) -> str | None:
    if path is None:
        return None
    try:
        if path == STDIN:
            text = sys.stdin.read(MAX_FILE_BYTES + 1)
        else:
            file = Path(path)
            if file.stat().st_size > MAX_FILE_BYTES:
                fail(f"{path} is too large for {what}.", "file.too_large", as_json)
            text = file.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"Cannot read {path}: {exc.strerror}.", "file.unreadable", as_json)
    except UnicodeDecodeError:
        fail(f"{path} is not a text file ({what}).", "file.unreadable", as_json)
    if len(text) > MAX_FILE_BYTES:
        fail(f"The input is too large for {what}.", "file.too_large", as_json)
    if not text.strip():
        fail(f"{'stdin' if path == '-' else path} is empty; expected {what}.",
             "file.empty", as_json)
    return text.strip()


def _find(key: str, as_json: bool) -> Provider:
    provider = providers.find_provider(key)
    if provider is None:
        fail(f"No provider with id or name '{key}'.", "provider.unknown", as_json)
    return provider


ACME_ONLY = ("directory_url", "account_email", "eab_kid", "eab_hmac_key_file",
             "dns_server", "dns_zone", "tsig_name", "tsig_secret_file")
OPTIONS_OF = {
    "acme": (*ACME_ONLY, "challenge", "tsig_algorithm"),
    "digicert": ("base_url", "organization_id", "product", "api_key_file", "poll_seconds"),
    "globalsign": ("base_url", "api_key_file", "api_secret_file", "client_cert",
                   "client_key", "poll_seconds"),
}
REQUIRED_OF = {
    "acme": ("directory_url", "account_email"),
    "digicert": ("organization_id", "api_key_file"),
    "globalsign": ("api_key_file", "api_secret_file", "client_cert", "client_key"),
}
SECRET_FILES = ("eab_hmac_key_file", "tsig_secret_file", "api_key_file", "api_secret_file",
                "client_key")


def _option(name: str) -> str:
    return {"account_email": "--email"}.get(name, "--" + name.replace("_", "-"))


def _check_options(provider_type: str, given: dict[str, object], as_json: bool) -> None:
    """Options of another provider type are refused (not silently ignored), and the ones
    this type needs must be there."""
    foreign = [n for n, v in given.items() if v is not None
               and n not in OPTIONS_OF[provider_type]
               and not (n in ("challenge", "tsig_algorithm") and provider_type != "acme"
                        and v in ("http-01", "hmac-sha256"))]
    if foreign:
        fail(f"{', '.join(_option(n) for n in foreign)} "
             f"{'does' if len(foreign) == 1 else 'do'} not apply to --type {provider_type}.",
             "cli.option_not_applicable", as_json)
    missing = [n for n in REQUIRED_OF[provider_type] if given.get(n) in (None, "")]
    if missing:
        fail(f"--type {provider_type} needs {', '.join(_option(n) for n in missing)}.",
             "cli.option_missing", as_json)
    if sum(1 for n in SECRET_FILES if given.get(n) == STDIN) > 1:
        fail("Only one secret can come from stdin.", "file.stdin_twice", as_json)


@group.command("create")
@click.option("--type", "provider_type", required=True,
              type=click.Choice(["acme", "digicert", "globalsign"]),
              help="Provider type (fixed after creation).")
@click.option("--name", required=True)
@click.option("--directory-url", help="acme: the CA's ACME directory (https).")
@click.option("--email", "account_email", help="acme: ACME account contact.")
@click.option("--eab-kid", help="acme: external account binding key id.")
@click.option("--eab-hmac-key-file", help="acme: file holding the EAB HMAC key ('-': stdin).")
@click.option("--challenge", type=click.Choice(CHALLENGES), default="http-01",
              show_default=True, help="acme: challenge type.")
@click.option("--dns-server", help="dns-01: the server taking RFC 2136 updates, HOST:PORT.")
@click.option("--dns-zone", help="dns-01: the zone the TSIG key may update.")
@click.option("--tsig-name", help="dns-01: TSIG key name.")
@click.option("--tsig-algorithm", type=click.Choice(TSIG_ALGORITHMS), default="hmac-sha256",
              show_default=True)
@click.option("--tsig-secret-file", help="dns-01: file holding the TSIG secret ('-': stdin).")
@click.option("--base-url", help="digicert/globalsign: API base URL (default: the vendor's "
              "production URL; GlobalSign: the region's).")
@click.option("--organization-id", help="digicert: the validated organization's id.")
@click.option("--product", help="digicert: product name id (default ssl_basic).")
@click.option("--api-key-file", help="digicert/globalsign: file holding the API key "
              "('-': stdin).")
@click.option("--api-secret-file", help="globalsign: file holding the API secret ('-': stdin).")
@click.option("--client-cert", help="globalsign: PEM file of the account's mutual-TLS "
              "client certificate.")
@click.option("--client-key", help="globalsign: PEM file of its private key ('-': stdin).")
@click.option("--poll-seconds", help="digicert/globalsign: seconds between checks of a "
              "pending order (default 60 / 5).")
@click.option("--ca-bundle", "ca_bundle_file", help="PEM file of roots to trust for the CA's "
              "HTTPS (its content is stored).")
@click.option("--inactive", is_flag=True, help="Create it inactive (not offered yet).")
@json_option
@with_appcontext
@service_errors
def create(provider_type: str, name: str, ca_bundle_file: str | None, inactive: bool,
           as_json: bool, **options: str | None) -> None:
    """Create a provider; prints its id, name, type and active flag. Secrets (API keys,
    EAB and TSIG secrets, the client key) are read only from files or stdin."""
    _check_options(provider_type, options, as_json)
    read = {name: _read(options.get(name), what, as_json) or "" for name, what in (
        ("eab_hmac_key_file", "the EAB HMAC key"), ("tsig_secret_file", "the TSIG secret"),
        ("api_key_file", "the API key"), ("api_secret_file", "the API secret"),
        ("client_key", "a PEM private key"))}
    bundle = _read(ca_bundle_file, "PEM certificates", as_json)
    if provider_type == "acme":
        secrets = {"eab_hmac_key": read["eab_hmac_key_file"],
                   "tsig_secret": read["tsig_secret_file"]}
        config = {k: options.get(k) for k in ("directory_url", "account_email", "eab_kid",
                                               "challenge", "dns_server", "dns_zone",
                                               "tsig_name", "tsig_algorithm")}
    elif provider_type == "digicert":
        secrets = {"api_key": read["api_key_file"]}
        config = {k: options.get(k) for k in ("base_url", "organization_id", "product",
                                               "poll_seconds")}
    else:
        secrets = {"api_key": read["api_key_file"], "api_secret": read["api_secret_file"],
                   "mtls_key": read["client_key"]}
        config = {"base_url": options.get("base_url"),
                  "poll_seconds": options.get("poll_seconds"),
                  "client_cert": _read(options.get("client_cert"), "a PEM certificate",
                                       as_json)}
    provider = providers.create_provider(provider_type, name, config | {"ca_bundle": bundle},
                                         secrets, active=not inactive)
    emit(as_json, provider_json(provider),
         f"Created provider {provider.name} ({provider.id}), type {provider.type}, "
         f"{'active' if provider.active else 'inactive'}. Test it: flask providers test "
         f"{provider.id}")


@group.command("list")
@json_option
@with_appcontext
def list_providers(as_json: bool) -> None:
    counts = providers.order_counts()
    rows = providers.list_providers()
    emit(as_json, [provider_json(p, counts.get(p.id, 0), full=True) for p in rows],
         "\n".join(f"{p.id}\t{p.name}\t{p.type}\t{'active' if p.active else 'inactive'}\t"
                   f"{counts.get(p.id, 0)} orders" for p in rows))


@group.command("test")
@click.argument("provider")
@click.option("--timeout", default=120.0, show_default=True,
              help="Seconds to wait for the worker's result.")
@json_option
@with_appcontext
@service_errors
def test(provider: str, timeout: float, as_json: bool) -> None:
    """Test PROVIDER (id or name) in the worker and print each step. Exits 1 when the
    test fails, 3 when no worker answered in time."""
    record = _find(provider, as_json)
    providers.request_connection_test(record)
    deadline = time.monotonic() + timeout
    while True:
        db.session.expire_all()
        record = db.session.get(Provider, record.id)
        if record.test_status in ("ok", "failed"):
            break
        if time.monotonic() > deadline:
            fail(f"No worker finished the test within {timeout:.0f} s (is the worker "
                 "running?).", "provider.test_timeout", as_json)
        time.sleep(0.2)
    steps = list(record.test_steps or [])
    emit(as_json, provider_json(record) | {"ok": record.test_status == "ok", "steps": steps},
         "\n".join(f"{'ok  ' if s['ok'] else 'FAIL'} {s['message']}" for s in steps)
         + f"\n{record.name}: {'connection OK' if record.test_status == 'ok' else 'FAILED'}")
    if record.test_status != "ok":
        raise SystemExit(1)


def _toggle(key: str, active: bool, as_json: bool) -> None:
    record = _find(key, as_json)
    providers.set_active(record, active)
    emit(as_json, provider_json(record),
         f"{'Enabled' if active else 'Disabled'} provider {record.name} ({record.id})")


@group.command("enable")
@click.argument("provider")
@json_option
@with_appcontext
@service_errors
def enable(provider: str, as_json: bool) -> None:
    """Offer PROVIDER (id or name) again."""
    _toggle(provider, True, as_json)


@group.command("disable")
@click.argument("provider")
@json_option
@with_appcontext
@service_errors
def disable(provider: str, as_json: bool) -> None:
    """Stop offering PROVIDER (id or name); its orders stay."""
    _toggle(provider, False, as_json)


@group.command("delete")
@click.argument("provider")
@json_option
@with_appcontext
@service_errors
def delete(provider: str, as_json: bool) -> None:
    """Delete PROVIDER (id or name); refused while orders reference it."""
    record = _find(provider, as_json)
    payload = provider_json(record)
    providers.delete_provider(record)
    emit(as_json, payload | {"deleted": True}, f"Deleted provider {record.name} ({record.id})")

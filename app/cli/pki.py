from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import click
from flask.cli import with_appcontext

from app.cli.output import emit, fail, json_option, service_errors
from app.extensions import db
from app.models import CertificateAuthority
from app.models.pki import CA_KIND_INTERMEDIATE, CA_KIND_ROOT
from app.services import pki, revocation
from app.services.pki import ALGORITHMS, DEFAULT_CA_ALGORITHM, DIGESTS

group = click.Group("pki", help="Manage the Local PKI (roots and intermediates).")


def ca_json(ca: CertificateAuthority) -> dict[str, object]:
    return {"id": str(ca.id), "kind": ca.kind, "common_name": ca.common_name,
            "status": ca.display_status, "error": ca.error, "algorithm": ca.algorithm,
            "digest": ca.digest, "parent_id": str(ca.parent_id) if ca.parent_id else None,
            "not_before": ca.not_before, "not_after": ca.not_after,
            "serial": ca.serial_hex, "fingerprint_sha256": ca.fingerprint_sha256}


def ca_options(default_validity: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    options = [
        click.option("--cn", "common_name", required=True, help="Common name (3-64 chars)."),
        click.option("--org", "organization", help="Organisation (O), required."),
        click.option("--country", help="Country (C, two letters), required."),
        click.option("--state"), click.option("--locality"),
        click.option("--algorithm", type=click.Choice(ALGORITHMS), default=DEFAULT_CA_ALGORITHM,
                     show_default=True),
        click.option("--digest", type=click.Choice(DIGESTS), default=None,
                     help="Default: an ECDSA key's curve hash (the only one it may use), "
                          "SHA-384 for RSA."),
        click.option("--validity-days", type=int, default=default_validity, show_default=True),
        click.option("--wait/--no-wait", default=True, show_default=True,
                     help="Wait for the worker to finish generating."),
        click.option("--timeout", type=float, default=120.0, show_default=True),
        json_option,
    ]

    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


def _params(values: dict[str, Any]) -> pki.CAParameters:
    return pki.CAParameters(**{k: values[k] for k in (
        "common_name", "organization", "country", "state", "locality",
        "algorithm", "digest", "validity_days")})


def _finish(ca: CertificateAuthority, wait: bool, timeout: float, as_json: bool) -> None:
    if wait:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            db.session.refresh(ca)
            if ca.is_settled:
                break
            time.sleep(0.2)
        else:
            fail(f"Timed out after {timeout:.0f}s waiting for a worker to generate "
                 f"'{ca.common_name}'; it stays pending and will be generated when a "
                 "worker runs.", "ca.timeout", as_json)
        if ca.status == "failed":
            fail(f"Generation of '{ca.common_name}' failed: {ca.error}", "ca.failed", as_json)
    emit(as_json, ca_json(ca), f"{ca.kind} '{ca.common_name}' {ca.display_status} ({ca.id})")


@group.command("create-root")
@ca_options(pki.DEFAULT_ROOT_VALIDITY_DAYS)
@with_appcontext
@service_errors
def create_root(wait: bool, timeout: float, as_json: bool, **values: Any) -> None:
    """Generate a root CA (the worker makes the key)."""
    _finish(pki.request_root(_params(values)), wait, timeout, as_json)


@group.command("create-intermediate")
@click.option("--root", "root_key", required=True, help="Root id or common name.")
@click.option("--eku", "extended_key_usage", multiple=True,
              default=pki.DEFAULT_INTERMEDIATE_EKU, show_default=True,
              help="An extended key usage the intermediate may certify (repeat).")
@click.option("--permit-dns", "permitted_dns", multiple=True,
              help="A registered domain the intermediate is name-constrained to (repeat; "
                   "none: unconstrained).")
@ca_options(pki.DEFAULT_INTERMEDIATE_VALIDITY_DAYS)
@with_appcontext
@service_errors
def create_intermediate(root_key: str, wait: bool, timeout: float, as_json: bool,
                        **values: Any) -> None:
    """Generate an intermediate CA signed by an active root."""
    root = pki.find_ca(root_key)
    if root is None or not root.is_root:
        fail(f"No root CA '{root_key}'.", "ca.parent_unknown", as_json)
    params = replace(_params(values), extended_key_usage=tuple(values["extended_key_usage"]),
                     permitted_dns=tuple(values["permitted_dns"]))
    _finish(pki.request_intermediate(params, root.id), wait, timeout, as_json)


@group.command("list")
@json_option
@with_appcontext
def list_cas(as_json: bool) -> None:
    rows = pki.list_cas(CA_KIND_ROOT) + pki.list_cas(CA_KIND_INTERMEDIATE)
    emit(as_json, [ca_json(c) for c in rows],
         "\n".join(f"{c.kind}\t{c.common_name}\t{c.display_status}\t{c.id}" for c in rows)
         or "No CAs.")


@group.command("requeue")
@json_option
@with_appcontext
def requeue(as_json: bool) -> None:
    """Re-enqueue CAs left pending (e.g. Redis was down when they were requested)."""
    count = pki.requeue_pending()
    emit(as_json, {"requeued": count}, f"Re-enqueued {count} pending CA(s).")


@group.command("revoke")
@click.argument("ca")
@click.option("--reason", required=True,
              help="RFC 5280 reason: " + ", ".join(revocation.CA_REASONS) + ".")
@json_option
@with_appcontext
@service_errors
def revoke(ca: str, reason: str, as_json: bool) -> None:
    """Revoke an intermediate CA by id or name (final; its root's CRL lists it)."""
    found = pki.find_ca(ca)
    if found is None:
        fail(f"No CA '{ca}'.", "ca.not_found", as_json)
        return
    revocation.revoke_ca(found, reason)
    emit(as_json, ca_json(found), f"{found.kind} '{found.common_name}' revoked ({reason})")

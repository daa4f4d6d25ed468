"""Operator command line: ``flask users …``, ``flask domains …``, ``flask pki …``,
``flask couriers …``, ``flask providers …``, ``flask lifecycle …``.

Every command prints a human line by default or JSON with ``--json``, and exits non-zero
with a clear message on bad input (``CliFailure`` → exit 2)."""
from __future__ import annotations

from flask import Flask

from app.cli import (
    certificates,
    couriers,
    domains,
    lifecycle,
    orders,
    pki,
    policies,
    providers,
    users,
)


def register_cli(app: Flask) -> None:
    for group in (users.group, domains.group, pki.group, policies.group, orders.group,
                  couriers.group, providers.group, lifecycle.group, certificates.group):
        app.cli.add_command(group)

"""Operator command line: ``flask users …``, ``flask domains …``, ``flask pki …``,
``flask couriers …``, ``flask providers …``, ``flask certificates …``, ``flask discovery …``,
``flask bridges …``, ``flask targets …``, ``flask lifecycle …``.

Every command prints a human line by default or JSON with ``--json``, and exits non-zero
with a clear message on bad input (``CliFailure`` → exit 2)."""
from __future__ import annotations

from flask import Flask

from app.cli import (
    acme,
    bridges,
    certificates,
    couriers,
    discovery,
    domains,
    lifecycle,
    orders,
    pki,
    policies,
    providers,
    targets,
    users,
)


def register_cli(app: Flask) -> None:
    for group in (users.group, domains.group, pki.group, policies.group, orders.group,
                  couriers.group, providers.group, certificates.group, discovery.group,
                  bridges.group, targets.group, acme.group,
                  lifecycle.group):
        app.cli.add_command(group)

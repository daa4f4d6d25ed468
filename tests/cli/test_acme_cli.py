"""``flask acme …`` in process: servers create (absolute directory URL from
PUBLIC_BASE_URL) / list / disable, accounts create (EAB credentials that register);
refusals exit 2 with a message and write nothing."""
from __future__ import annotations

import json

import pytest

from app.models import AcmeAccount, AcmeServer
from tests.acme.helpers import Client
from tests.builders import add_domain, count, issuing_ca

CLI_FAILURE = 2


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["acme", *args])


def test_servers_and_accounts(app, cli, jobs, monkeypatch) -> None:
    add_domain(app, "example.com")
    issuing_ca(app, jobs)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://pki.example.net")
    refused = cli("servers", "create", "--name", "Fleet", "--intermediate", "Test Root",
                  "--json")
    assert refused.exit_code == CLI_FAILURE and "intermediate" in refused.output
    refused = cli("servers", "create", "--name", "Fleet", "--intermediate", "Test Issuing",
                  "--max-days", "826", "--json")
    assert refused.exit_code == CLI_FAILURE and count(app, AcmeServer) == 0

    made = cli("servers", "create", "--name", "Fleet", "--intermediate", "Test Issuing",
               "--default-days", "30", "--max-days", "90", "--json")
    assert made.exit_code == 0, made.output
    server = json.loads(made.output)
    assert server["directory_url"] == \
        f"https://pki.example.net/acme/{server['id']}/directory"
    assert {s["id"] for s in json.loads(cli("servers", "list", "--json").output)} == \
        {server["id"]}

    refused = cli("accounts", "create", "--server", "Fleet", "--name", "web", "--email",
                  "ops@example.com", "--bind", "nowhere.test", "--json")
    assert refused.exit_code == CLI_FAILURE and count(app, AcmeAccount) == 0
    account = cli("accounts", "create", "--server", server["id"], "--name", "web",
                  "--email", "ops@example.com", "--bind", "example.com:subdomains",
                  "--bind", "example.com", "--json")
    assert account.exit_code == CLI_FAILURE and "bound twice" in account.output
    account = cli("accounts", "create", "--server", server["id"], "--name", "web",
                  "--email", "ops@example.com", "--bind", "example.com:subdomains", "--json")
    assert account.exit_code == 0, account.output
    creds = json.loads(account.output)
    assert set(creds) == {"id", "eab_kid", "eab_hmac_key"}

    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "")
    client = Client(app.test_client(), server["id"])
    assert client.register(creds["eab_kid"], creds["eab_hmac_key"]).status_code == 201

    disabled = cli("servers", "disable", "Fleet", "--json")
    assert disabled.exit_code == 0 and json.loads(disabled.output)["enabled"] is False
    assert app.test_client().get(f"/acme/{server['id']}/directory").status_code == 404

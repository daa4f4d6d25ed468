from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask

from tests.acme.helpers import Client, make_account, make_acme_server
from tests.builders import add_domain, issuing_ca


@dataclass
class World:
    issuer_id: str
    server_id: str
    account_id: str
    eab_kid: str
    eab_hmac: str


@pytest.fixture
def world(app: Flask, jobs) -> World:
    add_domain(app, "example.com")
    add_domain(app, "example.org")
    add_domain(app, "other.net")
    issuer = issuing_ca(app, jobs)
    server = make_acme_server(app, issuer)
    account = make_account(app, server, "web-fleet",
                           ["example.com:subdomains", "example.org:exact"])
    return World(issuer, server, *account)


@pytest.fixture
def acme_client(app: Flask, world: World) -> Client:
    client = Client(app.test_client(), world.server_id)
    response = client.register(world.eab_kid, world.eab_hmac)
    assert response.status_code == 201, response.get_json()
    return client

"""A GlobalSign Atlas (HVCA v2) stand-in: mutual TLS required (a client certificate from
its test client CA, else the handshake fails), ``/login`` for a bearer token, the
certificate, trust chain, revoke and validation-policy endpoints (see
app/providers/globalsign.py), errors as ``{"description": …}``. Scenarios:
``tests/standins/scenarios.py``."""
from __future__ import annotations

import ipaddress
import itertools
import re
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.standins.ca import ClientCA, ClientIdentity, StandInCA, pem
from tests.standins.scenarios import EXTRA_NAME, RETRY_AFTER, StoredOrder, scenario_of
from tests.standins.server import Answer, JsonStandIn, Recorded

PREFIX = "/v2"


def _error(status: int, description: str, **headers: str) -> Answer:
    return Answer(status, {"description": description}, headers)


class GlobalSignStandIn(JsonStandIn):
    def __init__(self, directory: Path, *, api_key: str = "gs-key",
                 api_secret: str = "gs-secret", pending_polls: int = 2) -> None:
        self.client_ca = ClientCA()
        super().__init__(directory, client_ca_pem=pem(self.client_ca.certificate))
        self.api_key, self.api_secret = api_key, api_secret
        self.pending_polls = pending_polls
        self.ca = StandInCA("GlobalSign Stand-in")
        self.orders: dict[str, StoredOrder] = {}
        self.tokens: dict[str, int] = {}     # token → calls it may still make
        self.token_uses = 1000
        self.logins = 0
        self.outage: Answer | None = None
        self._ids = itertools.count(1)
        self.route("POST", PREFIX + r"/login", self.login)
        self.route("POST", PREFIX + r"/certificates", self.request_certificate)
        self.route("GET", PREFIX + r"/certificates/(?P<serial>[0-9A-F]+)", self.retrieve)
        self.route("PATCH", PREFIX + r"/certificates/(?P<serial>[0-9A-F]+)", self.revoke)
        self.route("GET", PREFIX + r"/trustchain",
                   lambda r, m: Answer(200, [pem(self.ca.issuing), pem(self.ca.root)]))
        self.route("GET", PREFIX + r"/validationpolicy", lambda r, m: Answer(200, {
            "validity": {"secondsmin": 3600, "secondsmax": 34214400},
            "subject_dn": {"common_name": {"presence": "REQUIRED"}},
            "san": {"dns_names": {"static": False, "list": [".*"], "mincount": 0,
                                  "maxcount": 100}},
            "public_key": {"key_type": "ANY"}}))

    @property
    def base_url(self) -> str:
        return self.url(PREFIX)

    def identity(self) -> ClientIdentity:
        return self.client_ca.client()

    def dispatch(self, recorded: Recorded) -> Answer:
        if self.outage is not None:
            return self.outage
        if recorded.path.rstrip("/") != PREFIX + "/login":
            token = recorded.headers.get("Authorization", "").removeprefix("Bearer ")
            left = self.tokens.get(token, 0)
            if left <= 0:
                return _error(401, "Invalid or expired access token.")
            self.tokens[token] = left - 1
        return super().dispatch(recorded)

    def login(self, recorded: Recorded, match: re.Match[str]) -> Answer:
        body = recorded.body if isinstance(recorded.body, dict) else {}
        if body.get("api_key") != self.api_key or body.get("api_secret") != self.api_secret:
            return _error(401, "Invalid API key or secret.")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = self.token_uses
        self.logins += 1
        return Answer(200, {"access_token": token})

    def request_certificate(self, recorded: Recorded, match: re.Match[str]) -> Answer:
        body = recorded.body if isinstance(recorded.body, dict) else {}
        subject = body.get("subject_dn") or {}
        san = body.get("san") or {}
        common_name = str(subject.get("common_name") or "")
        scenario = scenario_of(common_name)
        if scenario == "ratelimited":
            return _error(429, "Rate limit exceeded.", **{"Retry-After": RETRY_AFTER})
        if scenario == "unavailable":
            return _error(503, "Atlas is down for maintenance.")
        if scenario == "rejected":
            return _error(422, f"subject_dn.common_name '{common_name}' is not allowed by "
                               "the validation policy.")
        try:
            public_key = serialization.load_pem_public_key(
                str(body.get("public_key") or "").encode())
        except ValueError:
            return _error(400, "public_key is not a PEM public key.")
        validity = body.get("validity") or {}
        not_before, not_after = int(validity.get("not_before") or 0), \
            int(validity.get("not_after") or 0)
        days = max(1, (not_after - not_before) // 86400) if not_after else 397
        order = StoredOrder(next(self._ids), scenario, common_name,
                            [str(n) for n in san.get("dns_names") or []],
                            [str(ipaddress.ip_address(a)) for a in san.get("ip_addresses") or []],
                            public_key, days,
                            polls_left=self.pending_polls if scenario == "pending" else 0)
        order.extra["hash"] = (body.get("signature") or {}).get("hash_algorithm")
        order.extra["subject_dn"] = subject
        leaf = self._issue(order)
        serial = format(leaf.serial_number, "X")
        serial = serial if len(serial) % 2 == 0 else "0" + serial
        self.orders[serial] = order
        if scenario == "malformed":
            return Answer(201, b"{not json", {"Location": f"{PREFIX}/certificates/{serial}"})
        return Answer(201, None, {"Location": self.url(f"{PREFIX}/certificates/{serial}")})

    def _issue(self, order: StoredOrder) -> x509.Certificate:
        key = order.public_key
        if order.scenario == "wrongkey":
            key = ec.generate_private_key(ec.SECP256R1()).public_key()
        names = order.dns_names + ([EXTRA_NAME] if order.scenario == "wrongnames" else [])
        order.certificate = self.ca.issue(key, order.common_name, names, order.ip_addresses,
                                          days=order.days)
        return order.certificate

    def retrieve(self, recorded: Recorded, match: re.Match[str]) -> Answer:
        order = self.orders.get(match["serial"])
        if order is None:
            return _error(404, "Certificate not found.")
        if order.scenario == "malformed":
            return Answer(200, b"<<garbage>>")
        if order.polls_left > 0:
            order.polls_left -= 1
            return Answer(202, {"status": "PENDING"})
        assert order.certificate is not None
        return Answer(200, {"status": "REVOKED" if order.revoked else "ISSUED",
                            "certificate": pem(order.certificate), "updated_at": 0})

    def revoke(self, recorded: Recorded, match: re.Match[str]) -> Answer:
        order = self.orders.get(match["serial"])
        if order is None:
            return _error(404, "Certificate not found.")
        if order.revoked:
            return _error(409, "Certificate is already revoked.")
        order.revoked = True
        order.revoke_reason = str((recorded.body or {}).get("revocation_reason") or "")
        return Answer(204)

    def revoked_serials(self) -> list[int]:
        return [o.certificate.serial_number for o in self.orders.values()
                if o.revoked and o.certificate is not None]

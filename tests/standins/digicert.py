"""A DigiCert CertCentral stand-in: the documented subset of Services API v2 over HTTPS
(see app/providers/digicert.py for the endpoints), with DigiCert's error shape
``{"errors": [{"code", "message"}]}``. Scenarios: ``tests/standins/scenarios.py``."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

from cryptography import x509

from tests.standins.ca import StandInCA, pem
from tests.standins.scenarios import EXTRA_NAME, RETRY_AFTER, StoredOrder, scenario_of
from tests.standins.server import Answer, JsonStandIn, Recorded

PREFIX = "/services/v2"
PRODUCTS = ("ssl_basic", "ssl_securesite_flex", "ssl_ev_basic")


def _errors(status: int, code: str, message: str, **headers: str) -> Answer:
    return Answer(status, {"errors": [{"code": code, "message": message}]}, headers)


class DigiCertStandIn(JsonStandIn):
    def __init__(self, directory: Path, *, api_key: str = "dc-test-key",
                 organization_id: int = 112233, pending_polls: int = 2) -> None:
        super().__init__(directory)
        self.api_key = api_key
        self.organization_id = organization_id
        self.pending_polls = pending_polls
        self.ca = StandInCA("DigiCert Stand-in")
        self.orders: dict[int, StoredOrder] = {}
        self.outage: Answer | None = None
        self._ids = itertools.count(4001)
        self.route("POST", PREFIX + r"/order/certificate/(?P<product>[a-z0-9_]+)", self.order)
        self.route("GET", PREFIX + r"/order/certificate/(?P<id>\d+)", self.order_info)
        self.route("GET", PREFIX + r"/certificate/download/order/(?P<id>\d+)/format/pem_noroot",
                   self.download)
        self.route("PUT", PREFIX + r"/certificate/(?P<ident>[0-9A-Fa-f]+)/revoke", self.revoke)
        self.route("GET", PREFIX + r"/user/me", lambda r, m: Answer(200, {
            "id": 7, "first_name": "Stand", "last_name": "In", "status": "active"}))
        self.route("GET", PREFIX + r"/organization/(?P<id>\d+)", self.organization)

    @property
    def base_url(self) -> str:
        return self.url(PREFIX)

    def dispatch(self, recorded: Recorded) -> Answer:
        if self.outage is not None:
            return self.outage
        if recorded.headers.get("X-DC-DEVKEY") != self.api_key:
            return _errors(401, "access_denied", "You are not authorized to perform this "
                                                 "action (invalid API key).")
        return super().dispatch(recorded)

    # ---- endpoints --------------------------------------------------------------------------

    def order(self, recorded: Recorded, match: re.Match[str]) -> Answer:
        body = recorded.body if isinstance(recorded.body, dict) else {}
        if match["product"] not in PRODUCTS:
            return _errors(400, "invalid_product", f"Product '{match['product']}' is not "
                                                   "available on this account.")
        if (body.get("organization") or {}).get("id") != self.organization_id:
            return _errors(400, "invalid_organization", "Organization is not valid for "
                                                        "this account.")
        cert = body.get("certificate") or {}
        try:
            csr = x509.load_pem_x509_csr(str(cert.get("csr") or "").encode())
        except ValueError:
            return _errors(400, "invalid_csr", "The CSR is not valid.")
        common_name = str(cert.get("common_name") or "")
        if not common_name:
            return _errors(400, "missing_common_name", "Common name is required.")
        scenario = scenario_of(common_name)
        if scenario == "ratelimited":
            return _errors(429, "rate_limited", "Too many requests; slow down.",
                           **{"Retry-After": RETRY_AFTER})
        if scenario == "unavailable":
            return _errors(503, "service_unavailable", "CertCentral is down for maintenance.")
        if scenario == "malformed":
            return Answer(201, b"<html><body>Gateway says hello</body></html>",
                          {"Content-Type": "text/html"})
        days = int((body.get("order_validity") or {}).get("days") or 365)
        order = StoredOrder(next(self._ids), scenario, common_name,
                            [common_name, *[str(n) for n in cert.get("dns_names") or []]], [],
                            csr.public_key(), days,
                            polls_left=self.pending_polls if scenario == "pending" else 1)
        order.extra["signature_hash"] = cert.get("signature_hash")
        self.orders[order.id] = order
        if scenario in ("issued", "wrongkey", "wrongnames"):
            leaf = self._issue(order)
            return Answer(201, {"id": order.id, "certificate_id": order.id, "certificate_chain": [
                {"subject_common_name": common_name, "pem": pem(leaf)},
                {"subject_common_name": "issuing", "pem": pem(self.ca.issuing)},
                {"subject_common_name": "root", "pem": pem(self.ca.root)}]})
        return Answer(201, {"id": order.id, "requests": [{"id": order.id + 90000,
                                                          "status": "pending"}]})

    def _issue(self, order: StoredOrder) -> x509.Certificate:
        if order.certificate is None:
            key = order.public_key
            if order.scenario == "wrongkey":
                from cryptography.hazmat.primitives.asymmetric import ec
                key = ec.generate_private_key(ec.SECP256R1()).public_key()
            names = order.dns_names + ([EXTRA_NAME] if order.scenario == "wrongnames" else [])
            order.certificate = self.ca.issue(key, order.common_name, names, days=order.days)
        return order.certificate

    def order_info(self, recorded: Recorded, match: re.Match[str]) -> Answer:
        order = self.orders.get(int(match["id"]))
        if order is None:
            return _errors(404, "not_found", "Order not found.")
        info = {"id": order.id, "certificate": {"common_name": order.common_name,
                                                "dns_names": order.dns_names}}
        if order.scenario == "rejected":
            return Answer(200, info | {"status": "rejected", "rejection_reason":
                                       "Domain control validation failed for "
                                       f"{order.common_name}."})
        if order.polls_left > 0 and order.scenario == "pending":
            order.polls_left -= 1
            return Answer(200, info | {"status": "pending"})
        leaf = self._issue(order)
        info["certificate"] |= {"id": order.id, "serial_number": format(leaf.serial_number, "X")}
        return Answer(200, info | {"status": "revoked" if order.revoked else "issued"})

    def download(self, recorded: Recorded, match: re.Match[str]) -> Answer:
        order = self.orders.get(int(match["id"]))
        if order is None or order.certificate is None:
            return _errors(404, "not_found", "Certificate not found.")
        return Answer(200, (pem(order.certificate) + pem(self.ca.issuing)).encode(),
                      {"Content-Type": "application/x-pem-file"})

    def revoke(self, recorded: Recorded, match: re.Match[str]) -> Answer:
        ident = match["ident"]
        order = next((o for o in self.orders.values() if o.certificate is not None and (
            str(o.id) == ident or o.certificate.serial_number == int(ident, 16))), None)
        if order is None:
            return _errors(404, "not_found", "Certificate not found.")
        if order.revoked:
            return _errors(400, "already_revoked", "This certificate is already revoked.")
        order.revoked = True
        order.revoke_reason = str((recorded.body or {}).get("comments") or "")
        return Answer(201, {"id": 1, "type": "revoke", "status": "approved"})

    def organization(self, recorded: Recorded, match: re.Match[str]) -> Answer:
        if int(match["id"]) != self.organization_id:
            return _errors(404, "not_found", "Organization not found.")
        return Answer(200, {"id": self.organization_id, "name": "Example Test Ltd",
                            "status": "active"})

    def revoked_serials(self) -> list[int]:
        return [o.certificate.serial_number for o in self.orders.values()
                if o.revoked and o.certificate is not None]

"""RFC 8555 resource objects for the ACME server's answers."""
from __future__ import annotations

from typing import Any

from app.models import AcmeAccount, AcmeAuthorization, AcmeOrder


def rfc3339(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class Urls:
    """Absolute URLs of one server's resources (the JWS ``url`` every client signs)."""

    def __init__(self, base: str, server_id: object) -> None:
        self.root = f"{base}/acme/{server_id}"

    def __call__(self, *parts: object) -> str:
        return "/".join([self.root, *(str(p) for p in parts)])


def account_json(account: AcmeAccount, urls: Urls) -> dict[str, Any]:
    return {"status": account.status if account.enabled else "deactivated",
            "contact": account.contact or [], "orders": urls("acct", account.id, "orders"),
            "termsOfServiceAgreed": True}


def authorization_json(authz: AcmeAuthorization, urls: Urls) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": authz.status, "expires": rfc3339(authz.expires_at),
        "identifier": {"type": authz.identifier_type, "value": authz.identifier_value},
        "challenges": [challenge_json(authz, urls)]}
    if authz.wildcard:
        body["wildcard"] = True
    return body


def challenge_json(authz: AcmeAuthorization, urls: Urls) -> dict[str, Any]:
    # Satisfied by the account's domain binding: shown as a validated challenge so that
    # clients see nothing left to do (no outbound validation ever happens).
    kind = "dns-01" if authz.wildcard else "http-01"
    return {"type": kind, "url": urls("chall", authz.id), "status": "valid",
            "token": authz.id.hex, "validated": rfc3339(authz.order.created_at)}


def order_json(order: AcmeOrder, status: str, urls: Urls, certificate_id: object = None
               ) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": status, "expires": rfc3339(order.expires_at),
        "identifiers": order.identifiers,
        "authorizations": [urls("authz", a.id) for a in order.authorizations],
        "finalize": urls("order", order.id, "finalize")}
    if certificate_id is not None and status == "valid":
        body["certificate"] = urls("cert", certificate_id)
    if status == "invalid" and order.order_id is not None:
        body["error"] = {"type": "urn:ietf:params:acme:error:serverInternal",
                         "detail": "The certificate could not be issued."}
    return body

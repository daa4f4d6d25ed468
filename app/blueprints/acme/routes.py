"""ACME endpoints. Each POST is verified (``services.acme_jws.verify``) before anything
else happens; refusals are problem documents; every answer carries a fresh nonce."""
from __future__ import annotations

from contextlib import suppress
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from app.blueprints.acme.presenters import (
    Urls,
    account_json,
    authorization_json,
    challenge_json,
    order_json,
)
from app.domain.acme import Problem
from app.services import acme_protocol as protocol
from app.services.acme_admin import public_base_url
from app.services.acme_jws import Verified, new_nonce, verify
from app.services.acme_polling import retry_after_seconds

bp = Blueprint("acme", __name__, url_prefix="/acme/<server_id>")
JOSE = "application/jose+json"


def _urls(server_id: object) -> Urls:
    return Urls(public_base_url(), server_id)


@bp.after_request
def _nonce_and_index(response: Response) -> Response:
    server_id = (request.view_args or {}).get("server_id")
    # If the nonce store is down the answer goes without one (the error says so).
    with suppress(Problem):
        response.headers["Replay-Nonce"] = new_nonce()
    response.headers["Cache-Control"] = "no-store"
    if server_id:
        response.headers.add("Link", f'<{_urls(server_id)("directory")}>;rel="index"')
    return response


@bp.errorhandler(Problem)
def _problem(problem: Problem) -> Response:
    protocol.discard()
    response = jsonify(problem.document())
    response.status_code = problem.http_status
    response.mimetype = "application/problem+json"
    if problem.retry_after is not None:
        response.headers["Retry-After"] = str(problem.retry_after)
    return response


@bp.errorhandler(HTTPException)
def _http_problem(error: HTTPException) -> Response:
    status = error.code or 400
    response = _problem(Problem("malformed", {
        404: "There is no such ACME resource.", 405: "This method is not allowed here.",
        413: "The request body is too large."}.get(status, "The request is not valid."),
        status=status))
    for name, value in error.get_headers():
        if name.lower() == "allow":
            response.headers[name] = value
    return response


def _json(body: dict[str, Any], status: int = 200, location: str | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    if location:
        response.headers["Location"] = location
    return response


def _signed(server_id: str, *, allow_jwk: bool = False, require_jwk: bool = False
            ) -> tuple[Any, Verified, Any]:
    """(server, verified request, account or None) for a POST to this server."""
    if request.mimetype != JOSE:
        raise Problem("malformed", f"Content-Type must be {JOSE}.", status=415)
    if (request.content_length or 0) > 64 * 1024:
        raise Problem("malformed", "The request body is too large.", status=413)
    server = protocol.usable_server(server_id)
    base = public_base_url()
    found: dict[str, Any] = {}

    def key_for_kid(kid: str) -> Any:
        found["account"] = protocol.account_by_kid(server, kid, base)
        return protocol.account_key(found["account"])

    verified = verify(request.get_data(cache=False), expected_url=base + request.path,
                      allow_jwk=allow_jwk, require_jwk=require_jwk, key_for_kid=key_for_kid)
    return server, verified, found.get("account")


def _post_as_get(verified: Verified) -> None:
    if verified.payload is not None:
        raise Problem("malformed", "This resource is read with POST-as-GET (an empty "
                                   "payload).")


# ---- directory and nonces -----------------------------------------------------------------

@bp.get("/directory")
def directory(server_id: str) -> Response:
    server = protocol.usable_server(server_id)
    urls = _urls(server.id)
    meta: dict[str, Any] = {"externalAccountRequired": True}
    if server.terms_of_service_url:
        meta["termsOfService"] = server.terms_of_service_url
    return _json({"newNonce": urls("new-nonce"), "newAccount": urls("new-account"),
                  "newOrder": urls("new-order"), "revokeCert": urls("revoke-cert"),
                  "keyChange": urls("key-change"), "renewalInfo": urls("renewal-info"),
                  "meta": meta})


@bp.route("/new-nonce", methods=["HEAD", "GET"])
def new_nonce_view(server_id: str) -> Response:
    protocol.usable_server(server_id)
    return Response(status=200 if request.method == "HEAD" else 204)


# ---- accounts -----------------------------------------------------------------------------

@bp.post("/new-account")
def new_account(server_id: str) -> Response:
    server, verified, _ = _signed(server_id, allow_jwk=True, require_jwk=True)
    account, created = protocol.new_account(server, verified.payload, verified.jwk,
                                            verified.protected["url"])
    urls = _urls(server.id)
    return _json(account_json(account, urls), 201 if created else 200,
                 location=urls("acct", account.id))


@bp.post("/acct/<account_id>")
def account(server_id: str, account_id: str) -> Response:
    server, verified, acct = _signed(server_id)
    urls = _urls(server.id)
    if str(acct.id) != account_id:
        raise Problem("unauthorized", "The kid does not match this account URL.")
    protocol.update_account(acct, verified.payload)
    return _json(account_json(acct, urls), location=urls("acct", acct.id))


@bp.post("/acct/<account_id>/orders")
def account_orders(server_id: str, account_id: str) -> Response:
    server, verified, acct = _signed(server_id)
    _post_as_get(verified)
    if str(acct.id) != account_id:
        raise Problem("unauthorized", "The kid does not match this account URL.")
    urls = _urls(server.id)
    return _json({"orders": [urls("order", i) for i in protocol.account_orders(acct)]})


@bp.post("/key-change")
def key_change(server_id: str) -> Response:
    server, verified, acct = _signed(server_id)
    urls = _urls(server.id)
    protocol.change_key(acct, verified.payload, account_url=verified.kid or "",
                        url=verified.protected["url"])
    return _json(account_json(acct, urls), location=urls("acct", acct.id))


# ---- orders -------------------------------------------------------------------------------

def _order_response(order: Any, urls: Urls, status: int = 200) -> Response:
    state, certificate = protocol.order_state(order)
    response = _json(order_json(order, state, urls, certificate), status,
                     location=urls("order", order.id))
    if state == "processing":
        response.headers["Retry-After"] = str(retry_after_seconds())
    return response


@bp.post("/new-order")
def new_order(server_id: str) -> Response:
    server, verified, acct = _signed(server_id)
    urls = _urls(server.id)  # before the commit expires the server row
    order = protocol.new_order(acct, verified.payload)
    return _order_response(order, urls, 201)


@bp.post("/order/<order_id>")
def order(server_id: str, order_id: str) -> Response:
    server, verified, acct = _signed(server_id)
    _post_as_get(verified)
    return _order_response(protocol.order_of(acct, order_id), _urls(server.id))


@bp.post("/order/<order_id>/finalize")
def finalize(server_id: str, order_id: str) -> Response:
    server, verified, acct = _signed(server_id)
    urls = _urls(server.id)  # before the commit expires the server row
    found = protocol.order_of(acct, order_id)
    protocol.finalize(acct, found, verified.payload)
    return _order_response(found, urls)


@bp.post("/authz/<authz_id>")
def authorization(server_id: str, authz_id: str) -> Response:
    server, verified, acct = _signed(server_id)
    authz = protocol.authorization_of(acct, authz_id)
    if verified.payload and verified.payload.get("status") == "deactivated":
        protocol.deactivate_authorization(authz)
    return _json(authorization_json(authz, _urls(server.id)))


@bp.post("/chall/<authz_id>")
def challenge(server_id: str, authz_id: str) -> Response:
    server, _verified, acct = _signed(server_id)
    authz = protocol.authorization_of(acct, authz_id)
    urls = _urls(server.id)
    response = _json(challenge_json(authz, urls))
    response.headers.add("Link", f'<{urls("authz", authz.id)}>;rel="up"')
    return response


@bp.post("/cert/<certificate_id>")
def certificate(server_id: str, certificate_id: str) -> Response:
    _server, verified, acct = _signed(server_id)
    _post_as_get(verified)
    pem = protocol.certificate_chain(acct, certificate_id)
    return Response(pem, mimetype="application/pem-certificate-chain")


@bp.post("/revoke-cert")
def revoke_cert(server_id: str) -> Response:
    server, verified, acct = _signed(server_id, allow_jwk=True)
    protocol.revoke_certificate(server, verified.payload, account=acct, jwk=verified.jwk)
    return Response(status=200)


# ---- renewal information (RFC 9773) -------------------------------------------------------

@bp.get("/renewal-info/<cert_id>")
def renewal_info(server_id: str, cert_id: str) -> Response:
    server = protocol.usable_server(server_id)
    response = _json(protocol.renewal_info(server, cert_id))
    response.headers["Retry-After"] = str(protocol.ARI_RETRY_AFTER_SECONDS)
    return response

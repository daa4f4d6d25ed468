"""The bridges' JSON API under ``/api/v1/bridge/``: authenticate, take deployments,
report their steps. Bearer tokens, no sessions or CSRF; another bridge's deployment is
404, a report for a finished one 409."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, g, jsonify, request

from app.blueprints.api.presenters import timestamp
from app.blueprints.api.routes import bp, json_body
from app.blueprints.api.schemas import BRIDGE_AUTH, DEPLOYMENT_REPORT, check_body
from app.models import Bridge, Deployment
from app.services import bridges, deployments
from app.services.bridges import BridgeAuthFailed
from app.web.rate_limits import courier_auth_limit


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BridgeAuthFailed("Send 'Authorization: Bearer <token>'; get a token from "
                               "POST /api/v1/bridge/auth.", code="auth.missing_token")
    return token.strip()


def bridge_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.bridge = bridges.bridge_for_token(_bearer_token())
        return view(*args, **kwargs)

    return wrapped


def _current() -> Bridge:
    return g.bridge


def deployment_json(deployment: Deployment) -> dict[str, Any]:
    target, certificate = deployment.target, deployment.certificate
    return {
        "id": str(deployment.id), "status": deployment.status,
        "created_at": timestamp(deployment.created_at),
        "target": {
            "id": str(target.id), "name": target.name, "kind": target.kind,
            "paths": dict(target.paths), "owner": target.file_owner,
            "group": target.file_group, "file_mode": format(target.file_mode, "04o"),
            "key_mode": format(target.key_mode, "04o"),
            "reload_command": target.reload_command,
            "reload_timeout_seconds": target.reload_timeout_seconds,
            "probe": {"host": target.probe_host, "port": target.probe_port,
                      "sni": target.probe_sni}},
        "certificate": {"id": str(certificate.id), "serial": certificate.serial_hex,
                        "fingerprint_sha256": certificate.fingerprint_sha256,
                        "certificate_pem": certificate.certificate_pem,
                        "chain_pem": certificate.chain_pem},
        "private_key_jwe": deployment.key_jwe,
    }


@bp.post("/bridge/auth")
@courier_auth_limit  # per client address, before a secret is hashed
def bridge_auth() -> Response:
    body = check_body(json_body(), BRIDGE_AUTH)
    token, expires_in = bridges.authenticate(body["client_id"], body["client_secret"],
                                             body.get("version"))
    return jsonify({"token": token, "token_type": "Bearer", "expires_in": expires_in})


@bp.get("/bridge/deployments")
@bridge_required
def bridge_deployments() -> Response:
    bridge = _current()
    rows = deployments.take(bridge)
    return jsonify({"poll_interval": bridge.poll_interval_seconds,
                    "deployments": [deployment_json(d) for d in rows]})


@bp.post("/bridge/deployments/<deployment_id>/report")
@bridge_required
def bridge_report(deployment_id: str) -> Response:
    deployment = deployments.deployment_for(_current(), deployment_id)
    body = check_body(json_body(), DEPLOYMENT_REPORT)
    done = deployments.report(_current(), str(deployment.id), body)
    return jsonify({"id": str(done.id), "status": done.status,
                    "finished_at": timestamp(done.finished_at)})

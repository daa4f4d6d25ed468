"""The OpenAPI 3.1 document of the couriers' API, served at ``/api/v1/openapi.json``.

Request schemas come from ``schemas.py`` (the same tables that check bodies); response
schemas describe ``presenters.py`` and ``errors.py``. ``tests/api/test_openapi.py``
validates the document and checks real responses of every status against it."""
from __future__ import annotations

import copy
from functools import cache
from typing import Any

from app.blueprints.api.schemas import (
    AUTH,
    BATCH,
    BRIDGE_AUTH,
    CERTIFICATE,
    DEPLOYMENT_REPORT,
    DISCOVERY_IMPORT,
    MAX_BATCH,
    RENEWAL,
    REVOKE,
    batch_item_schema,
)
from app.domain.orders import OrderStatus

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

_REF = "#/components/schemas/"
_RESPONSES = "#/components/responses/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _nullable(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": ["string", "null"], "description": description, **extra}


_DETAIL = {
    "type": "object",
    "description": "One problem (error details) or one soft policy violation (warnings).",
    "properties": {
        "field": _nullable("The request field at fault, when there is one."),
        "code": _string("Stable code, e.g. name.outside_scope, policy.enforce_digest, "
                        "csr.weak_key, request.unknown_field."),
        "message": _string("A sentence naming the values at fault."),
        "policy": _nullable("The policy that demands it, for policy violations."),
    },
    "required": ["field", "code", "message", "policy"],
    "additionalProperties": False,
}

_ERROR = {
    "type": "object",
    "properties": {"error": {
        "type": "object",
        "properties": {
            "code": _string("Stable code, e.g. auth.invalid_credentials, request.rejected, "
                            "idempotency.key_reused, order.not_found, rate_limited."),
            "message": _string("What went wrong, safe to show."),
            "details": {"type": "array", "items": _ref("Detail"),
                        "description": "Every violation (422), else empty."},
        },
        "required": ["code", "message", "details"],
        "additionalProperties": False,
    }},
    "required": ["error"],
    "additionalProperties": False,
}

_STATUS = {"type": "string", "enum": [s.value for s in OrderStatus],
           "description": "pending → processing → complete | failed"}
_UUID = {"type": "string", "format": "uuid"}
_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}

_IMPORT_STATUSES = ["added", "known", "chain", "refused"]
_SCHEMAS: dict[str, Any] = {
    "Detail": _DETAIL,
    "DiscoveryImportRequest": DISCOVERY_IMPORT.json_schema(),
    "DiscoveryImportResult": {
        "type": "object",
        "properties": {
            "results": {"type": "array", "description": "One per certificate of the body, "
                        "in order.", "items": {
                "type": "object",
                "properties": {
                    "position": {"type": "integer", "minimum": 1},
                    "status": {"type": "string", "enum": _IMPORT_STATUSES,
                               "description": "added; known (already in the inventory, or "
                                              "earlier in this body); chain (kept as the "
                                              "issuing chain of another certificate of the "
                                              "body); refused (reason says why)."},
                    "reason": _string("A sentence saying what happened."),
                    "common_name": {"type": "string"},
                    "fingerprint_sha256": {"type": "string"},
                    "certificate_id": {"type": ["string", "null"], "format": "uuid"},
                    "not_after": _TIME_OR_NULL,
                },
                "required": ["position", "status", "reason", "common_name",
                             "fingerprint_sha256", "certificate_id", "not_after"],
                "additionalProperties": False}},
            "counts": {"type": "object", "properties": {
                s: {"type": "integer", "minimum": 0} for s in _IMPORT_STATUSES},
                "required": _IMPORT_STATUSES, "additionalProperties": False},
        },
        "required": ["results", "counts"],
        "additionalProperties": False,
    },
    "Error": _ERROR,
    "AuthRequest": AUTH.json_schema(),
    "AuthResponse": {
        "type": "object",
        "properties": {
            "token": _string("Bearer token; revoked when the courier is disabled or its "
                             "secret rotated."),
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": {"type": "integer", "minimum": 1, "description": "Seconds."},
        },
        "required": ["token", "token_type", "expires_in"],
        "additionalProperties": False,
    },
    "CertificateRequest": CERTIFICATE.json_schema(),
    "RenewalRequest": RENEWAL.json_schema(),
    "CertificateBatchRequest": BATCH.json_schema(),
    "CertificateBatchItem": batch_item_schema(),
    "CertificateBatchResult": {
        "type": "object",
        "description": "One result per request of the batch, in the same order.",
        "properties": {
            "results": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": {
                "type": "object",
                "description": "What `POST /api/v1/courier/certificates` would have "
                               "answered this request: its HTTP status and its body.",
                "properties": {
                    "status": {"type": "integer", "description": "202 accepted; else the "
                               "single endpoint's error status (400, 422, …)."},
                    "replayed": {"type": "boolean", "description": "The answer is an "
                                 "idempotent replay (the header Idempotent-Replayed of a "
                                 "single request)."},
                    "body": {"oneOf": [_ref("Accepted"), _ref("Error")]},
                },
                "required": ["status", "replayed", "body"],
                "additionalProperties": False}},
            "accepted": {"type": "integer", "minimum": 0,
                         "description": "How many results are 202."},
            "refused": {"type": "integer", "minimum": 0,
                        "description": "How many results are errors."},
        },
        "required": ["results", "accepted", "refused"],
        "additionalProperties": False,
    },
    "Accepted": {
        "type": "object",
        "properties": {
            "order_id": _UUID,
            "status": _STATUS,
            "status_url": _string("Where to poll the order (GET, same bearer token)."),
            "warnings": {"type": "array", "items": _ref("Detail"),
                         "description": "Soft violations: the order goes on. Soft policy "
                                        "rules, and validity.clamped_to_issuer when the "
                                        "certificate will end at the issuing CA's notAfter "
                                        "(the message gives the date)."},
        },
        "required": ["order_id", "status", "status_url"],
        "additionalProperties": False,
    },
    "Order": {
        "type": "object",
        "properties": {
            "order_id": _UUID,
            "status": _STATUS,
            "common_name": {"type": "string"},
            "error": _nullable("Why the order failed."),
            "submitted_at": _TIME,
            "started_at": _TIME_OR_NULL,
            "finished_at": _TIME_OR_NULL,
            "key_source": {"type": "string", "enum": ["csr", "platform"],
                           "description": "Who made the key."},
            "provider_id": _UUID,
            "next_check_at": {**_TIME_OR_NULL, "description": "While the order waits on an "
                              "external CA: when the platform asks the CA again."},
            "certificate_id": _UUID,
            "certificate_pem": _string("The certificate (when complete)."),
            "chain_pem": _string("Intermediates, without the root (when complete)."),
            "key_status": {
                "type": "string", "enum": ["included", "delivered", "expired"],
                "description": "Only for a platform-made key, once issued: `included` — this "
                               "response carries the key, the only time it is sent (the "
                               "platform keeps no copy; store it before anything else); "
                               "`delivered` — an earlier response carried it; `expired` — "
                               "nobody fetched it within 24 hours of issuance and it was "
                               "deleted (request a new certificate)."},
            "private_key_jwe": _nullable(
                "Only for a platform-made key, once issued: the PKCS#8 PEM private key as a "
                "compact JWE (alg ECDH-ES+A256KW, enc A256GCM, kid = RFC 7638 thumbprint) "
                "encrypted to the courier's public key, in the first response after "
                "issuance (key_status `included`); null afterwards."),
        },
        "required": ["order_id", "status", "common_name", "error", "submitted_at",
                     "started_at", "finished_at", "key_source", "provider_id",
                     "next_check_at"],
        "dependentRequired": {"certificate_id": ["certificate_pem", "chain_pem"],
                              "key_status": ["private_key_jwe", "certificate_id"],
                              "private_key_jwe": ["key_status"]},
        "additionalProperties": False,
    },
    "RevokeRequest": REVOKE.json_schema(),
    "Revoked": {
        "type": "object",
        "properties": {
            "certificate_id": _UUID,
            "status": {"type": "string", "enum": ["revoked"]},
            "revoked_at": _TIME,
            "reason": _string("The RFC 5280 reason name."),
        },
        "required": ["certificate_id", "status", "revoked_at", "reason"],
        "additionalProperties": False,
    },
    "RevocationPending": {
        "type": "object",
        "properties": {
            "certificate_id": _UUID,
            "status": {"type": "string", "enum": ["revocation_pending"]},
        },
        "required": ["certificate_id", "status"],
        "additionalProperties": False,
    },
    "Certificate": {
        "type": "object",
        "properties": {
            "certificate_id": _UUID,
            "order_id": {"type": ["string", "null"], "format": "uuid"},
            "common_name": {"type": "string"},
            "sans": {"type": "array", "items": {"type": "string"}},
            "serial": _string("Serial number, hexadecimal."),
            "fingerprint_sha256": _string("SHA-256 fingerprint, colon-separated hex."),
            "not_before": _TIME,
            "not_after": _TIME,
            "status": {"type": "string", "enum": ["active", "expired", "revoked"]},
            "certificate_pem": {"type": "string"},
            "chain_pem": {"type": "string"},
        },
        "required": ["certificate_id", "order_id", "common_name", "sans", "serial",
                     "fingerprint_sha256", "not_before", "not_after", "status",
                     "certificate_pem", "chain_pem"],
        "additionalProperties": False,
    },
}

_SCHEMAS.update({
    "BridgeAuthRequest": BRIDGE_AUTH.json_schema(),
    "DeploymentReport": DEPLOYMENT_REPORT.json_schema(),
    "Deployment": {
        "type": "object",
        "properties": {
            "id": _UUID,
            "status": {"type": "string", "enum": ["pending", "in_progress"],
                       "description": "in_progress once handed out; handed out again "
                                      "until reported (a bridge that crashed retries)."},
            "created_at": _TIME,
            "target": {"type": "object", "description": "Where and how to deploy: kind "
                       "nginx (paths fullchain, key), haproxy (pem: certificate, chain "
                       "and key in one file) or files (certificate, chain, key); owner, "
                       "group and octal modes; the reload command and its timeout; the "
                       "TLS endpoint to probe."},
            "certificate": {"type": "object", "description": "id, serial (hex), "
                            "fingerprint_sha256, certificate_pem, chain_pem."},
            "private_key_jwe": _nullable(
                "The PKCS#8 PEM private key as a compact JWE (ECDH-ES+A256KW, A256GCM, "
                "kid = RFC 7638 thumbprint) to the bridge's public key, made by the "
                "worker; deleted when the deployment is reported."),
        },
        "required": ["id", "status", "created_at", "target", "certificate",
                     "private_key_jwe"],
    },
    "DeploymentList": {
        "type": "object",
        "properties": {
            "poll_interval": {"type": "integer", "minimum": 1,
                              "description": "Seconds the platform wants between polls."},
            "deployments": {"type": "array", "items": _ref("Deployment")},
        },
        "required": ["poll_interval", "deployments"],
        "additionalProperties": False,
    },
    "ReportAccepted": {
        "type": "object",
        "properties": {"id": _UUID,
                       "status": {"type": "string", "enum": ["succeeded", "failed"]},
                       "finished_at": _TIME},
        "required": ["id", "status", "finished_at"],
        "additionalProperties": False,
    },
})


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description,
                                "content": {"application/json": {"schema": _ref("Error")}}}
    if headers:
        response["headers"] = headers
    return response


_RESPONSE_COMPONENTS = {
    "BadRequest": _error("The body is not valid JSON, or a header is malformed "
                         "(request.bad_request, idempotency.invalid_key, "
                         "idempotency.batch_header)."),
    "Unauthorized": _error(
        "No, an invalid, expired or revoked bearer token (auth.missing_token, "
        "auth.invalid_token, auth.token_expired, auth.revoked), or bad credentials "
        "(auth.invalid_credentials).",
        {"WWW-Authenticate": {"schema": {"type": "string"},
                              "description": 'Bearer realm="courier-api"'}}),
    "NotFound": _error("No such resource, or not one of this courier's (order.not_found, "
                       "certificate.not_found, not_found)."),
    "PayloadTooLarge": _error("The body is over the limit (1 MiB by default)."),
    "UnsupportedMediaType": _error("The body is not application/json."),
    "Unprocessable": _error(
        "The body has the wrong shape (request.invalid: request.unknown_field, "
        "request.invalid_type, request.missing_field, request.not_with_csr), or the "
        "request breaks rules (request.rejected: every hard violation in details — names "
        "outside the courier's scope or not registered, CSR problems, policy). Nothing "
        "is created. Also idempotency.key_reused; for a batch batch.empty, "
        "batch.too_large and batch.duplicate_idempotency_key."),
    "Conflict": _error("The request conflicts with the object's state: the certificate is "
                       "already revoked, its revocation is already being sent to its CA, "
                       "or it has no CA to revoke it at (certificate.already_revoked, "
                       "certificate.revocation_pending, certificate.not_revocable); the "
                       "deployment is already finished (deployment.finished)."),
    "TooManyRequests": _error(
        "The courier's per-minute limit is used up, or (for auth) the client address's "
        "limit of authentication attempts (rate_limited).",
        {"Retry-After": {"schema": {"type": "integer", "minimum": 1},
                         "description": "Seconds until the window resets."}}),
    "InternalError": _error("An internal error; it is logged, no details are returned."),
    "Other": _error("Any other error, e.g. 405 for a method the path does not allow."),
}


def _use(*names: str) -> dict[str, Any]:
    codes = {"BadRequest": "400", "Unauthorized": "401", "NotFound": "404", "Conflict": "409",
             "PayloadTooLarge": "413", "UnsupportedMediaType": "415",
             "Unprocessable": "422", "TooManyRequests": "429",
             "InternalError": "500",
             "Other": "default"}
    return {codes[n]: {"$ref": _RESPONSES + n} for n in names}


def _json_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


def _ok(description: str, schema: str, headers: dict[str, Any] | None = None
        ) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema)}}}
    if headers:
        response["headers"] = headers
    return response


_BEARER = [{"bearerAuth": []}]
_ID_PARAM = {"in": "path", "required": True, "schema": {"type": "string"}}

_PATHS: dict[str, Any] = {
    "/api/v1/courier/auth": {"post": {
        "operationId": "authenticate",
        "summary": "Exchange the courier's credentials for a short-lived bearer token",
        "security": [],
        "requestBody": _json_body("AuthRequest"),
        "responses": {"200": _ok("A bearer token.", "AuthResponse"),
                      **_use("BadRequest", "Unauthorized", "PayloadTooLarge",
                             "UnsupportedMediaType", "Unprocessable", "TooManyRequests",
                             "InternalError", "Other")},
    }},
    "/api/v1/courier/certificates": {"post": {
        "operationId": "requestCertificate",
        "summary": "Request a certificate (with a CSR, or with a platform-made key)",
        "description": "Checked like the wizard: the courier's allowed domains, active "
                       "domains, values and policies. Soft violations come back as "
                       "warnings.",
        "security": _BEARER,
        "parameters": [{
            "name": "Idempotency-Key", "in": "header", "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                       "pattern": "^[\\x21-\\x7e]+$"},
            "description": "A retry with the same key and body returns the same order "
                           "(with Idempotent-Replayed: true); the same key with another "
                           "body is refused (422 idempotency.key_reused)."}],
        "requestBody": _json_body("CertificateRequest"),
        "responses": {"202": _ok(
            "The order was accepted and queued.", "Accepted",
            {"Location": {"schema": {"type": "string"}, "description": "The status URL."},
             "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]},
                                     "description": "Present on a replayed answer."}}),
            **_use("BadRequest", "Unauthorized", "PayloadTooLarge", "UnsupportedMediaType",
                   "Unprocessable", "TooManyRequests", "InternalError", "Other")},
    }},
    "/api/v1/courier/certificates:batch": {"post": {
        "operationId": "requestCertificates",
        "summary": f"Request 1 to {MAX_BATCH} certificates in one call",
        "description": "Each request is the body `POST /api/v1/courier/certificates` takes "
                       "and is judged as if sent alone — the same shape checks, intake, "
                       "policies and gate — with one result per request, in order: the "
                       "single endpoint's 202 body or its error (same status and code). "
                       "Accepted orders are written in one transaction and queued "
                       "together; a refused request writes no order (a hard policy "
                       "violation records its alert, as alone). Idempotency works per "
                       "request (`idempotency_key` in the item, not the header, which is "
                       "refused: 400 idempotency.batch_header). Each request counts "
                       "against the courier's per-minute limit: a batch of n costs n "
                       "(a batch larger than the remaining budget is 429 whole). The "
                       "batch itself is refused whole, nothing written, when it is not "
                       "an object with `requests` (422 request.invalid), holds no request "
                       f"(422 batch.empty) or more than {MAX_BATCH} (422 batch.too_large), "
                       "or uses one idempotency_key twice (422 "
                       "batch.duplicate_idempotency_key).",
        "security": _BEARER,
        "requestBody": _json_body("CertificateBatchRequest"),
        "responses": {"200": _ok("One result per request, in order.",
                                 "CertificateBatchResult"),
                      **_use("BadRequest", "Unauthorized", "PayloadTooLarge",
                             "UnsupportedMediaType", "Unprocessable", "TooManyRequests",
                             "InternalError", "Other")},
    }},
    "/api/v1/courier/orders/{order_id}": {"get": {
        "operationId": "getOrder",
        "summary": "An order of this courier: status, error, and when complete the "
                   "certificate, chain and (platform-made key) the key as a JWE",
        "security": _BEARER,
        "parameters": [{"name": "order_id", **_ID_PARAM}],
        "responses": {"200": _ok("The order.", "Order"),
                      **_use("Unauthorized", "NotFound", "TooManyRequests",
                             "InternalError", "Other")},
    }},
    "/api/v1/courier/certificates/{certificate_id}": {"get": {
        "operationId": "getCertificate",
        "summary": "A certificate issued for one of this courier's orders",
        "security": _BEARER,
        "parameters": [{"name": "certificate_id", **_ID_PARAM}],
        "responses": {"200": _ok("The certificate and its chain.", "Certificate"),
                      **_use("Unauthorized", "NotFound", "TooManyRequests",
                             "InternalError", "Other")},
    }},
    "/api/v1/courier/discovery/import": {"post": {
        "operationId": "importDiscoveredCertificates",
        "summary": "Add certificates found elsewhere to the inventory (source discovered)",
        "description": "De-duplicated by SHA-256 fingerprint: a certificate already in the "
                       "inventory (also one the platform issued) is reported `known` and "
                       "left unchanged. A body holding a private key is refused whole "
                       "(422 discovery.private_key, nothing stored); one with no readable "
                       "certificate is 422 discovery.not_certificates.",
        "security": _BEARER,
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": _ref("DiscoveryImportRequest")},
            "application/x-pem-file": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}}}},
        "responses": {"200": _ok("What happened to each certificate.",
                                 "DiscoveryImportResult"),
                      **_use("BadRequest", "Unauthorized", "PayloadTooLarge",
                             "UnsupportedMediaType", "Unprocessable", "TooManyRequests",
                             "InternalError", "Other")},
    }},
    "/api/v1/bridge/auth": {"post": {
        "operationId": "bridgeAuthenticate",
        "summary": "Exchange a bridge's credentials for a short-lived bearer token",
        "security": [],
        "requestBody": _json_body("BridgeAuthRequest"),
        "responses": {"200": _ok("A bearer token.", "AuthResponse"),
                      **_use("BadRequest", "Unauthorized", "PayloadTooLarge",
                             "UnsupportedMediaType", "Unprocessable", "TooManyRequests",
                             "InternalError", "Other")},
    }},
    "/api/v1/bridge/deployments": {"get": {
        "operationId": "bridgeDeployments",
        "summary": "This bridge's unfinished deployments and the poll interval wanted",
        "security": _BEARER,
        "responses": {"200": _ok("The deployments to run.", "DeploymentList"),
                      **_use("Unauthorized", "InternalError", "Other")},
    }},
    "/api/v1/bridge/deployments/{deployment_id}/report": {"post": {
        "operationId": "bridgeReport",
        "summary": "Report a deployment's result with each step's output",
        "security": _BEARER,
        "parameters": [{"name": "deployment_id", **_ID_PARAM}],
        "requestBody": _json_body("DeploymentReport"),
        "responses": {"200": _ok("The report was recorded.", "ReportAccepted"),
                      **_use("BadRequest", "Unauthorized", "NotFound", "Conflict",
                             "PayloadTooLarge", "UnsupportedMediaType", "Unprocessable",
                             "InternalError", "Other")},
    }},
    "/api/v1/courier/certificates/{certificate_id}/renew": {"post": {
        "operationId": "renewCertificate",
        "summary": "Renew a certificate of this courier (same answer as a new request)",
        "description": "A new order linked to the original (renews_order_id, "
                       "renews_certificate_id), checked like a new request under the "
                       "certificate.renew action: a name now outside the courier's domains "
                       "is refused (422 request.rejected, name.outside_scope). 409 "
                       "renewal.exists while a renewal is under way or done; 422 "
                       "renewal.csr_required for a CSR order renewed without a CSR. The "
                       "body may be empty.",
        "security": _BEARER,
        "parameters": [{"name": "certificate_id", **_ID_PARAM}],
        "requestBody": {"required": False, "content": {"application/json": {
            "schema": _ref("RenewalRequest")}}},
        "responses": {"202": _ok(
            "The renewal order was accepted and queued.", "Accepted",
            {"Location": {"schema": {"type": "string"}, "description": "The status URL."}}),
            "409": _error("The certificate is already being renewed (renewal.exists)."),
            **_use("BadRequest", "Unauthorized", "NotFound", "PayloadTooLarge",
                   "UnsupportedMediaType", "Unprocessable", "TooManyRequests",
                   "InternalError", "Other")},
    }},
    "/api/v1/courier/certificates/{certificate_id}/revoke": {"post": {
        "operationId": "revokeCertificate",
        "summary": "Revoke a certificate issued for one of this courier's orders",
        "description": "Final. A Local PKI certificate is revoked at once (200; its CRL and "
                       "OCSP answer are re-signed within seconds); a certificate from an "
                       "external CA is sent to that CA (202 `revocation_pending`; a refusal "
                       "leaves it unrevoked, with the CA's message on its page).",
        "security": _BEARER,
        "parameters": [{"name": "certificate_id", **_ID_PARAM}],
        "requestBody": _json_body("RevokeRequest"),
        "responses": {"200": _ok("Revoked.", "Revoked"),
                      "202": _ok("Sent to the external CA.", "RevocationPending"),
                      **_use("BadRequest", "Unauthorized", "NotFound", "Conflict",
                             "PayloadTooLarge", "UnsupportedMediaType", "Unprocessable",
                             "TooManyRequests", "InternalError", "Other")},
    }},
    "/api/v1/openapi.json": {"get": {
        "operationId": "getOpenAPI",
        "summary": "This document",
        "security": [],
        "responses": {"200": {"description": "The OpenAPI document.",
                              "content": {"application/json": {
                                  "schema": {"type": "object"}}}}},
    }},
}


@cache
def _document() -> dict[str, Any]:
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Certificate platform — courier API",
            "version": API_VERSION,
            "description": (
                "Couriers request certificates with a bearer token from "
                "`POST /api/v1/courier/auth`. Every error is "
                '`{"error": {"code", "message", "details": [...]}}`. Each courier may '
                "make COURIER_RATE_LIMIT_PER_MINUTE requests per minute (default 120; each "
                "request of a batch counts), and "
                "each client address COURIER_AUTH_RATE_LIMIT_PER_MINUTE auth attempts "
                "(default 30); over a limit the answer is 429 with Retry-After. A key the "
                "platform makes for a courier is returned once, as a JWE, by GET "
                "/api/v1/courier/orders/{order_id} (key_status `included`), then deleted; "
                "unfetched, it is deleted after 24 hours (`expired`)."),
        },
        "paths": _PATHS,
        "components": {
            "schemas": _SCHEMAS,
            "responses": _RESPONSE_COMPONENTS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "A token from "
                                               "/api/v1/courier/auth."}},
        },
        "security": _BEARER,
    }


def document() -> dict[str, Any]:
    """A copy, so a caller cannot change the cached document."""
    return copy.deepcopy(_document())

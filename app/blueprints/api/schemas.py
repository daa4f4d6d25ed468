"""The shapes of the API's JSON request bodies: one table per body, used both to check a
body (types, unknown fields, missing fields → 422 with every problem) and to write the
OpenAPI document's request schemas, so the two cannot drift apart.

Shape only: whether a name is allowed, a digest offered or a CSR acceptable is decided by
the same services as in the wizard (``app.services.intake``)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.policy import Violation
from app.services import courier_api
from app.services.errors import ServiceError, ValidationFailed

_JSON_TYPES = {"string": str, "integer": int, "array": list, "object": dict,
               "boolean": bool}
_TYPE_WORDS = {"string": "a string", "integer": "an integer", "array": "an array",
               "object": "an object", "boolean": "true or false"}


@dataclass(frozen=True)
class Field:
    type: str                                       # string | integer | array | object
    description: str
    items: str | None = None                        # item type of an array
    properties: Mapping[str, Field] | None = None   # members of an object
    example: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)   # more JSON Schema keywords

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.items:
            schema["items"] = {"type": self.items}
        if self.properties is not None:
            schema["properties"] = {k: f.json_schema() for k, f in self.properties.items()}
            schema["additionalProperties"] = False
        if self.example is not None:
            schema["examples"] = [self.example]
        schema.update(self.extra)
        return schema


@dataclass(frozen=True)
class BodyShape:
    name: str
    fields: Mapping[str, Field]
    required: tuple[str, ...] = ()
    # Alternatives: at least one of these fields must be present (e.g. csr or common_name).
    one_required: tuple[str, ...] = ()
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)   # more JSON Schema keywords

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object", "description": self.description,
            "properties": {k: f.json_schema() for k, f in self.fields.items()},
            "additionalProperties": False}
        if self.required:
            schema["required"] = list(self.required)
        if self.one_required:
            schema["anyOf"] = [{"required": [k]} for k in self.one_required]
        schema.update(self.extra)
        return schema


class ShapeInvalid(ValidationFailed):
    """The body's shape is wrong; ``violations`` names every problem."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__(violations[0].message, code="request.invalid")
        self.violations = tuple(violations)


def _is_type(value: Any, json_type: str) -> bool:
    if json_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, _JSON_TYPES[json_type])


def _check_value(value: Any, spec: Field, path: str) -> list[Violation]:
    if not _is_type(value, spec.type):
        return [Violation(code="request.invalid_type", field=path,
                          message=f"'{path}' must be {_TYPE_WORDS[spec.type]}.")]
    found: list[Violation] = []
    if spec.type == "array" and spec.items:
        bad = [i for i, item in enumerate(value) if not _is_type(item, spec.items)]
        if bad:
            found.append(Violation(
                code="request.invalid_type", field=path,
                message=f"Every item of '{path}' must be {_TYPE_WORDS[spec.items]} (item "
                        f"{bad[0]} is not)."))
    if spec.type == "object" and spec.properties is not None:
        found += _check_members(value, spec.properties, path + ".")
    return found


def _check_members(body: Mapping[str, Any], fields: Mapping[str, Field],
                   prefix: str = "") -> list[Violation]:
    found: list[Violation] = []
    for key in body:
        if key not in fields:
            name = f"{prefix}{key}"[:100]
            found.append(Violation(code="request.unknown_field", field=name,
                                   message=f"Unknown field '{name}'; the accepted fields are "
                                           f"{', '.join(fields)}."))
    for key, spec in fields.items():
        if key in body:
            found += _check_value(body[key], spec, f"{prefix}{key}")
    return found


def check_body(body: Any, shape: BodyShape) -> dict[str, Any]:
    """``body`` if it has ``shape``; else ShapeInvalid listing every problem."""
    if not isinstance(body, dict):
        raise ShapeInvalid([Violation(code="request.invalid_type", field=None,
                                      message="The request body must be a JSON object.")])
    found = _check_members(body, shape.fields)
    for key in shape.required:
        if key not in body:
            found.append(Violation(code="request.missing_field", field=key,
                                   message=f"The field '{key}' is required."))
    if shape.one_required and not any(k in body for k in shape.one_required):
        first = shape.one_required[-1]
        found.append(Violation(
            code="request.missing_field", field=first,
            message=f"The field '{first}' is required (unless "
                    f"{' or '.join(repr(k) for k in shape.one_required[:-1])} is given)."))
    if found:
        raise ShapeInvalid(found)
    return body


AUTH = BodyShape(
    name="AuthRequest",
    description="The courier's credentials, as shown once when the courier was created.",
    fields={
        "uuid": Field("string", "The courier's UUID.",
                      example="6f1c1f3e-8e0e-4e53-9d43-0c7f3c1e9b1a"),
        "client_id": Field("string", "The courier's client id.", example="cr_0123456789ab"),
        "client_secret": Field("string", "The courier's client secret."),
    },
    required=("uuid", "client_id", "client_secret"))

SUBJECT = Field("object", "Subject attributes. Policy-enforced values fill empty ones; a "
                "different value than a policy enforces is refused. Not accepted with a "
                "CSR (the CSR's subject is used, with enforced values replacing it).",
                properties={
                    "organization": Field("string", "O"),
                    "organizational_unit": Field("string", "OU"),
                    "country": Field("string", "C, ISO 3166 alpha-2", example="DE"),
                    "state": Field("string", "ST"),
                    "locality": Field("string", "L"),
                })

CERTIFICATE = BodyShape(
    name="CertificateRequest",
    description="A certificate request. With `csr` the names and key come from the CSR "
                "(the private key never leaves the courier); without it the platform makes "
                "the key and returns it only as a JWE encrypted to the courier's public key.",
    fields={
        "common_name": Field("string", "The CN, a DNS name. Required without `csr`; with "
                             "`csr` it must equal the CSR's CN if given.",
                             example="www.example.com"),
        "sans": Field("array", "Subject alternative names: DNS names, IP addresses, e-mail "
                      "addresses. With `csr` they must equal the CSR's if given.",
                      items="string", example=["www.example.com", "api.example.com"]),
        "csr": Field("string", "A PEM PKCS#10 CSR (RSA 2048-16384 or EC P-256/384/521).",
                     extra={"maxLength": 65536}),
        "subject": SUBJECT,
        "algorithm": Field("string", "Key algorithm of a platform-made key: rsa-2048, "
                           "rsa-3072, rsa-4096, ec-256 (default), ec-384, ec-521. Not "
                           "accepted with a CSR.", example="ec-256"),
        "digest": Field("string", "sha256 (default), sha384 or sha512.", example="sha256"),
        "validity_days": Field("integer", "1-3650, default 365 (bounded by policy).",
                               example=90),
        "key_usage": Field("array", "Default digitalSignature (+ keyEncipherment for RSA).",
                           items="string", example=["digitalSignature"]),
        "extended_key_usage": Field("array", "Default serverAuth.", items="string",
                                    example=["serverAuth"]),
        "provider_id": Field("string", "Certificate provider UUID (default: the Local "
                             "PKI). An ACME provider takes the names and the key only: "
                             "`subject`, `digest`, `validity_days`, `key_usage` and "
                             "`extended_key_usage` are the CA's and are refused "
                             "(`provider.field_not_honoured`).",
                             example="00000000-0000-4000-8000-000000000001"),
        "issuer_id": Field("string", "Issuing CA id, Local PKI only (default: its newest "
                           "active intermediate); with another provider it is refused "
                           "(`provider.issuer_mismatch`)."),
    },
    one_required=("csr", "common_name"),
    extra={"dependentSchemas": {"csr": {"not": {"anyOf": [
        {"required": ["subject"]}, {"required": ["algorithm"]}]}}}})

# With a CSR these come from the CSR, so sending them is a contradiction, not a wish
# (the ``dependentSchemas`` above says the same to OpenAPI readers).
NOT_WITH_CSR = ("subject", "algorithm")


def check_certificate_body(body: Any) -> dict[str, Any]:
    checked = check_body(body, CERTIFICATE)
    if "csr" in checked:
        clashes = [k for k in NOT_WITH_CSR if k in checked]
        if clashes:
            raise ShapeInvalid([Violation(
                code="request.not_with_csr", field=k,
                message=f"'{k}' cannot be sent with a CSR: the CSR supplies the "
                        f"{'subject' if k == 'subject' else 'key'}.") for k in clashes])
    return checked


# ---- batches of certificate requests ---------------------------------------------------------

IDEMPOTENCY_KEY_RE = re.compile(
    rf"[\x21-\x7e]{{1,{courier_api.MAX_IDEMPOTENCY_KEY_LENGTH}}}")
IDEMPOTENCY_KEY_MESSAGE = ("The Idempotency-Key header must be 1 to "
                           f"{courier_api.MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters.")
BATCH_KEY_FIELD = "idempotency_key"
MAX_BATCH = courier_api.MAX_BATCH_REQUESTS


class InvalidIdempotencyKey(ServiceError):
    """400 ``idempotency.invalid_key``: the answer to a malformed Idempotency-Key."""

    def __init__(self, message: str = IDEMPOTENCY_KEY_MESSAGE,
                 field: str = "Idempotency-Key") -> None:
        super().__init__(message, code="idempotency.invalid_key", field=field)


BATCH_ITEM_KEY = Field(
    "string", "This request's Idempotency-Key (what the header is to a single request, in "
    "the same key space): a retry of the item with the same key and body answers with the "
    "same order and `replayed: true`; the same key with another body is 422 "
    "idempotency.key_reused. 1-255 visible ASCII characters, else 400 "
    "idempotency.invalid_key. A key may appear once per batch.",
    extra={"minLength": 1, "maxLength": courier_api.MAX_IDEMPOTENCY_KEY_LENGTH,
           "pattern": "^[\\x21-\\x7e]+$"})

BATCH = BodyShape(
    name="CertificateBatchRequest",
    description=f"1 to {MAX_BATCH} certificate requests, each the body "
                "`POST /api/v1/courier/certificates` takes (plus an optional "
                "`idempotency_key`). Each is judged as if sent alone.",
    fields={"requests": Field(
        "array", "The requests, answered one result each in the same order. An item "
                 "whose own shape is wrong gets the single endpoint's error as its result; "
                 "the others go on.",
        extra={"items": {"$ref": "#/components/schemas/CertificateBatchItem"},
               "minItems": 1, "maxItems": MAX_BATCH})},
    required=("requests",))


def batch_item_schema() -> dict[str, Any]:
    """A batch item's JSON Schema: the single request's, plus ``idempotency_key``."""
    schema = CERTIFICATE.json_schema()
    schema["properties"][BATCH_KEY_FIELD] = BATCH_ITEM_KEY.json_schema()
    schema["description"] = ("One request of a batch: a CertificateRequest, optionally "
                             "with its own idempotency key.")
    return schema


def check_batch_body(body: Any) -> list[courier_api.BatchItem]:
    """The batch's own shape (an object with ``requests``: an array of 1 to
    MAX_BATCH, no key twice) — else ShapeInvalid or ValidationFailed ``batch.empty`` /
    ``batch.too_large`` / ``batch.duplicate_idempotency_key`` for the whole batch — and
    each item checked as the single endpoint checks its body and header: a refused item
    carries its error."""
    requests = check_body(body, BATCH)["requests"]
    if not requests:
        raise ValidationFailed("The batch holds no request; send 1 to "
                               f"{MAX_BATCH}.", code="batch.empty", field="requests")
    if len(requests) > MAX_BATCH:
        raise ValidationFailed(f"The batch holds {len(requests)} requests; at most "
                               f"{MAX_BATCH} are accepted per call.",
                               code="batch.too_large", field="requests")
    items = [_batch_item(item) for item in requests]
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.idempotency_key is None:
            continue
        if item.idempotency_key in seen:
            raise ValidationFailed(
                f"Requests {seen[item.idempotency_key]} and {index} (counted from 0) share "
                "one idempotency_key; a key may appear once per batch.",
                code="batch.duplicate_idempotency_key", field="requests")
        seen[item.idempotency_key] = index
    return items


def _batch_item(raw: Any) -> courier_api.BatchItem:
    key = None
    if isinstance(raw, dict) and BATCH_KEY_FIELD in raw:
        raw = dict(raw)
        key = raw.pop(BATCH_KEY_FIELD)
        if not isinstance(key, str) or not IDEMPOTENCY_KEY_RE.fullmatch(key):
            return courier_api.BatchItem(refused=InvalidIdempotencyKey(
                f"'{BATCH_KEY_FIELD}' must be 1 to {courier_api.MAX_IDEMPOTENCY_KEY_LENGTH} "
                "visible ASCII characters.", field=BATCH_KEY_FIELD))
    try:
        return courier_api.BatchItem(body=check_certificate_body(raw), idempotency_key=key)
    except ServiceError as error:
        return courier_api.BatchItem(refused=error, idempotency_key=key)


DISCOVERY_IMPORT = BodyShape(
    name="DiscoveryImportRequest",
    description="Certificates to add to the inventory as discovered. The body may instead "
                "be the PEM text itself (Content-Type application/x-pem-file or text/plain).",
    fields={
        "pem": Field("string", "One or more PEM certificates (a chain is kept), or a PEM "
                     "PKCS#7 bundle. Certificates only: a private key anywhere refuses the "
                     "whole request (422 discovery.private_key) and nothing is stored.",
                     example="-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"),
    },
    required=("pem",),
)


def check_discovery_body(body: Any) -> dict[str, Any]:
    return check_body(body, DISCOVERY_IMPORT)
# ---- the bridges' API ---------------------------------------------------------------------

BRIDGE_AUTH = BodyShape(
    name="BridgeAuthRequest",
    description="The bridge's credentials, as shown once by `flask bridges create`.",
    fields={
        "client_id": Field("string", "The bridge's client id.", example="br_0123456789ab"),
        "client_secret": Field("string", "The bridge's client secret."),
        "version": Field("string", "The bridge's version (shown on its page).",
                         example="1.0.0", extra={"maxLength": 64}),
    },
    required=("client_id", "client_secret"))

REPORT_STEP = {
    "type": "object", "additionalProperties": False, "required": ["name", "ok"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 32,
                            "description": "write, reload, probe, restore, reload_restored "
                                           "…"},
                   "ok": {"type": "boolean"},
                   "output": {"type": "string", "description": "The step's output (a "
                              "command's stdout/stderr, the probe's finding); the last "
                              "8000 characters are kept."}}}

DEPLOYMENT_REPORT = BodyShape(
    name="DeploymentReport",
    description="The result of one deployment, with every step the bridge ran.",
    fields={
        "status": Field("string", "succeeded or failed.",
                        extra={"enum": ["succeeded", "failed"]}),
        "steps": Field("array", "The steps in order.", extra={"items": REPORT_STEP,
                                                             "maxItems": 20}),
        "served_serial": Field("string", "The serial (hex) the probe saw served, if it "
                               "got that far.", extra={"pattern": "^[0-9a-fA-F]{1,64}$"}),
        "error": Field("string", "Why it failed (the failing step's output)."),
    },
    required=("status", "steps"))


RENEWAL = BodyShape(
    name="RenewalRequest",
    description="Renew a certificate of this courier: a new order built from the original "
                "request, judged again by today's domains and policies (action "
                "certificate.renew). A CSR order's renewal needs a new CSR; without one, "
                "the platform makes a new key (encrypted to the courier's public key).",
    fields={
        "csr": Field("string", "A new PKCS#10 CSR (PEM). Required when the original order "
                     "was for a CSR; its names are judged like a new request's."),
        "revoke_predecessor": Field("boolean", "Revoke the renewed certificate (reason "
                                    "superseded) once the new one is issued. Default false."),
    })


def check_renewal_body(body: Any) -> dict[str, Any]:
    return check_body(body, RENEWAL)


REVOKE = BodyShape(
    name="RevokeRequest",
    description="Why the certificate is revoked (RFC 5280 reason name). Revocation is final.",
    fields={"reason": Field("string", "unspecified, keyCompromise, affiliationChanged, "
                            "superseded, cessationOfOperation or privilegeWithdrawn "
                            "(`unspecified`: the CRL entry carries no reason code).",
                            example="keyCompromise",
                            extra={"enum": ["unspecified", "keyCompromise",
                                            "affiliationChanged", "superseded",
                                            "cessationOfOperation", "privilegeWithdrawn"]})},
    required=("reason",))

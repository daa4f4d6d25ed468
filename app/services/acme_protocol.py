"""The ACME server's use cases (RFC 8555, RFC 9773) on top of the one intake pipeline.

Accounts are pre-created and activated by EAB; authorizations are satisfied by the
account's domain bindings (created ``valid``); finalize turns the CSR into a
``CertificateRequest`` with ``intake.request_from_csr`` and stores it with
``orders.submit_order`` (pathway ``acme_client``), exactly as the CSR upload page and the
courier API do; the worker issues it. Every refusal is a ``Problem``."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import josepy as jose
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import joinedload, lazyload

from app.domain.acme import Problem, binding_problem
from app.domain.errors import InvalidName
from app.domain.names import normalize_requested_name
from app.domain.policy import Violation
from app.domain.request import CertificateRequest
from app.extensions import db
from app.models import AcmeAccount, AcmeAuthorization, AcmeOrder, AcmeServer, Certificate, Order
from app.models.base import utcnow
from app.services import audit
from app.services.acme_admin import (
    activated_now,
    eab_hmac_key,
    requester_for_acme_account,
)
from app.services.acme_jws import b64url_decode, thumbprint, verify_eab
from app.services.intake import (
    assess,
    batch_preloaded,
    parse_csr_input,
    prefer_enforced_subject,
    request_from_csr,
    request_from_values,
)
from app.services.issuers import local_pki_id
from app.services.orders import PolicyRejected, submit_order

PATHWAY = "acme_client"
ORDER_LIFETIME = timedelta(days=7)
MAX_IDENTIFIERS = 100
#: Codes that are about the names (→ rejectedIdentifier); the rest are about the CSR.
NAME_CODE_PREFIXES = ("name.", "policy.disable_wildcard", "policy.allowed_domains",
                      "acme.binding")


def violation_json(v: Violation) -> dict[str, Any]:
    return {"code": v.code, "field": v.field, "message": v.message}


# ---- servers and accounts --------------------------------------------------------------------

# Every signed request loads its server and account, and most an order: the models'
# default eager loads (the server's issuing CA, the account's server, bindings and
# domains, the order's account) are for the admin pages. Here the server is loaded first
# and the rest come from the identity map or are loaded only by the use cases that read
# them (newOrder and finalize read the bindings).
_SERVER_ONLY = (lazyload(AcmeServer.issuer),)
_ACCOUNT_ONLY = (lazyload(AcmeAccount.server), lazyload(AcmeAccount.bindings))
_ORDER_ONLY = (lazyload(AcmeOrder.account),)


def _get(model: type, raw_id: object, options: tuple[Any, ...]) -> Any:
    """As ``lookup.by_uuid``, with loader options."""
    try:
        key = raw_id if isinstance(raw_id, uuid.UUID) else uuid.UUID(str(raw_id))
    except ValueError:
        return None
    return db.session.get(model, key, options=options)


def usable_server(server_id: str) -> AcmeServer:
    server = _get(AcmeServer, server_id, _SERVER_ONLY)
    if server is None or not server.enabled:
        raise Problem("malformed", "There is no such ACME server (or it is disabled).",
                      status=404)
    return server


def account_by_kid(server: AcmeServer, kid: str, base: str) -> AcmeAccount:
    prefix = f"{base}/acme/{server.id}/acct/"
    account = _get(AcmeAccount, kid[len(prefix):], _ACCOUNT_ONLY) \
        if kid.startswith(prefix) else None
    if account is None or account.server_id != server.id or account.jwk is None:
        raise Problem("accountDoesNotExist", "No account has this URL on this server.")
    if not account.enabled:
        raise Problem("unauthorized", "This account is disabled; ask the platform's "
                                      "administrators.")
    if account.status != "valid":
        raise Problem("unauthorized", f"This account is {account.status}.")
    return account


def account_key(account: AcmeAccount) -> jose.JWK:
    return _parsed_jwk(json.dumps(account.jwk, sort_keys=True))


@lru_cache(maxsize=1024)
def _parsed_jwk(canonical: str) -> jose.JWK:
    """The account key, parsed once per process (a JWK is immutable; keyed by its JSON, so
    a changed key is a different entry and nothing stale can be returned)."""
    return jose.JWK.from_json(json.loads(canonical))


def new_account(server: AcmeServer, payload: dict[str, Any] | None, jwk: jose.JWK,
                url: str) -> tuple[AcmeAccount, bool]:
    """newAccount (RFC 8555 §7.3): the existing account of this key, or the pre-created
    account named by the EAB, now bound to the key. Returns (account, created)."""
    payload = payload or {}
    print_ = thumbprint(jwk)
    existing = db.session.scalar(select(AcmeAccount).where(AcmeAccount.thumbprint == print_))
    if existing is not None:
        if existing.server_id != server.id:
            raise Problem("unauthorized", "This key belongs to an account of another ACME "
                                          "server; use a new key here.")
        if not existing.enabled:
            raise Problem("unauthorized", "This account is disabled.")
        if existing.status != "valid":
            raise Problem("unauthorized", f"This account is {existing.status}.")
        return existing, False
    if payload.get("onlyReturnExisting") is True:
        raise Problem("accountDoesNotExist", "No account exists for this key.")
    contact = _contacts(payload.get("contact"))
    if server.terms_of_service_url and payload.get("termsOfServiceAgreed") is not True:
        raise Problem("userActionRequired", "Agree to the terms of service "
                                            "(termsOfServiceAgreed).")
    if "externalAccountBinding" not in payload:
        raise Problem("externalAccountRequired", "This server needs External Account "
                      "Binding: use the EAB key id and HMAC key an administrator gave you.")
    found: dict[str, AcmeAccount] = {}

    def hmac_key_for(kid: str) -> bytes:
        account = db.session.scalar(select(AcmeAccount).where(AcmeAccount.eab_kid == kid)
                                    .with_for_update(of=AcmeAccount))
        if account is None or account.server_id != server.id:
            raise Problem("unauthorized", "This EAB key id is not one of this server's.")
        key = eab_hmac_key(account)
        if key is None:
            raise Problem("unauthorized", "This EAB key can no longer be used; ask for new "
                                          "credentials.")
        found["account"] = account
        return key

    verify_eab(payload["externalAccountBinding"], account_jwk=jwk, expected_url=url,
               hmac_key_for=hmac_key_for)
    account = found["account"]
    if not account.enabled:
        raise Problem("unauthorized", "This account is disabled.")
    if account.thumbprint is not None:
        raise Problem("unauthorized", "This EAB key is already bound to another account "
                                      "key; an EAB key binds one key only.")
    account.jwk = jwk.to_json()
    account.thumbprint = print_
    account.contact = contact
    activated_now(account)
    audit.record("acme_account.activate", resource_type="acme_account",
                 resource_id=account.id, actor_label=f"ACME account {account.name}",
                 details={"thumbprint": print_, "server": server.name})
    db.session.commit()
    return account, True


def _contacts(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 10 or not all(
            isinstance(c, str) and c.startswith("mailto:") and 8 < len(c) <= 260 for c in raw):
        raise Problem("invalidContact" if isinstance(raw, list) else "malformed",
                      "contact must be a list of mailto: URLs.", status=400)
    return list(raw)


def update_account(account: AcmeAccount, payload: dict[str, Any] | None) -> AcmeAccount:
    if not payload:
        return account
    if payload.get("status") == "deactivated":
        account.status = "deactivated"
    elif "status" in payload:
        raise Problem("malformed", "The only status a client may set is 'deactivated'.")
    if "contact" in payload:
        account.contact = _contacts(payload["contact"])
    db.session.commit()
    return account


def change_key(account: AcmeAccount, inner_raw: dict[str, Any] | None, *,
               account_url: str, url: str) -> AcmeAccount:
    """keyChange (RFC 8555 §7.3.5): the payload is a JWS by the new key over
    {account, oldKey}; its url is the keyChange URL and it carries no nonce."""
    import json

    if not isinstance(inner_raw, dict) or set(inner_raw) != {"protected", "payload",
                                                             "signature"}:
        raise Problem("malformed", "The keyChange payload must be a flattened JWS.")
    try:
        protected = json.loads(b64url_decode(inner_raw["protected"]))
        inner_payload = json.loads(b64url_decode(inner_raw["payload"]))
        signature = b64url_decode(inner_raw["signature"])
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem("malformed", "The inner JWS is not valid.") from exc
    if not isinstance(protected, dict) or not isinstance(inner_payload, dict):
        raise Problem("malformed", "The inner JWS must carry JSON objects.")
    if protected.get("url") != url or "nonce" in protected or "jwk" not in protected:
        raise Problem("malformed", "The inner JWS needs the keyChange url, the new key as "
                                   "jwk and no nonce.")
    from app.services.acme_jws import _check_key, parse_jwk

    new_key = parse_jwk(protected["jwk"])
    alg = protected.get("alg")
    if alg not in ("ES256", "ES384", "RS256"):
        raise Problem("badSignatureAlgorithm", "Use ES256, ES384 or RS256.")
    _check_key(alg, new_key)
    try:
        ok = jose.JWASignature.from_json(alg).verify(
            new_key.key, f"{inner_raw['protected']}.{inner_raw['payload']}".encode(),
            signature)
    except Exception:
        ok = False
    if not ok:
        raise Problem("malformed", "The inner JWS signature does not verify.")
    if inner_payload.get("account") != account_url:
        raise Problem("malformed", "The inner payload's account is not this account.")
    try:
        old = jose.JWK.from_json(inner_payload.get("oldKey"))
    except Exception as exc:
        raise Problem("malformed", "oldKey must be the account's current key.") from exc
    if old.thumbprint() != account_key(account).thumbprint():
        raise Problem("malformed", "oldKey is not the account's current key.")
    new_print = thumbprint(new_key)
    if db.session.scalar(select(AcmeAccount.id).where(AcmeAccount.thumbprint == new_print)):
        raise Problem("malformed", "The new key is already used by an account.", status=409)
    account.jwk, account.thumbprint = new_key.to_json(), new_print
    db.session.commit()
    return account


# ---- orders ----------------------------------------------------------------------------------

def _identifiers(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not raw:
        raise Problem("malformed", "identifiers must be a non-empty list.")
    if len(raw) > MAX_IDENTIFIERS:
        raise Problem("rejectedIdentifier", f"At most {MAX_IDENTIFIERS} identifiers per "
                                            "order.")
    names: list[str] = []
    subproblems = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise Problem("malformed", "Each identifier is {\"type\": \"dns\", \"value\": …}.")
        if item.get("type") != "dns":
            raise Problem("unsupportedIdentifier", f"Identifier type "
                          f"{str(item.get('type'))[:20]!r} is not supported; only 'dns'.")
        try:
            name = normalize_requested_name(item["value"])
        except InvalidName as exc:
            subproblems.append({"type": "urn:ietf:params:acme:error:rejectedIdentifier",
                                "detail": str(exc), "identifier": {
                                    "type": "dns", "value": item["value"][:253]}})
            continue
        if name not in names:
            names.append(name)
    if subproblems:
        raise Problem("rejectedIdentifier", subproblems[0]["detail"], subproblems=subproblems)
    return names


def _binding_violations(account: AcmeAccount, names: list[str]) -> list[Violation]:
    bindings = [(b.domain.name, b.mode) for b in account.bindings if b.domain.enabled]
    found = []
    for name in names:
        problem = binding_problem(name, bindings)
        if problem:
            found.append(Violation(code="name.outside_scope", field="sans", message=problem,
                                   actual=name))
    return found


def _refusal(violations: tuple[Violation, ...] | list[Violation], names: list[str], *,
             at_finalize: bool) -> Problem:
    name_codes = [v for v in violations if v.code.startswith(NAME_CODE_PREFIXES)]
    kind = "rejectedIdentifier" if name_codes or not at_finalize else "badCSR"
    subproblems = []
    for name in names:
        for v in violations:
            if name in (v.message or "") or name == getattr(v, "actual", None):
                subproblems.append({"type": f"urn:ietf:params:acme:error:{kind}",
                                    "detail": v.message,
                                    "identifier": {"type": "dns", "value": name}})
                break
    detail = violations[0].message if len(violations) == 1 else \
        f"{len(violations)} problems: " + " ".join(v.message for v in violations)
    return Problem(kind, detail[:2000], subproblems=subproblems,
                   violations=[violation_json(v) for v in violations])


def _base_request(server: AcmeServer, names: list[str], validity_days: int
                  ) -> dict[str, Any]:
    return {"digest": server.digest, "validity_days": validity_days,
            "provider_id": local_pki_id(), "issuer_id": str(server.issuer_id)}


def _check_rate(account: AcmeAccount) -> None:
    since = utcnow() - timedelta(hours=1)
    count = db.session.scalar(select(func.count(AcmeOrder.id)).where(
        AcmeOrder.account_id == account.id, AcmeOrder.created_at > since)) or 0
    if count >= account.server.orders_per_hour:
        oldest = db.session.scalar(select(func.min(AcmeOrder.created_at)).where(
            AcmeOrder.account_id == account.id, AcmeOrder.created_at > since))
        wait = max(1, int(((oldest or since) + timedelta(hours=1) - utcnow())
                          .total_seconds()) + 1)
        raise Problem("rateLimited", f"This account may create {account.server.orders_per_hour}"
                      " orders per hour; retry later.", retry_after=wait)


def _validity(server: AcmeServer, payload: dict[str, Any]) -> int:
    not_after = payload.get("notAfter")
    if payload.get("notBefore") is not None:
        raise Problem("malformed", "notBefore is not supported: certificates start when "
                                   "issued.")
    if not_after is None:
        return server.default_days
    try:
        end = datetime.fromisoformat(str(not_after).replace("Z", "+00:00"))
        days = -(-int((end - utcnow()).total_seconds()) // 86400)
    except (ValueError, TypeError, OverflowError) as exc:
        raise Problem("malformed", "notAfter must be an RFC 3339 date-time.") from exc
    if not 1 <= days <= server.max_days:
        raise Problem("malformed", f"notAfter must be within 1 and {server.max_days} days.")
    return days


def new_order(account: AcmeAccount, payload: dict[str, Any] | None) -> AcmeOrder:
    if not payload:
        raise Problem("malformed", "newOrder needs a payload with identifiers.")
    server = account.server
    names = _identifiers(payload.get("identifiers"))
    validity = _validity(server, payload)
    replaces = _replaced_certificate(account, payload.get("replaces"))
    _check_rate(account)
    request, problems = request_from_values(
        {**_base_request(server, names, validity), "common_name": names[0], "sans": names})
    requester = requester_for_acme_account(account)
    assessment = assess(request, requester, [*problems, *_binding_violations(account, names)])
    if assessment.blocked:
        raise _refusal(assessment.hard, names, at_finalize=False)
    now = utcnow()
    order = AcmeOrder(account_id=account.id, status="ready", validity_days=validity,
                      identifiers=[{"type": "dns", "value": n} for n in names],
                      expires_at=now + ORDER_LIFETIME,
                      replaces_certificate_id=replaces.id if replaces else None)
    order.authorizations = [AcmeAuthorization(
        position=i, identifier_type="dns", identifier_value=n.removeprefix("*."),
        wildcard=n.startswith("*."), status="valid", expires_at=now + ORDER_LIFETIME)
        for i, n in enumerate(names)]
    db.session.add(order)
    db.session.commit()
    return _reloaded(order)


def _reloaded(order: AcmeOrder) -> AcmeOrder:
    """The order just committed (so expired), read again without its account: its next
    attribute read would reload it with the models' eager loads (the account, its server
    and issuing CA, the bindings), which the answer does not show."""
    order_id = inspect(order).identity[0]
    reloaded = db.session.get(AcmeOrder, order_id, options=_ORDER_ONLY,
                              populate_existing=True)
    return reloaded if reloaded is not None else order


def _replaced_certificate(account: AcmeAccount, raw: Any) -> Certificate | None:
    if raw is None:
        return None
    from app.domain.acme import parse_cert_id

    if not isinstance(raw, str):
        raise Problem("malformed", "replaces must be an ARI certificate identifier.")
    try:
        _, serial = parse_cert_id(raw)
    except ValueError as exc:
        raise Problem("malformed", f"replaces: {exc}") from exc
    certificate = certificate_by_serial(serial)
    order = certificate.order if certificate else None
    if certificate is None or order is None or order.requested_by_acme_account_id != account.id:
        raise Problem("malformed", "replaces names no certificate of this account.")
    if db.session.scalar(select(AcmeOrder.id).where(
            AcmeOrder.replaces_certificate_id == certificate.id,
            AcmeOrder.order_id.is_not(None))):
        raise Problem("alreadyReplaced", "This certificate was already replaced by a "
                                         "finalized order.")
    return certificate


def certificate_by_serial(serial: int) -> Certificate | None:
    return db.session.scalar(select(Certificate).where(
        Certificate.serial_hex.in_([format(serial, "x"), format(serial, "X"),
                                    format(serial, "02x"), format(serial, "040x"),
                                    format(serial, "040X")])).limit(1))


def order_of(account: AcmeAccount, order_id: str) -> AcmeOrder:
    order = _get(AcmeOrder, order_id, _ORDER_ONLY)
    if order is None or order.account_id != account.id:
        raise Problem("malformed", "No such order for this account.", status=404)
    return order


def authorization_of(account: AcmeAccount, authz_id: str) -> AcmeAuthorization:
    authz = _get(AcmeAuthorization, authz_id, (
        joinedload(AcmeAuthorization.order).options(*_ORDER_ONLY,
                                                    lazyload(AcmeOrder.authorizations)),))
    if authz is None or authz.order.account_id != account.id:
        raise Problem("malformed", "No such authorization for this account.", status=404)
    return authz


def order_status(order: AcmeOrder) -> str:
    """The RFC status, read from the platform order once there is one."""
    return order_state(order)[0]


def order_state(order: AcmeOrder) -> tuple[str, uuid.UUID | None]:
    """The RFC status and, once ``valid``, the certificate's id: one statement (the
    platform order's status and its certificate) instead of loading the whole order."""
    if order.order_id is None:
        if order.status == "ready" and order.expires_at < utcnow():
            return "invalid", None
        return order.status, None
    row = db.session.execute(
        select(Order.status, Certificate.id)
        .outerjoin(Certificate, Certificate.order_id == Order.id)
        .where(Order.id == order.order_id).limit(1)).first()
    if row is None:
        return "invalid", None
    if row.status == "complete":
        return "valid", row.id
    if row.status == "failed":
        return "invalid", None
    return "processing", None


def finalize(account: AcmeAccount, order: AcmeOrder, payload: dict[str, Any] | None
             ) -> AcmeOrder:
    status = order_status(order)
    if status != "ready":
        raise Problem("orderNotReady", f"The order is {status}, not ready.")
    csr_b64 = (payload or {}).get("csr")
    try:
        der = b64url_decode(csr_b64)
        pem = x509.load_der_x509_csr(der).public_bytes(Encoding.PEM).decode()
    except ValueError as exc:
        raise Problem("badCSR", "csr must be a base64url DER certificate request.") from exc
    parsed, problems = parse_csr_input(pem)
    if parsed is None:
        raise _refusal(problems, [], at_finalize=True)
    names = [i["value"] for i in order.identifiers]
    wanted = set(names)
    csr_names = set(parsed.dns_names) | ({parsed.subject["common_name"]}
                                         if parsed.subject.get("common_name") else set())
    if parsed.ip_addresses or parsed.emails or csr_names != wanted:
        extra = sorted(csr_names - wanted) + list(parsed.ip_addresses) + list(parsed.emails)
        missing = sorted(wanted - csr_names)
        raise Problem("badCSR", "The CSR's names must be exactly the order's identifiers"
                      + (f"; not in the order: {', '.join(extra)[:300]}" if extra else "")
                      + (f"; missing: {', '.join(missing)[:300]}" if missing else "") + ".",
                      violations=[{"code": "csr.names_mismatch", "field": "csr",
                                   "message": "The CSR's names differ from the order's."}])
    if _same_key(der, account):
        raise Problem("badCSR", "The CSR's key is the account key; use a separate key for "
                                "the certificate.",
                      violations=[{"code": "csr.account_key", "field": "csr",
                                   "message": "The CSR reuses the account key."}])
    server = account.server
    algorithm = _algorithm(parsed.key_family, parsed.key_bits)
    if algorithm not in server.allowed_algorithms:
        raise Problem("badCSR", f"This server does not accept {algorithm} keys; allowed: "
                      f"{', '.join(server.allowed_algorithms)}.",
                      violations=[{"code": "acme.algorithm_not_allowed", "field": "csr",
                                   "message": f"{algorithm} keys are not accepted here."}])
    request, problems = request_from_csr(parsed, _base_request(server, names,
                                                               order.validity_days))
    if not request.common_name:
        request = request.replace(common_name=names[0],
                                  dns_names=tuple(n for n in request.dns_names
                                                  if n != names[0]))
    # The policy index and the names' domain rows are read once for the three policy
    # reads of a finalize (enforced subject, this check, submit_order's gate).
    with batch_preloaded([request]):
        _submit(account, order, request, problems, names, parsed.pem)
    return _reloaded(order)


def _submit(account: AcmeAccount, order: AcmeOrder, request: CertificateRequest,
            problems: list[Violation], names: list[str], csr_pem: str) -> None:
    """finalize's end: the request judged (with the account's bindings) and stored as the
    platform order this ACME order now follows."""
    request = prefer_enforced_subject(request)
    requester = requester_for_acme_account(account)
    first = assess(request, requester, [*problems, *_binding_violations(account, names)])
    if first.blocked:
        raise _refusal(first.hard, names, at_finalize=True)
    from app.domain.defaults import with_defaults

    complete: CertificateRequest = with_defaults(request, first.evaluation)

    replaced = db.session.get(Certificate, order.replaces_certificate_id) \
        if order.replaces_certificate_id else None

    def link(platform: Order) -> None:
        platform.requested_by_acme_account_id = account.id
        if replaced is not None:  # RFC 9773 replaces: recorded as a renewal
            platform.renews_certificate_id = replaced.id
            platform.renews_order_id = replaced.order_id
        order.order_id = platform.id
        order.status = "processing"
        db.session.flush()

    try:
        submit_order(complete, requester, pathway=PATHWAY, request_key=f"acme:{order.id}",
                     before_commit=link, csr_pem=csr_pem)
    except PolicyRejected as exc:
        raise _refusal(exc.violations, names, at_finalize=True) from exc


def _algorithm(family: str, bits: int) -> str:
    return f"ec-{bits}" if family == "ecdsa" else f"rsa-{bits}"


def _same_key(der: bytes, account: AcmeAccount) -> bool:
    csr_key = x509.load_der_x509_csr(der).public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    key = account_key(account).key
    wrapped = getattr(key, "_wrapped", key)
    return wrapped.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == csr_key


def certificate_of(account: AcmeAccount, certificate_id: str) -> Certificate:
    """A certificate whose platform order this account requested (one statement: the
    ownership is checked in the query, the order itself is not loaded)."""
    try:
        key = uuid.UUID(str(certificate_id))
    except ValueError:
        key = None
    certificate = None if key is None else db.session.scalar(
        select(Certificate).join(Order, Order.id == Certificate.order_id)
        .where(Certificate.id == key, Order.requested_by_acme_account_id == account.id))
    if certificate is None:
        raise Problem("malformed", "No such certificate for this account.", status=404)
    return certificate


def account_orders(account: AcmeAccount) -> list[uuid.UUID]:
    return list(db.session.scalars(select(AcmeOrder.id).where(
        AcmeOrder.account_id == account.id).order_by(AcmeOrder.created_at.desc()).limit(1000)))


def certificate_id_of(order: AcmeOrder) -> uuid.UUID | None:
    if order.order_id is None:
        return None
    return db.session.scalar(select(Certificate.id).where(
        Certificate.order_id == order.order_id))


def certificate_chain(account: AcmeAccount, certificate_id: str) -> str:
    """The leaf followed by its issuing chain, as ``application/pem-certificate-chain``."""
    certificate = certificate_of(account, certificate_id)
    leaf = certificate.certificate_pem
    return leaf + ("" if leaf.endswith("\n") else "\n") + (certificate.chain_pem or "")


def deactivate_authorization(authz: AcmeAuthorization) -> None:
    authz.status = "deactivated"
    db.session.commit()


def discard() -> None:
    """Forget whatever a refused request had started (nothing of it is committed)."""
    db.session.rollback()


# ---- revocation ------------------------------------------------------------------------------

#: RFC 5280 CRLReason codes a subscriber may give (as Let's Encrypt accepts them).
REVOCATION_REASONS = {0: "unspecified", 1: "keyCompromise", 3: "affiliationChanged",
                      4: "superseded", 5: "cessationOfOperation"}


def revoke_certificate(server: AcmeServer, payload: dict[str, Any] | None, *,
                       account: AcmeAccount | None, jwk: jose.JWK | None) -> None:
    """revokeCert (RFC 8555 §7.6): by the account that ordered it (or whose bindings cover
    all its names), or signed by the certificate's own key (``jwk``)."""
    from app.services import revocation
    from app.services.errors import Conflict, ValidationFailed

    payload = payload or {}
    try:
        der = b64url_decode(payload.get("certificate"))
        presented = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise Problem("malformed", "certificate must be the base64url DER certificate.") \
            from exc
    reason_code = payload.get("reason", 0)
    if not isinstance(reason_code, int) or isinstance(reason_code, bool) \
            or reason_code not in REVOCATION_REASONS:
        raise Problem("badRevocationReason", "reason must be one of "
                      f"{sorted(REVOCATION_REASONS)} (RFC 5280 codes a subscriber may use).")
    certificate = certificate_by_serial(presented.serial_number)
    if certificate is None or x509.load_pem_x509_certificate(
            certificate.certificate_pem.encode()).public_bytes(Encoding.DER) != der:
        raise Problem("malformed", "This server did not issue that certificate.", status=404)
    if certificate.issuer_ca_id != server.issuer_id:
        raise Problem("unauthorized", "That certificate was not issued by this ACME server.")
    if jwk is not None:
        key = getattr(jwk.key, "_wrapped", jwk.key)
        same = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == \
            presented.public_key().public_bytes(Encoding.DER,
                                                PublicFormat.SubjectPublicKeyInfo)
        if not same:
            raise Problem("unauthorized", "The request is not signed by the certificate's "
                                          "key.")
        who = "the certificate's key (ACME)"
    else:
        assert account is not None
        if not _may_revoke(account, certificate):
            raise Problem("unauthorized", "This account neither ordered this certificate "
                                          "nor has bindings for all its names.")
        who = f"ACME account {account.name}"
    try:
        revocation.revoke_certificate(certificate, REVOCATION_REASONS[reason_code],
                                      actor_label=who)
    except ValidationFailed as exc:
        raise Problem("badRevocationReason", exc.message) from exc
    except Conflict as exc:
        if exc.code in ("certificate.already_revoked", "certificate.revocation_pending"):
            raise Problem("alreadyRevoked", exc.message) from exc
        raise Problem("unauthorized", exc.message) from exc


def _may_revoke(account: AcmeAccount, certificate: Certificate) -> bool:
    order = certificate.order
    if order is not None and order.requested_by_acme_account_id == account.id:
        return True
    bindings = [(b.domain.name, b.mode) for b in account.bindings if b.domain.enabled]
    from app.domain.acme import binding_covers

    names = set(certificate.sans or []) | {certificate.common_name}
    return all(any(binding_covers(n, d, m) for d, m in bindings) for n in names if n)


# ---- renewal information (RFC 9773) -------------------------------------------------------

ARI_RETRY_AFTER_SECONDS = 6 * 3600


def renewal_info(server: AcmeServer, cert_id: str) -> dict[str, Any]:
    """The suggested renewal window of a certificate this server's intermediate issued:
    the last third of its validity, or at once when the intermediate (or its root) is
    revoked. Unauthenticated (RFC 9773 §4.2)."""
    from app.domain.acme import parse_cert_id, renewal_window
    from app.models import CertificateAuthority
    from app.models.pki import CA_REVOKED

    try:
        aki, serial = parse_cert_id(cert_id)
    except ValueError as exc:
        raise Problem("malformed", str(exc)) from exc
    certificate = certificate_by_serial(serial)
    if certificate is None or certificate.issuer_ca_id != server.issuer_id \
            or _authority_key_id(certificate) != aki:
        raise Problem("malformed", "This server issued no certificate with that identifier.",
                      status=404)
    revoked_issuer = False
    ca = db.session.get(CertificateAuthority, certificate.issuer_ca_id)
    while ca is not None:
        revoked_issuer = revoked_issuer or ca.status == CA_REVOKED
        ca = ca.parent
    start, end = renewal_window(certificate.not_before, certificate.not_after, now=utcnow(),
                                revoked_issuer=revoked_issuer)
    body: dict[str, Any] = {"suggestedWindow": {"start": _rfc3339(start),
                                                "end": _rfc3339(end)}}
    return body


def _rfc3339(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _authority_key_id(certificate: Certificate) -> bytes | None:
    cert = x509.load_pem_x509_certificate(certificate.certificate_pem.encode())
    try:
        return cert.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        return None

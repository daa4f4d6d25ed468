"""The CSR upload pathway, composed from the intake services (no rule lives here):
read the CSR from the form, judge it with the wizard's checks, submit it as an order."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import FileStorage, MultiDict

from app.blueprints.wizard.view import values_from_form
from app.domain.policy import Violation
from app.domain.request import CertificateRequest
from app.models import Certificate, Order, User
from app.services import alerts, renewals
from app.services.intake import (
    MAX_CSR_BYTES,
    Assessment,
    ParsedCSR,
    assess,
    parse_csr_input,
    prefer_enforced_subject,
    request_from_csr,
)
from app.services.issuers import with_default_issuer
from app.services.orders import submit_order
from app.services.requesters import requester_for_user

PATHWAY = "csr_upload"
# A PEM private key of any kind (PKCS#8, RSA, EC, encrypted, OpenSSH), pasted or uploaded.
_PRIVATE_KEY_RE = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----", re.IGNORECASE)
MISSING = Violation(code="csr.missing", field="csr",
                    message="Paste a CSR (PEM) or choose a CSR file, then check it.")
EMPTY_FILE = Violation(code="csr.missing", field="csr", message="The chosen file is empty.")
PRIVATE_KEY = Violation(
    code="csr.private_key", field="csr",
    message="The text contains a private key. It was not kept and is not shown again. "
            "A private key must stay secret, never pasted anywhere: paste only the "
            "certificate signing request (-----BEGIN CERTIFICATE REQUEST-----).")
NO_ISSUER = Violation(code="provider.unavailable", field="issuer_id",
                      message="No certificate provider is available: the Local PKI needs an "
                              "active intermediate CA.")


@dataclass(frozen=True)
class CsrInput:
    """What the form carried: the CSR data (file first, else pasted text) and the text to
    show again in the textarea after a refusal (never when it holds a private key)."""
    data: bytes | str | None
    echo: str = ""
    holds_private_key: bool = False


def read_input(form: MultiDict[str, str], files: MultiDict[str, FileStorage]) -> CsrInput:
    """A chosen file wins over pasted text. At most MAX_CSR_BYTES + 1 bytes of a file are
    read, so the parser's size bound refuses a larger one without reading the rest."""
    upload = files.get("csr_file")
    if upload is not None and upload.filename:
        data = upload.stream.read(MAX_CSR_BYTES + 1)
        return CsrInput(data, holds_private_key=_PRIVATE_KEY_RE.search(data) is not None)
    text = form.get("csr", "")
    if not text.strip():
        return CsrInput(None)
    if _PRIVATE_KEY_RE.search(text.encode("utf-8", errors="replace")):
        return CsrInput(text, holds_private_key=True)
    return CsrInput(text, echo=text if len(text) <= MAX_CSR_BYTES else "")


def parse(source: CsrInput) -> tuple[ParsedCSR | None, list[Violation]]:
    if source.holds_private_key:
        return None, [PRIVATE_KEY]
    if source.data is None:
        return None, [MISSING]
    if not source.data:
        return None, [EMPTY_FILE]
    return parse_csr_input(source.data)


def options_from_form(form: MultiDict[str, str]) -> dict[str, Any] | None:
    """The certificate options of the result form (None before the first check). The key
    comes from the CSR, so an ``algorithm`` field is ignored."""
    if "options" not in form:
        return None
    values = values_from_form("crypto", form)
    values.pop("algorithm", None)
    values.pop("provider_id", None)   # CSR uploads always use the Local PKI (SPEC 4)
    return values


def request_for(parsed: ParsedCSR, options: dict[str, Any] | None,
                action: str = "certificate.generate"
                ) -> tuple[CertificateRequest, list[Violation]]:
    """The CSR's names, subject and key with the chosen options; enforced subject values
    replace the CSR's, and the newest Local PKI intermediate is the default issuer."""
    request, problems = request_from_csr(parsed, options or {}, action=action)
    request = with_default_issuer(prefer_enforced_subject(request))
    if request.issuer_id is None:
        problems.append(NO_ISSUER)
    return request, problems


def check(parsed: ParsedCSR, options: dict[str, Any] | None, user: User,
          renewal: Certificate | None = None) -> tuple[CertificateRequest, Assessment]:
    """Judge the CSR with ``options``; a renewal is judged under ``certificate.renew``."""
    action = renewals.RENEW_ACTION if renewal is not None else "certificate.generate"
    request, problems = request_for(parsed, options, action)
    return request, assess(request, requester_for_user(user), problems)


def request_key(parsed: ParsedCSR, user: User) -> str:
    """One key per CSR and user: re-checking the same CSR records each alert once."""
    return f"csr:{hashlib.sha256(parsed.pem.encode('ascii')).hexdigest()}:{user.id}"


def record_alerts(parsed: ParsedCSR, request: CertificateRequest, assessment: Assessment,
                  user: User) -> None:
    alerts.record_policy_alerts(assessment.violations, request_key=request_key(parsed, user),
                                requester=requester_for_user(user),
                                common_name=request.common_name)
    alerts.commit()


def renewal_of(value: str | None, user: User) -> Certificate | None:
    """The certificate a ``renews`` field names (NotFound unless the user may renew it)."""
    return renewals.renewable_for(value, user) if value else None


def submit_renewal(parsed: ParsedCSR, options: dict[str, Any], user: User,
                   renewal: Certificate, revoke: bool) -> Order:
    order, _ = renewals.renew(renewal, requester_for_user(user), pathway=PATHWAY,
                              csr=parsed.pem, revoke_predecessor=revoke, options=options)
    return order


def submit(parsed: ParsedCSR, request: CertificateRequest, user: User) -> Order:
    """The order (submit_order re-assesses: PolicyRejected when a rule now blocks it)."""
    order, _ = submit_order(request, requester_for_user(user), pathway=PATHWAY,
                            request_key=request_key(parsed, user), csr_pem=parsed.pem)
    return order

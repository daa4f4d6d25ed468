"""Words for identifiers: what the UI shows beside (or instead of) a stored value.

Pure data plus two small helpers. Usage descriptions are the seed's
(``shared/seeds/certificate-provisioning.txt``); the identifiers stay visible next to
them, since they are what policies, the API and RFC 5280 use.
"""
from __future__ import annotations

__all__ = [
    "ALERT_TYPE_LABELS",
    "ALGORITHM_LABELS",
    "EXTENDED_KEY_USAGE_LABELS",
    "KEY_USAGE_LABELS",
    "ORDER_TYPE_LABELS",
    "PATHWAY_LABELS",
    "REQUESTER_KIND_LABELS",
    "SOURCE_LABELS",
    "count_noun",
    "requested_by_text",
]

KEY_USAGE_LABELS: dict[str, str] = {
    "digitalSignature": "Digital Signature",
    "nonRepudiation": "Non-Repudiation",
    "keyEncipherment": "Key Encipherment",
    "dataEncipherment": "Data Encipherment",
    "keyAgreement": "Key Agreement",
    # CA certificates only (never requested, but shown when a certificate carries them).
    "keyCertSign": "Certificate Signing",
    "cRLSign": "CRL Signing",
}
EXTENDED_KEY_USAGE_LABELS: dict[str, str] = {
    "serverAuth": "TLS Web Server Authentication",
    "clientAuth": "TLS Web Client Authentication",
    "codeSigning": "Code Signing",
    "emailProtection": "E-mail Protection",
    "timeStamping": "Time Stamping",
    "OCSPSigning": "OCSP Signing",
}
ALGORITHM_LABELS: dict[str, str] = {
    "rsa-2048": "RSA 2048-bit", "rsa-3072": "RSA 3072-bit", "rsa-4096": "RSA 4096-bit",
    "ec-256": "ECDSA P-256", "ec-384": "ECDSA P-384", "ec-521": "ECDSA P-521",
}
#: The channel an order came through (``Order.pathway``).
PATHWAY_LABELS: dict[str, str] = {
    "wizard": "Wizard",
    "csr_upload": "CSR upload",
    "courier": "Courier API",
    "acme_client": "ACME client",
    "target_system": "Target system",
}
#: Who signs (``Order.type``, derived from the provider).
ORDER_TYPE_LABELS: dict[str, str] = {
    "local_pki": "Local PKI",
    "acme": "ACME CA",
    "external_ca": "External CA",
}
SOURCE_LABELS: dict[str, str] = {"managed": "Issued here", "discovered": "Discovered"}
#: Kinds of requester, as a filter offers them.
REQUESTER_KIND_LABELS: dict[str, str] = {
    "user": "Users",
    "courier": "Couriers",
    "acme": "ACME accounts",
    "target_system": "Target systems",
}
#: Alert types as a word (``CertificateAlert.type``).
ALERT_TYPE_LABELS: dict[str, str] = {
    "policy_hard_fail": "Blocked",
    "policy_soft_fail": "Warning",
    "renewed_not_deployed": "Not deployed",
    "served_mismatch": "Unexpected certificate served",
}
_REQUESTER_PREFIX = {"courier": "Courier ", "acme": "ACME account ",
                     "target_system": "Target system "}


def count_noun(n: int, singular: str, plural: str | None = None) -> str:
    """``1 policy``, ``2 policies``, ``0 days``. Without ``plural``: ``-y`` after a
    consonant becomes ``-ies``, anything else gets ``s``."""
    if n == 1:
        return f"{n} {singular}"
    if plural is None:
        if singular.endswith("y") and singular[-2:-1] not in ("a", "e", "i", "o", "u"):
            plural = singular[:-1] + "ies"
        else:
            plural = singular + "s"
    return f"{n:,} {plural}"


def requested_by_text(label: str, kind: str, pathway: str) -> str:
    """``admin@example.com · CSR upload``; ``Courier build-bot · Courier API``.

    A user is shown by name only, whatever their role (never "user"); couriers and ACME
    accounts say what they are."""
    who = _REQUESTER_PREFIX.get(kind, "") + label
    return f"{who} · {PATHWAY_LABELS.get(pathway, pathway)}"

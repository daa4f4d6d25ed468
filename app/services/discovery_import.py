"""Discovery import: certificates someone uploads (PEM bundle, DER, PKCS#7) enter the
inventory as ``discovered``. One function behind the upload page, ``flask discovery
import`` and ``POST /api/v1/courier/discovery/import``.

An upload holding a private key, or nothing readable as a certificate, is refused whole
(ValidationFailed, nothing written). Otherwise every certificate gets a result: added,
already known (by SHA-256 fingerprint; also a repeat inside the upload), kept as the chain
of another certificate of the upload, or refused with the reason."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from cryptography import x509

from app.extensions import db
from app.models import User
from app.pki.discovered import (
    MAX_CERTIFICATES,
    KeyInUpload,
    NotCertificates,
    Unreadable,
    chain_for,
    issuers_in,
    parse_certificates,
)
from app.pki.encoding import fingerprint_sha256
from app.services import audit
from app.services.discovery_inventory import record_discovered
from app.services.errors import ValidationFailed

MAX_IMPORT_BYTES = 1024 * 1024
ADDED, KNOWN, CHAIN, REFUSED = "added", "known", "chain", "refused"


@dataclass(frozen=True)
class ImportResult:
    position: int
    status: str                      # added | known | chain | refused
    reason: str
    common_name: str = ""
    fingerprint_sha256: str = ""
    certificate_id: str | None = None
    not_after: str | None = None

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def _name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = names[0].value if names else cert.subject.rfc4514_string()
    return str(value)[:253]


def read_upload(data: bytes) -> list[x509.Certificate | Unreadable]:
    """The parsed upload, or ValidationFailed (nothing is written for these)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationFailed(f"The upload is larger than {MAX_IMPORT_BYTES // 1024} KiB; "
                               "split it into several files.", code="discovery.too_large",
                               field="file")
    try:
        items = parse_certificates(data)
    except KeyInUpload as exc:
        raise ValidationFailed(str(exc), code="discovery.private_key", field="file") from exc
    except NotCertificates as exc:
        raise ValidationFailed(str(exc), code="discovery.not_certificates",
                               field="file") from exc
    if len(items) > MAX_CERTIFICATES:
        raise ValidationFailed(f"The upload holds {len(items)} certificates; at most "
                               f"{MAX_CERTIFICATES} per upload.", code="discovery.too_many",
                               field="file")
    if not any(isinstance(i, x509.Certificate) for i in items):
        reasons = "; ".join(sorted({i.reason for i in items if isinstance(i, Unreadable)}))
        raise ValidationFailed(f"The upload holds no readable certificate ({reasons}).",
                               code="discovery.not_certificates", field="file")
    return items


def import_certificates(data: bytes, *, actor: User | None = None, actor_label: str = "",
                        origin: str = "upload") -> list[ImportResult]:
    """Import every certificate of ``data`` (committed). ``origin`` (upload, cli, api) is
    recorded in the audit event."""
    items = read_upload(data)
    unique: list[x509.Certificate] = []
    seen: dict[str, int] = {}
    results: dict[int, ImportResult] = {}
    for position, item in enumerate(items, start=1):
        if isinstance(item, Unreadable):
            results[position] = ImportResult(position, REFUSED, item.reason.capitalize() + ".")
            continue
        fingerprint = fingerprint_sha256(item)
        if fingerprint in seen:
            results[position] = ImportResult(
                position, KNOWN,
                f"Appears earlier in this upload (certificate {seen[fingerprint]}).",
                _name(item), fingerprint)
            continue
        seen[fingerprint] = position
        unique.append(item)
    issuer_indexes = issuers_in(unique)
    for index, cert in enumerate(unique):
        position = seen[fingerprint_sha256(cert)]
        if index in issuer_indexes:
            continue
        row, added = record_discovered(cert, chain_for(cert, unique))
        results[position] = ImportResult(
            position, ADDED if added else KNOWN,
            "Added to the inventory." if added else (
                "Already in the inventory (issued here)." if row.source == "managed"
                else "Already in the inventory."),
            row.common_name, row.fingerprint_sha256, str(row.id), row.not_after.isoformat())
    for index in issuer_indexes:
        cert = unique[index]
        leaves = [results[seen[fingerprint_sha256(c)]].common_name
                  for i, c in enumerate(unique)
                  if i not in issuer_indexes and cert in chain_for(c, unique)]
        position = seen[fingerprint_sha256(cert)]
        results[position] = ImportResult(
            position, CHAIN, "Kept as the issuing chain of "
            + (", ".join(leaves[:3]) or "another certificate in this upload") + ".",
            _name(cert), fingerprint_sha256(cert))
    ordered = [results[p] for p in sorted(results)]
    counts = {s: sum(r.status == s for r in ordered) for s in (ADDED, KNOWN, CHAIN, REFUSED)}
    audit.record("discovery.import", resource_type="certificate", actor=actor,
                 actor_label=actor_label or None, details={"origin": origin, **counts})
    db.session.commit()
    return ordered

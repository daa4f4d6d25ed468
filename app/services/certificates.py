"""Reading the certificate inventory: scoped to what the viewer may see, filtered,
keyset-paginated, and the public downloads (no private key: the web process may build them).

Visibility follows the orders: a user sees the certificates they own
(``owner_user_id``); roles holding ``Permission.VIEW_ALL_ORDERS`` see all. Anything else
is NotFound, so another user's certificate id reveals nothing."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from cryptography import x509
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    cast,
    exists,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import load_only

from app.domain.endpoints import endpoint_of
from app.domain.roles import Permission
from app.extensions import db
from app.models import Certificate, CertificateAuthority, CertificateLocation, User
from app.models.base import utcnow
from app.models.certificates import SOURCE_DISCOVERED, SOURCE_MANAGED
from app.pki.bundles import chain_pem, fullchain_pem, pkcs7_bundle
from app.pki.encoding import certificate_to_der, load_certificate_pem
from app.pki.errors import PkiError
from app.pki.usages import certificate_usages
from app.services import audit, trigram_search
from app.services.errors import Conflict, NotFound
from app.services.lookup import by_uuid
from app.services.paging import newest_first

STATUSES = ("active", "expired", "revoked")
SOURCES = (SOURCE_MANAGED, SOURCE_DISCOVERED)
MAX_EXPIRING_DAYS = 3650


# ---- filters ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CertificateFilters:
    q: str = ""
    status: str = ""
    source: str = ""
    issuer: str = ""           # a CertificateAuthority id
    expiring: str = ""         # "within N days", kept as the text of N for the URL
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CertificateFilters:
        """Bookmarkable URL arguments → filters. A value that cannot be used is dropped
        and explained in ``problems`` (the list is then shown unfiltered by it)."""
        problems: list[str] = []

        def pick(name: str, allowed: tuple[str, ...]) -> str:
            value = (args.get(name) or "").strip()
            if value and value not in allowed:
                problems.append(f"Ignored {name} '{value[:40]}': choose one of "
                                f"{', '.join(allowed)}.")
                return ""
            return value

        issuer = (args.get("issuer") or "").strip()
        if issuer:
            try:
                issuer = str(uuid.UUID(issuer))
            except ValueError:
                problems.append("Ignored an unknown issuer.")
                issuer = ""
        expiring = (args.get("expiring") or "").strip()
        if expiring and not (expiring.isascii() and expiring.isdigit()
                             and 1 <= int(expiring) <= MAX_EXPIRING_DAYS):
            problems.append(f"Ignored 'expiring within {expiring[:10]} days': enter a whole "
                            f"number of days from 1 to {MAX_EXPIRING_DAYS}.")
            expiring = ""
        return cls(q=(args.get("q") or "").strip()[:253], status=pick("status", STATUSES),
                   source=pick("source", SOURCES), issuer=issuer,
                   expiring=str(int(expiring)) if expiring else "", problems=tuple(problems))

    def as_args(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in ("q", "status", "source", "issuer", "expiring")
                if getattr(self, k)}


#: The trigram index of the name search (migrations 0010_w14 and 0018_w18).
NAMES_INDEX = "ix_certificates_names_trgm"


def _scoped(query: Select, viewer: User) -> Select:
    if viewer.can(Permission.VIEW_ALL_ORDERS):
        return query
    return query.where(Certificate.owner_user_id == viewer.id)


def _filtered(query: Select, filters: CertificateFilters) -> Select:
    now = utcnow()
    if filters.q:
        # Search by name: the CN, or any SAN. SANs are a JSON list; rather than a
        # per-backend JSON function (json_each on SQLite, jsonb_array_elements on
        # PostgreSQL) we match a case-insensitive LIKE on the list's JSON text. That is
        # portable and exact enough for a "contains" search on DNS names / IPs / emails
        # (A-labels, so no \u escapes); the price is that a query containing JSON
        # punctuation (", ") could match across two entries, which is harmless here.
        # One expression (the CN, a space, the SAN list's JSON) so that one trigram index
        # (migration 0010_w14, PostgreSQL) serves the search; the separator is inlined so
        # the expression is the index's exactly; pg_stats samples it under the index's
        # name (app/services/trigram_search.py).
        query = query.where(trigram_search.contains(
            search_text(), filters.q.lower(), NAMES_INDEX, "lower"))
    if filters.status == "revoked":
        query = query.where(Certificate.revoked.is_(True))
    elif filters.status == "expired":
        query = query.where(Certificate.revoked.is_(False), Certificate.not_after <= now)
    elif filters.status == "active":
        query = query.where(Certificate.revoked.is_(False), Certificate.not_after > now)
    if filters.source:
        query = query.where(Certificate.source == filters.source)
    if filters.issuer:
        query = query.where(Certificate.issuer_ca_id == uuid.UUID(filters.issuer))
    if filters.expiring:
        # Still valid, and past its notAfter within N days (already expired ones are out).
        query = query.where(Certificate.not_after > now,
                            Certificate.not_after <= now + timedelta(days=int(filters.expiring)))
    return query


def search_text() -> ColumnElement[str]:
    """``lower(common_name || ' ' || CAST(sans AS VARCHAR))``: what the name search reads."""
    return func.lower(Certificate.common_name.op("||")(literal_column("' '"))
                      .op("||")(cast(Certificate.sans, String)))


# ---- listing ------------------------------------------------------------------------------

# What a row of the inventory shows (and its cursor needs). The PEMs, the wrapped key and
# the revocation details stay in the database; touching another column raises (a test
# catches a template that starts to need one, rather than 25 lazy loads per page).
LISTED_COLUMNS = (Certificate.id, Certificate.source, Certificate.common_name,
                  Certificate.sans, Certificate.issuer_dn, Certificate.issuer_ca_id,
                  Certificate.provider, Certificate.algorithm, Certificate.not_after,
                  Certificate.revoked, Certificate.created_at, Certificate.last_seen_at)


def page_of_certificates(viewer: User, filters: CertificateFilters, cursor: str | None,
                         size: int) -> tuple[list[Certificate], str | None]:
    """Newest first by (created_at, id); returns the page and the cursor of the next (older)
    page. An unreadable cursor shows the first page. Only ``LISTED_COLUMNS`` are loaded;
    where each was seen is ``where_seen``'s."""
    query = select(Certificate).options(load_only(*LISTED_COLUMNS, raiseload=True))
    return newest_first(_filtered(_scoped(query, viewer), filters),
                        Certificate.created_at, Certificate.id, cursor, size)


@dataclass(frozen=True)
class SeenAt:
    """Where discovery last saw a certificate served, and at how many endpoints in all."""
    latest_endpoint: str
    endpoints: int


def where_seen(certificate_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, SeenAt]:
    """For an inventory page: each listed certificate's endpoints in one small query
    (certificates never seen by discovery are absent)."""
    ids = list(certificate_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(CertificateLocation.certificate_id, CertificateLocation.host,
               CertificateLocation.port)
        .where(CertificateLocation.certificate_id.in_(ids))
        .order_by(CertificateLocation.last_seen_at.desc(), CertificateLocation.id.desc()))
    latest: dict[uuid.UUID, str] = {}
    counts: dict[uuid.UUID, int] = {}
    for certificate_id, host, port in rows:
        latest.setdefault(certificate_id, endpoint_of(host, port))
        counts[certificate_id] = counts.get(certificate_id, 0) + 1
    return {key: SeenAt(endpoint, counts[key]) for key, endpoint in latest.items()}


def has_any(viewer: User) -> bool:
    """Whether the viewer sees any certificate at all (which empty state to show)."""
    return db.session.scalar(_scoped(select(Certificate.id), viewer).limit(1)) is not None


def issuers(viewer: User) -> list[tuple[str, str]]:
    """(CA id, name) of the CAs that issued a certificate the viewer can see: one index
    probe per CA (there are few), not a DISTINCT over every certificate (a full scan of a
    million-row inventory on each view)."""
    issued = _scoped(select(Certificate.id), viewer).where(
        Certificate.issuer_ca_id == CertificateAuthority.id)
    rows = db.session.execute(select(CertificateAuthority.id, CertificateAuthority.common_name)
                              .where(exists(issued))
                              .order_by(CertificateAuthority.common_name))
    return [(str(ca_id), name) for ca_id, name in rows]


def get_certificate_for(certificate_id: object, viewer: User) -> Certificate:
    """The certificate, if ``viewer`` may see it — else NotFound (also for a bad id)."""
    cert = by_uuid(Certificate, certificate_id)
    if cert is None or not (viewer.can(Permission.VIEW_ALL_ORDERS)
                            or cert.owner_user_id == viewer.id):
        raise NotFound("No such certificate.", code="certificate.not_found")
    return cert


def usages(cert: Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The key usages and extended key usages the certificate really carries (read from
    the certificate itself, not from the request)."""
    try:
        return certificate_usages(load_certificate_pem(cert.certificate_pem.encode()))
    except (PkiError, ValueError):
        return (), ()


# ---- public downloads ---------------------------------------------------------------------

@dataclass(frozen=True)
class Download:
    body: bytes
    mimetype: str
    filename: str


PUBLIC_FORMATS = ("pem", "der", "chain", "fullchain", "p7b")


def safe_filename(common_name: str) -> str:
    """A file name stem from a CN: ``*`` → ``wildcard``, anything but [A-Za-z0-9._-] → ``_``."""
    stem = (common_name or "").strip().replace("*", "wildcard")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")
    return stem[:100] or "certificate"


def _parsed(cert: Certificate) -> tuple[x509.Certificate, list[x509.Certificate]]:
    leaf = load_certificate_pem(cert.certificate_pem.encode())
    chain = x509.load_pem_x509_certificates(cert.chain_pem.encode()) \
        if cert.chain_pem.strip() else []
    return leaf, chain


def build_public_download(cert: Certificate, fmt: str) -> Download:
    """Raises NotFound for an unknown format (or a chain when there is none) and Conflict
    when the stored chain does not link up."""
    if fmt not in PUBLIC_FORMATS:
        raise NotFound(f"Unknown download format '{fmt}'.", code="certificate.format")
    stem = safe_filename(cert.common_name)
    try:
        leaf, chain = _parsed(cert)
        if fmt == "pem":
            return Download(cert.certificate_pem.encode(), "application/x-pem-file",
                            f"{stem}.pem")
        if fmt == "der":
            return Download(certificate_to_der(leaf), "application/pkix-cert", f"{stem}.cer")
        if fmt == "chain":
            body = chain_pem(leaf, chain)
            if not body:
                raise NotFound("This certificate was issued directly by a root, so there is "
                               "no intermediate chain to download.", code="certificate.no_chain")
            return Download(body, "application/x-pem-file", f"{stem}-chain.pem")
        if fmt == "fullchain":
            return Download(fullchain_pem(leaf, chain), "application/x-pem-file",
                            f"{stem}-fullchain.pem")
        return Download(pkcs7_bundle(leaf, chain), "application/x-pkcs7-certificates",
                        f"{stem}.p7b")
    except (PkiError, ValueError) as exc:
        raise Conflict(f"This certificate's stored chain cannot be bundled: {exc}",
                       code="certificate.bad_chain") from exc


def public_download(cert: Certificate, fmt: str, *, actor: User) -> Download:
    """Build the file and audit the download (committed)."""
    download = build_public_download(cert, fmt)
    audit.record("certificate.download", resource_type="certificate", resource_id=cert.id,
                 actor=actor, details={"format": fmt, "common_name": cert.common_name})
    db.session.commit()
    return download

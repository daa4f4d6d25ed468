"""Local PKI use cases on the web side: validate, record, enqueue, and hand out results.
Nothing here touches a private key; the worker does (``services/ca_generation.py``, run by
the jobs in ``app/jobs/pki.py``)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, fields

from sqlalchemy import func, select, update

from app.domain.choices import EXTENDED_KEY_USAGES
from app.domain.labels import ALGORITHM_LABELS
from app.extensions import db
from app.jobs.enqueue import enqueue
from app.models import Certificate, CertificateAuthority, Domain, KeyExport, User
from app.models.base import utcnow
from app.models.domains import DOMAIN_KIND_NETWORK
from app.models.pki import CA_ACTIVE, CA_KIND_INTERMEDIATE, CA_KIND_ROOT, CA_PENDING
from app.pki.algorithms import (
    ALGORITHMS,
    DEFAULT_CA_ALGORITHM,
    DEFAULT_CA_DIGEST,
    DEFAULT_DIGEST,
    DIGESTS,
)
from app.pki.errors import InvalidSubject
from app.pki.export import MIN_PASSPHRASE_LENGTH
from app.pki.subject import SubjectFields
from app.services import audit, sealed
from app.services.errors import Conflict, NotFound, QueueUnavailable, ValidationFailed
from app.services.lookup import by_uuid
from app.standards.tls_profile import required_digest_for_algorithm

MIN_CA_VALIDITY_DAYS = 1
MAX_CA_VALIDITY_DAYS = 9125  # 25 years
DEFAULT_ROOT_VALIDITY_DAYS = 3650
DEFAULT_INTERMEDIATE_VALIDITY_DAYS = 1825
DEFAULT_INTERMEDIATE_EKU = ("serverAuth", "clientAuth")


@dataclass(frozen=True)
class CAParameters:
    common_name: str
    organization: str | None = None
    organizational_unit: str | None = None
    country: str | None = None
    state: str | None = None
    locality: str | None = None
    algorithm: str = DEFAULT_CA_ALGORITHM
    # None: the algorithm's own (an ECDSA key's curve hash; SHA-384 for RSA).
    digest: str | None = None
    validity_days: int = DEFAULT_ROOT_VALIDITY_DAYS
    # Intermediates only: the EKUs their leaves may have, and the permitted DNS subtrees
    # (registered domains; empty: unconstrained).
    extended_key_usage: tuple[str, ...] = DEFAULT_INTERMEDIATE_EKU
    permitted_dns: tuple[str, ...] = ()

    def resolved_digest(self, signer_algorithm: str | None = None) -> str | None:
        """The digest the CA's certificate is signed with: chosen, else the signing key's
        curve hash (the CA's own key for a root, the parent's for an intermediate)."""
        return self.digest or required_digest_for_algorithm(
            signer_algorithm or self.algorithm) or DEFAULT_CA_DIGEST


def validate_parameters(params: CAParameters, signer_algorithm: str | None = None
                        ) -> SubjectFields:
    """Check everything about a CA request that needs no key; raise ValidationFailed."""
    cn = (params.common_name or "").strip()
    if not 3 <= len(cn) <= 64:
        raise ValidationFailed("Common name must be 3 to 64 characters.",
                               code="ca.common_name_length", field="common_name")
    if params.algorithm not in ALGORITHMS:
        raise ValidationFailed(f"Unknown algorithm '{params.algorithm}'. Choose one of: "
                               f"{', '.join(ALGORITHMS)}.", code="ca.algorithm", field="algorithm")
    signer = signer_algorithm or params.algorithm
    digest = params.resolved_digest(signer)
    if digest not in DIGESTS:
        raise ValidationFailed(f"Unknown digest '{params.digest}'. Choose one of: "
                               f"{', '.join(DIGESTS)}.", code="ca.digest", field="digest")
    # The certificate is signed by the root's key (a root's own; an intermediate's parent).
    required = required_digest_for_algorithm(signer)
    if required is not None and digest != required:
        raise ValidationFailed(
            f"{'The root' if signer_algorithm else 'A root'} of {ALGORITHM_LABELS[signer]} "
            f"signs with "
            f"{required.upper().replace('SHA', 'SHA-')} (CA/B Forum BR 7.1.3.2.2); choose "
            "that digest, or an RSA key for a free choice.",
            code="ca.digest_curve", field="digest")
    if not isinstance(params.validity_days, int) or not (
            MIN_CA_VALIDITY_DAYS <= params.validity_days <= MAX_CA_VALIDITY_DAYS):
        raise ValidationFailed(
            f"Validity must be {MIN_CA_VALIDITY_DAYS} to {MAX_CA_VALIDITY_DAYS} days.",
            code="ca.validity", field="validity_days")
    try:
        subject = SubjectFields(common_name=cn, organization=params.organization,
                                organizational_unit=params.organizational_unit,
                                country=params.country, state=params.state,
                                locality=params.locality)
    except InvalidSubject as exc:
        raise ValidationFailed(str(exc), code="ca.subject", field=exc.field) from exc
    taken = db.session.scalar(select(CertificateAuthority.id).where(
        func.lower(CertificateAuthority.common_name) == cn.lower()))
    if taken is not None:
        raise Conflict(f"A CA named '{cn}' already exists; CA names must be unique.",
                       code="ca.duplicate", field="common_name")
    for name, label in (("organization", "An organisation (O)"),
                        ("country", "A country (C)")):
        if not (getattr(params, name) or "").strip():
            raise ValidationFailed(f"{label} is required for a CA (CA/B Forum BR 7.1.2.10.2).",
                                   code="ca.subject_required", field=name)
    if (params.organizational_unit or "").strip():
        raise ValidationFailed("New CAs have no organisational unit (OU): the CA/B Forum "
                               "forbids it.", code="ca.ou_not_allowed",
                               field="organizational_unit")
    return subject


def constrainable_domains() -> list[str]:
    """The DNS names an intermediate's name constraints may permit: the registered,
    enabled DNS domains (A-labels), sorted."""
    return sorted(db.session.scalars(select(Domain.name).where(
        Domain.enabled.is_(True), Domain.kind != DOMAIN_KIND_NETWORK)))


def _check_intermediate_profile(params: CAParameters) -> tuple[list[str], list[str]]:
    eku = list(dict.fromkeys(params.extended_key_usage))
    unknown = [u for u in eku if u not in EXTENDED_KEY_USAGES]
    if not eku or unknown:
        raise ValidationFailed(
            f"Choose the extended key usages the intermediate may certify from "
            f"{', '.join(EXTENDED_KEY_USAGES)}.", code="ca.extended_key_usage",
            field="extended_key_usage")
    permitted = list(dict.fromkeys(d.strip().lower() for d in params.permitted_dns
                                   if d.strip()))
    registered = set(constrainable_domains())
    outside = [d for d in permitted if d not in registered]
    if outside:
        raise ValidationFailed(
            f"Name constraints can only permit registered, enabled domains; "
            f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} not.",
            code="ca.name_constraints", field="permitted_dns")
    return eku, permitted


def request_root(params: CAParameters, *, actor: User | None = None) -> CertificateAuthority:
    return _record_and_enqueue(params, CA_KIND_ROOT, None, actor)


def request_intermediate(params: CAParameters, root_id: uuid.UUID | str, *,
                         actor: User | None = None) -> CertificateAuthority:
    root = get_ca(root_id)
    if root is None or not root.is_root:
        raise ValidationFailed("Choose an existing root CA.", code="ca.parent_unknown",
                               field="parent_id")
    if not root.can_sign:
        raise ValidationFailed(
            f"Root '{root.common_name}' is {root.display_status} and cannot sign intermediates.",
            code="ca.parent_unusable", field="parent_id")
    return _record_and_enqueue(params, CA_KIND_INTERMEDIATE, root, actor)


def _record_and_enqueue(params: CAParameters, kind: str, parent: CertificateAuthority | None,
                        actor: User | None) -> CertificateAuthority:
    signer = parent.algorithm if parent is not None else None
    subject = validate_parameters(params, signer)
    eku, permitted = (_check_intermediate_profile(params) if parent is not None
                      else (None, None))
    ca = CertificateAuthority(
        kind=kind, parent=parent, algorithm=params.algorithm,
        digest=params.resolved_digest(signer),
        validity_days=params.validity_days, path_length=0 if parent else None,
        extended_key_usage=eku, permitted_dns=permitted,
        created_by_id=actor.id if actor else None,
        **{f.name: getattr(subject, f.name) for f in fields(SubjectFields)})
    db.session.add(ca)
    db.session.flush()
    audit.record(f"ca.{kind}.request", resource_type="ca", resource_id=ca.id, actor=actor,
                 details={"common_name": ca.common_name, "algorithm": ca.algorithm,
                          "digest": ca.digest, "validity_days": ca.validity_days,
                          "parent": parent.common_name if parent else None})
    db.session.commit()
    if not enqueue_generation(ca):
        raise QueueUnavailable(
            f"'{ca.common_name}' was recorded, but the job queue cannot be reached; it will be "
            "generated when a worker can reach the queue (or run: flask pki requeue).",
            resource_id=str(ca.id))
    return ca


def enqueue_generation(ca: CertificateAuthority) -> bool:
    return enqueue("generate_ca", f"ca-{ca.id}-generate", str(ca.id),
                   description=f"generate {ca.kind} CA {ca.id}")


def requeue_pending() -> int:
    """Hand every CA still ``pending`` to the workers again (after Redis was unreachable at
    request time, or a worker died mid-job). Duplicate enqueues are ignored by job id."""
    pending = db.session.scalars(select(CertificateAuthority).where(
        CertificateAuthority.status == CA_PENDING))
    return sum(1 for ca in pending if enqueue_generation(ca))


def get_ca(ca_id: uuid.UUID | str) -> CertificateAuthority | None:
    return by_uuid(CertificateAuthority, ca_id)


def find_ca(key: str) -> CertificateAuthority | None:
    """By id, or by common name (case-insensitive), for the CLI."""
    return get_ca(key) or db.session.scalar(select(CertificateAuthority).where(
        func.lower(CertificateAuthority.common_name) == key.strip().lower()))


def list_cas(kind: str) -> list[CertificateAuthority]:
    return list(db.session.scalars(select(CertificateAuthority)
                                   .where(CertificateAuthority.kind == kind)
                                   .order_by(CertificateAuthority.created_at.desc())))


def signing_roots() -> list[CertificateAuthority]:
    return [ca for ca in list_cas(CA_KIND_ROOT) if ca.can_sign]


def usage_count(ca: CertificateAuthority) -> int:
    """What this CA has signed: active intermediates for a root, certificates in the
    inventory for an intermediate."""
    return usage_counts([ca]).get(ca.id, 0)


def usage_counts(cas: list[CertificateAuthority]) -> dict[uuid.UUID, int]:
    """``usage_count`` for many CAs in two grouped queries (the Local PKI list)."""
    roots = [ca.id for ca in cas if ca.is_root]
    intermediates = [ca.id for ca in cas if not ca.is_root]
    counts: dict[uuid.UUID, int] = dict.fromkeys(roots + intermediates, 0)
    queries = []
    if roots:
        queries.append(
            select(CertificateAuthority.parent_id, func.count(CertificateAuthority.id))
            .where(CertificateAuthority.parent_id.in_(roots),
                   CertificateAuthority.status == CA_ACTIVE)
            .group_by(CertificateAuthority.parent_id))
    if intermediates:
        queries.append(
            select(Certificate.issuer_ca_id, func.count(Certificate.id))
            .where(Certificate.issuer_ca_id.in_(intermediates))
            .group_by(Certificate.issuer_ca_id))
    for query in queries:
        for ca_id, n in db.session.execute(query):
            counts[ca_id] = n
    return counts


def count_signing_cas() -> int:
    """CAs that can sign now: active, not expired, key still on the platform (an exported,
    offline root is not counted)."""
    return db.session.scalar(select(func.count(CertificateAuthority.id)).where(
        CertificateAuthority.status == CA_ACTIVE,
        CertificateAuthority.encrypted_private_key.is_not(None),
        CertificateAuthority.not_after > utcnow())) or 0


def chain_pem(ca: CertificateAuthority) -> str:
    """This CA's certificate followed by its issuers' up to the root."""
    parts, node = [], ca
    while node is not None and node.certificate_pem:
        parts.append(node.certificate_pem)
        node = node.parent
    return "".join(parts)


def request_key_export(ca: CertificateAuthority, passphrase: str, *, remove_key: bool,
                       actor: User) -> KeyExport:
    if not ca.is_root:
        raise ValidationFailed("Only root CA keys can be exported.", code="ca.export_not_root")
    if not ca.has_key or ca.status != CA_ACTIVE:
        raise ValidationFailed("This CA has no private key on the platform to export.",
                               code="ca.no_key")
    if len(passphrase or "") < MIN_PASSPHRASE_LENGTH:
        raise ValidationFailed(
            f"Passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters.",
            code="export.passphrase_short", field="passphrase")
    export = KeyExport(ca=ca, requested_by_id=actor.id, remove_key=remove_key)
    db.session.add(export)
    db.session.flush()
    audit.record("ca.key_export.request", resource_type="ca", resource_id=ca.id, actor=actor,
                 details={"common_name": ca.common_name, "remove_key": remove_key,
                          "export_id": str(export.id)})
    db.session.commit()
    if not enqueue("export_ca_key", f"keyexport-{export.id}", str(export.id),
                   sealed.seal(passphrase), description=f"export key of CA {ca.id}"):
        raise QueueUnavailable("The export was recorded, but the job queue cannot be reached "
                               "right now; request the export again in a moment.",
                               resource_id=str(export.id))
    return export


def get_key_export(export_id: str, actor: User) -> KeyExport:
    export = by_uuid(KeyExport, export_id)
    if export is None or export.requested_by_id != actor.id:
        raise NotFound("No such key export.", code="export.not_found")
    return export


def take_key_export(export: KeyExport, *, actor: User) -> bytes:
    """Hand out the prepared export once; with ``remove_key`` the CA key is deleted now, when
    the operator holds the only copy, never earlier."""
    unavailable = Conflict("This export is not available (already downloaded, failed or not "
                           "ready).", code="export.unavailable")
    if export.status != "ready" or not export.encrypted_pem:
        raise unavailable
    data = export.encrypted_pem.encode()
    # Conditional: of two simultaneous downloads only one gets the file.
    taken = db.session.execute(update(KeyExport).where(
        KeyExport.id == export.id, KeyExport.status == "ready"
    ).values(status="downloaded", encrypted_pem=None, downloaded_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        db.session.rollback()
        raise unavailable
    ca = export.ca
    audit.record("ca.key_export", resource_type="ca", resource_id=ca.id, actor=actor,
                 details={"common_name": ca.common_name, "export_id": str(export.id)})
    if export.remove_key:
        ca.encrypted_private_key = None
        ca.key_removed_at = utcnow()
        audit.record("ca.key_remove", resource_type="ca", resource_id=ca.id, actor=actor,
                     details={"common_name": ca.common_name})
    db.session.commit()
    return data


def get_ca_or_404(ca_id: object) -> CertificateAuthority:
    ca = by_uuid(CertificateAuthority, ca_id)
    if ca is None:
        raise NotFound("No such CA.", code="ca.not_found")
    return ca


__all__ = ["ALGORITHMS", "DEFAULT_CA_ALGORITHM", "DEFAULT_CA_DIGEST", "DEFAULT_DIGEST", "DIGESTS"]

"""Every channel's input becomes one CertificateRequest and passes the same checks.

``assess`` is the single gate: domain scopes (active domains, then the requester's own
scope), request values, and policy evaluation. The wizard calls it on each step, the
policy test page for a hypothetical request, and ``submit_order`` again as the real gate."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.domain.policy import Evaluation, PolicyIndex, Violation, apply_enforced, evaluate
from app.domain.policy_types import Judged
from app.domain.request import CertificateRequest, PublicKeyFacts
from app.domain.validation import NameScope, check_names, check_request_values, parse_names
from app.extensions import db
from app.models import Domain
from app.models.domains import DOMAIN_KIND_NETWORK
from app.pki.csr import MAX_CSR_BYTES, ParsedCSR, parse_csr
from app.pki.errors import CSRTooLarge, InvalidCSR, UnsupportedKey, WeakCSRSignature, WeakKey
from app.pki.key_quality import BadKey
from app.services.issuers import (
    PRELOADED_CHOICES,
    PRELOADED_LOCAL_PKI,
    check_provider,
    fit_to_provider,
    issuer_choices,
    local_pki_id,
)
from app.services.policies import policy_index
from app.services.requesters import Requester

SUBJECT_FIELDS = ("organization", "organizational_unit", "country", "state", "locality")


@dataclass(frozen=True)
class Assessment(Judged):
    request: CertificateRequest          # with enforced values filled in
    evaluation: Evaluation
    violations: tuple[Violation, ...] = field(default=())


def _covering_candidates(request: CertificateRequest) -> set[str]:
    """Every entry name that could cover a name of ``request``: each label-boundary suffix
    of each DNS name's base (``*.`` removed) and of each e-mail domain. An entry covers a
    name exactly when it equals one of these (see ``app.domain.names.name_is_covered``)."""
    candidates: set[str] = set()
    bases = [n.removeprefix("*.") for n in request.all_dns_names()]
    bases += [e.rpartition("@")[2].removeprefix("*.") for e in request.emails]
    for base in bases:
        suffix = base
        while suffix:
            candidates.add(suffix)
            suffix = suffix.partition(".")[2]
    return candidates


_IN_CHUNK = 500  # bound parameters per IN (...) query, well below every backend's limit


def active_scope(request: CertificateRequest | None = None) -> NameScope:
    """The enabled domains and IP networks, as a scope every requested name must be under.

    With ``request`` only the entries that can matter for it are loaded: the domains named
    by a label-boundary suffix of one of its names (an indexed ``IN`` lookup instead of
    every registered domain), and the networks only when it asks for IP addresses.
    ``check_names`` gives the same result for ``request`` as with the full scope. Inside
    :func:`batch_preloaded` a request the preload covers is answered from its rows."""
    if request is None:
        rows = list(db.session.execute(
            select(Domain.name, Domain.kind).where(Domain.enabled.is_(True))))
    else:
        candidates = _covering_candidates(request)
        preloaded = _preloaded()
        if preloaded is not None and preloaded.covers(candidates, bool(request.ip_addresses)):
            rows = preloaded.rows_for(candidates, bool(request.ip_addresses))
        else:
            rows = _scope_rows(candidates, bool(request.ip_addresses))
    domains, networks = [], []
    for name, kind in rows:
        (networks if kind == DOMAIN_KIND_NETWORK else domains).append(name)
    return NameScope(label="active domains", domains=tuple(domains), networks=tuple(networks),
                     code="name.not_registered")


def _scope_rows(candidates: set[str], with_networks: bool) -> list[tuple[str, str]]:
    """Enabled domains named in ``candidates``, and every enabled network if asked."""
    query = select(Domain.name, Domain.kind).where(Domain.enabled.is_(True))
    rows: list[tuple[str, str]] = []
    ordered = sorted(candidates)
    for start in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[start:start + _IN_CHUNK]
        rows += db.session.execute(query.where(Domain.name.in_(chunk),
                                               Domain.kind != DOMAIN_KIND_NETWORK))
    if with_networks:
        rows += db.session.execute(query.where(Domain.kind == DOMAIN_KIND_NETWORK))
    return rows


_PRELOADED = "intake_batch_preloaded"


@dataclass(frozen=True)
class _Preloaded:
    """What a batch reads once for all of its requests."""
    index: PolicyIndex
    candidates: frozenset[str]
    with_networks: bool
    rows: tuple[tuple[str, str], ...]

    def covers(self, candidates: set[str], with_networks: bool) -> bool:
        return candidates <= self.candidates and (self.with_networks or not with_networks)

    def rows_for(self, candidates: set[str], with_networks: bool) -> list[tuple[str, str]]:
        """What ``_scope_rows(candidates, with_networks)`` would read."""
        return [(name, kind) for name, kind in self.rows
                if (with_networks if kind == DOMAIN_KIND_NETWORK else name in candidates)]


def _preloaded() -> _Preloaded | None:
    return db.session.info.get(_PRELOADED)  # type: ignore[no-any-return]


def _policy_index() -> PolicyIndex:
    preloaded = _preloaded()
    return preloaded.index if preloaded is not None else policy_index()


@contextmanager
def batch_preloaded(requests: Iterable[CertificateRequest]) -> Iterator[None]:
    """For a batch: what its requests share, read once — the policy index (one version
    check instead of one per assessment), and the active-domain rows any of ``requests``
    can need (one query over the union of their candidates). Inside the block
    :func:`assess` and :func:`active_scope` use them; a request whose names fall outside
    the union (e.g. enforced by a policy) is looked up as usual. The Local PKI's issuer
    choices and the Local PKI's id are read once too (``issuers.issuer_choices``,
    ``issuers.local_pki_id``). Nested inside a preload that covers ``requests`` (a
    channel's batch, then ``orders.submit_orders``), nothing is read again."""
    requests = list(requests)
    candidates: set[str] = set()
    for request in requests:
        candidates |= _covering_candidates(request)
    with_networks = any(r.ip_addresses for r in requests)
    saved = _preloaded()
    if saved is not None and saved.covers(candidates, with_networks):
        yield        # inside a preload that already holds what these requests need
        return
    preload = _Preloaded(policy_index(), frozenset(candidates), with_networks,
                         tuple(tuple(row) for row in _scope_rows(candidates, with_networks)))
    outermost = PRELOADED_CHOICES not in db.session.info
    if outermost:
        db.session.info[PRELOADED_CHOICES] = tuple(issuer_choices())
        db.session.info[PRELOADED_LOCAL_PKI] = local_pki_id()
    db.session.info[_PRELOADED] = preload
    try:
        yield
    finally:
        if saved is None:
            db.session.info.pop(_PRELOADED, None)
        else:
            db.session.info[_PRELOADED] = saved
        if outermost:
            db.session.info.pop(PRELOADED_CHOICES, None)
            db.session.info.pop(PRELOADED_LOCAL_PKI, None)


def scopes_for(requester: Requester, request: CertificateRequest | None = None
               ) -> list[NameScope]:
    scopes = [active_scope(request)]
    if requester.scope_domains is not None:
        scopes.append(NameScope(label=requester.scope_label, domains=requester.scope_domains,
                                networks=requester.scope_networks or (),
                                code=requester.scope_code,
                                empty_hint=requester.scope_empty_hint))
    return scopes


def assess(request: CertificateRequest, requester: Requester,
           parse_violations: Sequence[Violation] = ()) -> Assessment:
    """Run every rule over ``request``. Fields left empty are not judged (the wizard fills
    them step by step); enforced policy values fill empty fields in the returned request.
    Fields the chosen provider decides itself (an ACME CA's subject, validity, usages) are
    dropped first: they are neither sent nor judged."""
    request = fit_to_provider(request)
    evaluation = evaluate(request, _policy_index().applicable(request))
    enforced = fit_to_provider(apply_enforced(request, evaluation))
    violations = [*parse_violations]
    if request.common_name or request.dns_names or request.ip_addresses:
        violations += check_names(enforced, scopes_for(requester, enforced))
    violations += check_request_values(enforced)
    violations += check_provider(enforced)
    violations += evaluation.violations
    return Assessment(request=enforced, evaluation=evaluation, violations=tuple(violations))


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _validity(raw: Any) -> tuple[int | None, list[Violation]]:
    if raw in (None, ""):
        return None, []
    try:
        return int(str(raw).strip()), []
    except ValueError:
        return None, [Violation(code="validity.invalid", field="validity_days",
                                message=f"Validity must be a whole number of days, not "
                                        f"'{str(raw)[:20]}'.")]


def request_from_values(values: Mapping[str, Any], *, action: str = "certificate.generate"
                        ) -> tuple[CertificateRequest, list[Violation]]:
    """Raw field values (wizard draft, policy test form) → request + input problems."""
    cn, dns, ips, emails, violations = parse_names(values.get("common_name") or "",
                                                   values.get("sans") or [])
    validity, problems = _validity(values.get("validity_days"))
    violations += problems
    subject = {name: _text(values.get(name)) for name in SUBJECT_FIELDS}
    if subject["country"]:
        subject["country"] = subject["country"].upper()
    request = CertificateRequest(
        common_name=cn, dns_names=dns, ip_addresses=ips, emails=emails, **subject,
        algorithm=_text(values.get("algorithm")), digest=_text(values.get("digest")),
        validity_days=validity,
        key_usage=tuple(values.get("key_usage") or ()),
        extended_key_usage=tuple(values.get("extended_key_usage") or ()),
        provider_id=_text(values.get("provider_id")),
        issuer_id=_text(values.get("issuer_id")), action=action)
    return request, violations


# ---- CSR channels (upload page, courier API) ------------------------------------------------

def parse_csr_input(data: bytes | str) -> tuple[ParsedCSR | None, list[Violation]]:
    """Parse CSR bytes (``app.pki.csr`` is the only parser) into facts or a violation
    with a stable code: csr.too_large, csr.weak_signature (SHA-1/MD5), csr.invalid,
    csr.bad_key (a key that can be broken: app/pki/key_quality.py), csr.weak_key,
    csr.unsupported_key."""
    try:
        return parse_csr(data), []
    except CSRTooLarge as exc:
        code = "csr.too_large"
        message = str(exc)
    except WeakCSRSignature as exc:
        code, message = "csr.weak_signature", str(exc)
    except InvalidCSR as exc:
        code, message = "csr.invalid", str(exc)
    except BadKey as exc:
        code, message = "csr.bad_key", str(exc)
    except WeakKey as exc:
        code, message = "csr.weak_key", str(exc)
    except UnsupportedKey as exc:
        code, message = "csr.unsupported_key", str(exc)
    return None, [Violation(code=code, message=message, field="csr")]


def request_from_csr(parsed: ParsedCSR, values: Mapping[str, Any], *,
                     action: str = "certificate.generate") -> tuple[CertificateRequest,
                                                                    list[Violation]]:
    """Names, subject and key facts from the CSR; the certificate options (digest,
    validity, usages, issuer) from ``values``. A CSR asking to be a CA is refused."""
    request, violations = request_from_values(
        {**{k: parsed.subject.get(k) for k in SUBJECT_FIELDS},
         "common_name": parsed.subject.get("common_name", ""),
         "sans": [*parsed.dns_names, *parsed.ip_addresses, *parsed.emails],
         **{k: values.get(k) for k in ("digest", "validity_days", "key_usage",
                                       "extended_key_usage", "provider_id", "issuer_id")}},
        action=action)
    request = request.replace(csr_key=PublicKeyFacts(family=parsed.key_family,
                                                     bits=parsed.key_bits, curve=parsed.curve),
                              requests_ca=parsed.requests_ca)
    if parsed.requests_ca:
        violations.append(Violation(
            code="csr.ca_requested", field="csr",
            message="The CSR asks for a CA certificate (basicConstraints CA:TRUE); only "
                    "end-entity certificates are issued."))
    return request, violations


def prefer_enforced_subject(request: CertificateRequest) -> CertificateRequest:
    """For a CSR the subject is only a wish: policy-enforced subject values replace it
    (rather than violating), as the CSR upload page shows with locked fields."""
    evaluation = evaluate(request, _policy_index().applicable(request))
    return request.replace(**{f: e.value for f, e in evaluation.enforced.items()
                              if f in SUBJECT_FIELDS})


__all__ = ["MAX_CSR_BYTES", "ParsedCSR"]   # for the CSR upload page, which reads them here

"""Checks on a request that are not policy: name parsing, name scopes, value ranges.

Every check returns :class:`~app.domain.policy.Violation` objects (never
raises for bad input), so the wizard, CSR upload, courier API and ACME all
report problems the same way.  Violations from this module have
``policy=None`` and are always hard.

Codes: ``name.invalid``, ``name.missing``, ``name.not_registered``,
``name.not_assigned``, ``name.outside_scope`` (or any code a
:class:`NameScope` carries), ``sans.too_many``, ``algorithm.unknown``,
``digest.unknown``, ``validity.out_of_range``, ``key_usage.unknown``,
``key_usage.ec_encipherment``, ``key_usage.rsa_agreement``,
``extended_key_usage.time_stamping_exclusive``, ``csr.weak_key``, the TLS profile's
``tls.extended_key_usage``, ``tls.email_san``, ``tls.digital_signature``,
``tls.key_usage`` (hard) and ``tls.p521_key`` (soft),
``csr.unsupported_key``, and the subject codes of :mod:`app.domain.subject_values`.

:func:`check_request_values` is the one request-values check: every channel runs it
(through ``services.intake.assess``) before an order exists, and the worker's re-check
runs it again, so what ``app.pki`` would refuse at signing is refused at intake.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.domain.choices import (
    ALGORITHMS,
    DIGESTS,
    EC_CURVES,
    EC_FORBIDDEN_KEY_USAGES,
    EXTENDED_KEY_USAGES,
    KEY_USAGES,
    MAX_SAN_ENTRIES,
    MAX_VALIDITY_DAYS,
    MIN_VALIDITY_DAYS,
)
from app.domain.errors import InvalidName
from app.domain.names import (
    MAX_NAME_LENGTH,
    name_is_covered,
    normalize_domain,
    normalize_requested_name,
    parse_ip,
    uncovered_names,
)
from app.domain.policy import Violation
from app.domain.request import CertificateRequest
from app.domain.subject_values import check_subject_values
from app.standards.tls_profile import server_auth_problems

__all__ = [
    "MAX_RSA_BITS",
    "MIN_RSA_BITS",
    "NameScope",
    "check_names",
    "check_request_values",
    "parse_names",
]

MIN_RSA_BITS = 2048
# Above this, signing and verification get slow enough to be a denial-of-service
# lever, and no CA we talk to accepts such keys.
MAX_RSA_BITS = 16384
_SHOWN = 10

# RFC 5321 dot-atom for the local part; quoted local parts and SMTPUTF8
# mailboxes are refused -- rare in certificates, and not worth the ambiguity.
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_MAX_LOCAL_PART = 64


@dataclass(frozen=True)
class NameScope:
    """A set of domains/networks every requested name must fall under.

    ``code`` is the violation code when names fall outside (``name.not_registered``,
    ``name.not_assigned``, ``name.outside_scope``); ``label`` words the message
    ("your assigned domains", "the courier's allowed domains").
    """

    label: str
    domains: tuple[str, ...]
    networks: tuple[str, ...]
    code: str
    # Added to the message when the scope is empty (e.g. a user with no assignments).
    empty_hint: str | None = None


def _join(items: Sequence[str]) -> str:
    shown = list(items[:_SHOWN])
    if len(items) > _SHOWN:
        shown.append(f"{len(items) - _SHOWN} more")
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _violation(code: str, message: str, field: str | None, **extra: str | None) -> Violation:
    return Violation(code=code, message=message, field=field, **extra)


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------


def _normalize_email(raw: str) -> str:
    """``local@domain`` with the domain normalised; raises ``ValueError`` with a reason."""
    local, _, domain = raw.rpartition("@")
    if not local or "@" in local:
        raise ValueError("an e-mail address needs exactly one '@' with text before it")
    if len(local) > _MAX_LOCAL_PART or not _LOCAL_PART.fullmatch(local):
        raise ValueError(f"the part before '@' must be at most {_MAX_LOCAL_PART} letters, "
                         "digits or . ! # $ % & ' * + / = ? ^ _ ` { | } ~ -, without a "
                         "leading, trailing or double dot")
    try:
        return f"{local}@{normalize_domain(domain)}"
    except InvalidName as exc:
        raise ValueError(f"its domain is not valid ({exc.message.rstrip('.')})") from None


def _shown(raw: str) -> str:
    return raw if len(raw) <= 80 else raw[:79] + "\u2026"


def parse_names(
    common_name: str, sans: Iterable[str]
) -> tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...], list[Violation]]:
    """Turn user-typed CN and SAN strings into normalised names.

    Returns ``(common_name, dns_names, ip_addresses, emails, violations)``.

    * CN: blank → ``""`` (no violation here; :func:`check_request_values` says
      ``name.missing``).  The CN must be a DNS name: an IP literal or e-mail is
      ``name.invalid`` with a hint to put it in the SANs.  An invalid CN comes
      back as ``""`` -- callers that also run :func:`check_request_values`
      will then see ``name.missing`` too, on the same field.
    * SANs: blank entries are skipped; ``x@y`` is an e-mail (``y`` must be a
      valid domain), an IP literal becomes its canonical text, anything else is
      a DNS name via ``normalize_requested_name``.  Invalid entries are left
      out and reported (``name.invalid``, field ``sans``, one per entry).
      Duplicates and SANs equal to the CN are dropped silently.
    * More than :data:`MAX_SAN_ENTRIES` non-blank SAN entries: one
      ``sans.too_many`` and *no* SANs are returned, so nothing proceeds with a
      silently truncated list, and hostile input is not normalised entry by entry.
    """
    violations: list[Violation] = []
    cn = ""
    raw_cn = (common_name or "").strip()
    if raw_cn:
        hint = "put IP addresses and e-mail addresses in the subject alternative names"
        if "@" in raw_cn or parse_ip(raw_cn) is not None:
            kind = "an e-mail address" if "@" in raw_cn else "an IP address"
            violations.append(_violation(
                "name.invalid", f"The common name must be a DNS name, and '{_shown(raw_cn)}' "
                f"is {kind}; {hint}.", "common_name", actual=_shown(raw_cn)))
        else:
            try:
                cn = normalize_requested_name(raw_cn)
            except InvalidName as exc:
                violations.append(_violation("name.invalid", exc.message, "common_name",
                                             actual=_shown(raw_cn)))

    entries = [s.strip() for s in sans if isinstance(s, str) and s.strip()]
    if len(entries) > MAX_SAN_ENTRIES:
        violations.append(_violation(
            "sans.too_many", f"A request may list at most {MAX_SAN_ENTRIES} subject alternative "
            f"names; you entered {len(entries)}.", "sans",
            expected=f"<= {MAX_SAN_ENTRIES}", actual=str(len(entries))))
        return cn, (), (), (), violations

    dns: list[str] = []
    ips: list[str] = []
    emails: list[str] = []
    for raw in entries:
        try:
            if len(raw) > MAX_NAME_LENGTH:
                raise ValueError(f"it is longer than {MAX_NAME_LENGTH} characters")
            address = parse_ip(raw)
            if address is not None:
                target, value = ips, str(address)
            elif "@" in raw:
                target, value = emails, _normalize_email(raw)
            else:
                target, value = dns, normalize_requested_name(raw)
        except InvalidName as exc:
            violations.append(_violation("name.invalid", exc.message, "sans", actual=_shown(raw)))
            continue
        except ValueError as exc:
            violations.append(_violation(
                "name.invalid", f"'{_shown(raw)}' is not a valid subject alternative name: "
                f"{exc}.", "sans", actual=_shown(raw)))
            continue
        if value not in target and value != cn:
            target.append(value)
    return cn, tuple(dns), tuple(ips), tuple(emails), violations


def _scope_phrase(scope: NameScope, has_dns: bool, has_ip: bool) -> str:
    if scope.code != "name.not_registered":
        return scope.label
    if has_dns and has_ip:
        return "an active registered domain or IP network"
    return "an active registered domain" if has_dns else "an enabled registered IP network"


def check_names(request: CertificateRequest, scopes: Sequence[NameScope]) -> list[Violation]:
    """One violation per scope that some requested name falls outside of.

    Judges every DNS name (CN included, wildcards on their base), every IP SAN
    and the domain of every e-mail SAN, using :func:`app.domain.names.uncovered_names`
    (label-boundary matching; IPv4/IPv6 never mix).  The violation lists every
    offending name; its field is ``common_name`` when the CN is among them,
    else ``sans``.  An empty scope covers nothing (a user without assigned
    domains may request nothing).  Never raises.
    """
    dns = request.all_dns_names()
    result: list[Violation] = []
    for scope in scopes:
        bad = uncovered_names(dns, request.ip_addresses, scope.domains, scope.networks)
        bad += [e for e in request.emails
                if not name_is_covered(e.rpartition("@")[2], scope.domains)]
        if not bad:
            continue
        ips = [n for n in bad if parse_ip(n) is not None]
        phrase = _scope_phrase(scope, has_dns=len(bad) > len(ips), has_ip=bool(ips))
        verb = "is" if len(bad) == 1 else "are"
        message = f"{_join(bad)} {verb} not under {phrase}."
        if not scope.domains and not scope.networks and scope.empty_hint:
            message += " " + scope.empty_hint
        elif not scope.domains and not scope.networks and scope.code == "name.not_assigned":
            message += " You have no assigned domains; ask an administrator to assign some."
        field = "common_name" if request.common_name and request.common_name in bad else "sans"
        result.append(_violation(scope.code, message, field, expected=scope.label,
                                 actual=", ".join(bad)))
    return result


# --------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------


def _csr_key_problem(request: CertificateRequest) -> Violation | None:
    key = request.csr_key
    if key is None:
        return None
    accepted = "only RSA keys of 2048 to 16384 bits and EC keys on P-256, P-384 or P-521"
    if key.family == "rsa":
        if key.bits < MIN_RSA_BITS:
            return _violation("csr.weak_key", f"Your CSR's RSA key has {key.bits} bits; at least "
                              f"{MIN_RSA_BITS} are required.", "csr", actual=f"RSA {key.bits}")
        if key.bits > MAX_RSA_BITS:
            return _violation("csr.unsupported_key", f"Your CSR's RSA key has {key.bits} bits; "
                              f"at most {MAX_RSA_BITS} are supported.", "csr",
                              actual=f"RSA {key.bits}")
        return None
    if key.family == "ecdsa":
        curve = (key.curve or "").lower()
        size = EC_CURVES.get(curve) if curve else key.bits
        if size in (256, 384, 521) and (not curve or size == key.bits):
            return None
        code = "csr.weak_key" if key.bits < 256 else "csr.unsupported_key"
        return _violation(code, f"Your CSR's EC key uses curve {key.curve or key.bits}; "
                          f"{accepted} are accepted.", "csr",
                          actual=f"EC {key.curve or key.bits}")
    return _violation("csr.unsupported_key", f"Your CSR's key type {key.family.upper()} is not "
                      f"supported; {accepted} are accepted.", "csr", actual=key.family)


def check_request_values(request: CertificateRequest) -> list[Violation]:
    """Check that every *set* field holds a value the platform offers.

    Empty fields are not judged, except the CN (``name.missing``).  Checks:
    algorithm in :data:`ALGORITHMS`, digest in :data:`DIGESTS`, validity
    within 1-3650 days, usages known, no enciphering usage on an EC key
    (``key_usage.ec_encipherment``) and no keyAgreement on an RSA key
    (``key_usage.rsa_agreement``), timeStamping alone, SAN count, a CSR key that is
    RSA 2048-16384 bits or EC on P-256/384/521, and the subject attributes within the
    bounds and country list ``app.pki.subject`` enforces.  Never raises.
    """
    found: list[Violation] = []
    if not request.common_name:
        found.append(_violation("name.missing", "A common name is required.", "common_name"))
    sans = len(request.dns_names) + len(request.ip_addresses) + len(request.emails)
    if sans > MAX_SAN_ENTRIES:
        found.append(_violation("sans.too_many", f"A request may list at most {MAX_SAN_ENTRIES}"
                                f" subject alternative names; it lists {sans}.", "sans"))
    if request.algorithm is not None and request.algorithm not in ALGORITHMS:
        found.append(_violation("algorithm.unknown", f"'{request.algorithm}' is not an offered "
                                f"algorithm; choose one of {', '.join(ALGORITHMS)}.", "algorithm"))
    if request.digest is not None and request.digest not in DIGESTS:
        found.append(_violation("digest.unknown", f"'{request.digest}' is not an offered digest; "
                                f"choose one of {', '.join(DIGESTS)}.", "digest"))
    days = request.validity_days
    if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                             or not MIN_VALIDITY_DAYS <= days <= MAX_VALIDITY_DAYS):
        found.append(_violation("validity.out_of_range", f"Validity must be {MIN_VALIDITY_DAYS} "
                                f"to {MAX_VALIDITY_DAYS} days (you chose {days}).",
                                "validity_days", actual=str(days)))
    for field, chosen, known in (("key_usage", request.key_usage, KEY_USAGES),
                                 ("extended_key_usage", request.extended_key_usage,
                                  EXTENDED_KEY_USAGES)):
        unknown = [u for u in chosen if u not in known]
        if unknown:
            found.append(_violation("key_usage.unknown", f"Unknown usage {_join(unknown)}; "
                                    f"choose from {', '.join(known)}.", field))
    enciphering = [u for u in request.key_usage if u in EC_FORBIDDEN_KEY_USAGES]
    if enciphering and request.key_family() == "ecdsa":
        found.append(_violation(
            "key_usage.ec_encipherment", f"An EC key cannot encipher, so it cannot have "
            f"{_join(enciphering)}; use keyAgreement or drop it (or choose an RSA key).",
            "key_usage", actual=", ".join(enciphering)))
    if "keyAgreement" in request.key_usage and request.key_family() == "rsa":
        # RFC 3279 2.3.1: RSA keys encipher (keyEncipherment); agreement is for (EC)DH keys.
        found.append(_violation(
            "key_usage.rsa_agreement", "An RSA key cannot do key agreement, so it cannot "
            "have keyAgreement; use keyEncipherment or drop it (or choose an EC key).",
            "key_usage", actual="keyAgreement"))
    if "timeStamping" in request.extended_key_usage and len(set(request.extended_key_usage)) > 1:
        found.append(_violation(
            "extended_key_usage.time_stamping_exclusive", "A time-stamping certificate has "
            "that one purpose only (RFC 3161); untick the other extended key usages or "
            "timeStamping.", "extended_key_usage",
            actual=", ".join(request.extended_key_usage)))
    found += check_subject_values(request)
    found += check_tls_profile(request)
    problem = _csr_key_problem(request)
    if problem is not None:
        found.append(problem)
    return found


def check_tls_profile(request: CertificateRequest) -> list[Violation]:
    """The TLS server profile for a serverAuth request (``app.standards.tls_profile``, the
    same rule the PKI core applies at signing), and a soft warning for a P-521 key, which
    major browsers do not accept in TLS. Other EKU combinations keep the general rules."""
    found = [_violation(p.code, p.message, p.field) for p in server_auth_problems(
        request.key_usage, request.extended_key_usage, request.emails)]
    if "serverAuth" in request.extended_key_usage and request.key_family() == "ecdsa" \
            and request.key_bits() == 521:
        found.append(Violation(
            code="tls.p521_key", field="algorithm", severity="soft",
            message="Major browsers do not accept P-521 keys in TLS (Chrome, Safari); "
                    "choose P-256 or P-384 for a server that browsers visit."))
    return found


# --------------------------------------------------------------------------
# Completeness (checked when a request becomes an order, not while it is drafted)
# --------------------------------------------------------------------------

def check_complete(request: CertificateRequest) -> list[Violation]:
    """What an order needs beyond a draft: a key (an algorithm, or a CSR's key), a
    digest, a validity, and at least one key usage and extended key usage. The wizard
    fills these step by step, so they are judged only at submission."""
    problems = []
    if request.algorithm is None and request.csr_key is None:
        problems.append(_violation("algorithm.missing", "Choose a key algorithm.",
                                   "algorithm"))
    if request.digest is None:
        problems.append(_violation("digest.missing", "Choose a digest.", "digest"))
    if request.validity_days is None:
        problems.append(_violation("validity.missing", "Enter the validity in days.",
                                   "validity_days"))
    if not request.key_usage:
        problems.append(_violation("key_usage.missing", "Choose at least one key usage.",
                                   "key_usage"))
    if not request.extended_key_usage:
        problems.append(_violation("extended_key_usage.missing",
                                   "Choose at least one extended key usage.",
                                   "extended_key_usage"))
    return problems

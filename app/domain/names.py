"""Domain names, requested certificate names and IP networks.

Admins register *domain entries* (``example.com``) and *IP network entries*
(``192.0.2.0/24``).  A certificate may only name DNS names covered by a
domain entry and IP addresses inside a network entry.

Coverage rules (the security boundary of the platform):

* a domain entry covers its apex and every subdomain, matched on label
  boundaries: ``example.com`` covers ``example.com`` and ``a.b.example.com``
  but never ``badexample.com``;
* a wildcard request ``*.x.example.com`` is judged on its base
  ``x.example.com`` (every name it can match is a subdomain of the base);
* comparison happens on the normalised form: lower case, no trailing dot,
  IDNs in A-label (``xn--``) form.  Normalise with :func:`normalize_domain` /
  :func:`normalize_requested_name` *before* calling the ``*_covered``
  helpers, which are deliberately plain string logic;
* IPv4 and IPv6 never mix; an IPv4-mapped IPv6 address is IPv6.

Only the standard library and ``idna`` are used here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

import idna

from app.domain.errors import InvalidName

__all__ = [
    "MAX_LABEL_LENGTH",
    "MAX_NAME_LENGTH",
    "IPAddress",
    "covering_domain",
    "display_domain",
    "ip_is_covered",
    "name_is_covered",
    "normalize_domain",
    "normalize_network",
    "normalize_requested_name",
    "parse_ip",
    "uncovered_names",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: RFC 1035 limits, measured on the A-label (ASCII) form without trailing dot.
MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63

# Inputs longer than this are refused before any Unicode processing: nothing
# this long can be valid, and it bounds the work done on hostile input.  It is
# well above 253 because UTS-46 mapping may legitimately shrink input (e.g.
# soft hyphens are deleted).
_MAX_RAW_LENGTH = 1024

_LDH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_ALL_DIGITS = re.compile(r"[0-9]+")
_ACE_PREFIX = "xn--"
_WILDCARD_LABEL = "*"

# Kinds of name, used to word messages for the right audience.
_DOMAIN = "domain name"
_REQUESTED = "certificate name"


# --------------------------------------------------------------------------
# Message helpers
# --------------------------------------------------------------------------


def _shown(text: str, limit: int = 80) -> str:
    """Render user input for a message: escape invisibles, cap the length.

    Messages end up in HTML pages and logs; control characters or a 1 KiB
    name would make them unreadable.
    """
    safe = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    if len(safe) > limit:
        safe = safe[: limit - 1] + "\u2026"
    return safe


def _fail(raw: str, shown: str, kind: str, reason: str, code: str) -> InvalidName:
    """Build the standard "'x' is not a valid <kind>: <reason>." error."""
    return InvalidName(raw, f"'{_shown(shown)}' is not a valid {kind}: {reason}.", code)


# --------------------------------------------------------------------------
# Shared DNS-name pipeline
# --------------------------------------------------------------------------


def _prepare(raw: str, kind: str) -> str:
    """Strip, UTS-46 map (lower-cases, maps full-width dots) and drop one trailing dot.

    Returns the mapped text, still possibly containing a wildcard or invalid
    characters.  Raises ``name.empty`` / ``name.too_long`` / ``name.invalid_label``.
    """
    if not isinstance(raw, str):
        raise TypeError(f"expected str, got {type(raw).__name__}")
    text = raw.strip()
    if not text:
        raise InvalidName(raw, f"A {kind} is required.", "name.empty")
    if len(text) > _MAX_RAW_LENGTH:
        raise _fail(
            raw,
            text,
            kind,
            f"it is longer than {MAX_NAME_LENGTH} characters",
            "name.too_long",
        )
    try:
        # std3_rules=False: keep ASCII that STD3 forbids ("_", " ", "*") so
        # that our own checks can name the offending label and the wildcard
        # logic can see "*" (full-width "＊" maps to it, too).  # noqa: RUF003
        # transitional=False: IDNA2008 semantics, "ß" stays "ß".
        mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
    except idna.IDNAError as exc:
        raise _fail(
            raw,
            text,
            kind,
            f"it contains a character that is not allowed in domain names ({exc})",
            "name.invalid_label",
        ) from exc
    mapped = mapped.removesuffix(".")
    if not mapped:
        raise InvalidName(raw, f"A {kind} is required.", "name.empty")
    return mapped


def _label_to_ascii(label: str, raw: str, shown: str, kind: str) -> str:
    """Validate one (mapped) label and return its A-label form."""
    if not label:
        raise _fail(
            raw,
            shown,
            kind,
            "it contains an empty label (a leading dot or two dots in a row)",
            "name.empty_label",
        )
    # ASCII characters are checked here rather than by idna so the message can
    # say exactly what is wrong; non-ASCII characters are left to IDNA below.
    bad_ascii = [c for c in label if c.isascii() and c not in _LDH_CHARS]
    if bad_ascii:
        if "_" in bad_ascii:
            reason = (
                f"label '{_shown(label)}' contains an underscore, which is not "
                "allowed in host names; use only letters, digits and hyphens"
            )
        else:
            reason = (
                f"label '{_shown(label)}' may contain only letters, digits and hyphens"
            )
        raise _fail(raw, shown, kind, reason, "name.invalid_label")
    if label.startswith("-") or label.endswith("-"):
        raise _fail(
            raw,
            shown,
            kind,
            f"label '{_shown(label)}' must not start or end with a hyphen",
            "name.invalid_hyphen",
        )

    if label.isascii():
        alabel = label
        if len(alabel) > MAX_LABEL_LENGTH:
            raise _fail(
                raw,
                shown,
                kind,
                f"label '{_shown(label, 40)}' is {len(alabel)} characters long; "
                f"the maximum is {MAX_LABEL_LENGTH}",
                "name.label_too_long",
            )
        if alabel[2:4] == "--" and not alabel.startswith(_ACE_PREFIX):
            raise _fail(
                raw,
                shown,
                kind,
                f"label '{_shown(label)}' has '--' in the third and fourth positions, "
                "which is reserved for internationalised ('xn--') labels",
                "name.invalid_hyphen",
            )
        if not alabel.startswith(_ACE_PREFIX):
            return alabel
        # An A-label: idna decodes it and re-checks the U-label against
        # IDNA2008, so broken punycode or disallowed code points are refused.
        try:
            idna.alabel(alabel)
        except (idna.IDNAError, UnicodeError) as exc:
            raise _fail(
                raw,
                shown,
                kind,
                f"label '{_shown(label)}' is not a valid internationalised (punycode) label",
                "name.invalid_idn",
            ) from exc
        return alabel

    # U-label: measure the A-label length first so an over-long IDN gets the
    # length message rather than idna's terse "Label too long".
    try:
        predicted = _ACE_PREFIX + label.encode("punycode").decode("ascii")
    except UnicodeError as exc:  # pragma: no cover - punycode encodes any str
        raise _fail(
            raw,
            shown,
            kind,
            f"label '{_shown(label)}' cannot be encoded",
            "name.invalid_idn",
        ) from exc
    if len(predicted) > MAX_LABEL_LENGTH:
        raise _fail(
            raw,
            shown,
            kind,
            f"label '{_shown(label, 40)}' is {len(predicted)} characters long in its "
            f"ASCII (xn--) form; the maximum is {MAX_LABEL_LENGTH}",
            "name.label_too_long",
        )
    try:
        return idna.alabel(label).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise _fail(
            raw,
            shown,
            kind,
            f"label '{_shown(label)}' is not a valid internationalised label ({exc})",
            "name.invalid_idn",
        ) from exc


def _to_ascii_labels(body: str, raw: str, shown: str, kind: str) -> list[str]:
    """Split a mapped, wildcard-free name and convert every label to ASCII.

    ``shown`` is the whole name as it should appear in messages (it differs
    from ``body`` when a leading ``*.`` was split off).
    """
    return [_label_to_ascii(label, raw, shown, kind) for label in body.split(".")]


def _check_length(ascii_name: str, raw: str, shown: str, kind: str) -> None:
    if len(ascii_name) > MAX_NAME_LENGTH:
        raise _fail(
            raw,
            shown,
            kind,
            f"it is {len(ascii_name)} characters long in ASCII form; "
            f"the maximum is {MAX_NAME_LENGTH}",
            "name.too_long",
        )


def _check_tld(
    labels: list[str], raw: str, shown: str, kind: str, ip_hint: str
) -> None:
    # An all-numeric TLD does not exist and would make "10.0.0.1" look like a
    # DNS name; such names must go through the IP-address path instead.
    if _ALL_DIGITS.fullmatch(labels[-1]):
        raise _fail(
            raw,
            shown,
            kind,
            f"its last label '{labels[-1]}' is all digits, which is not a valid "
            f"top-level domain; {ip_hint}",
            "name.numeric_tld",
        )


def _refuse_ip_literal(raw: str, mapped: str, kind: str, ip_hint: str) -> None:
    if parse_ip(mapped) is not None:
        raise InvalidName(
            raw,
            f"'{_shown(mapped)}' is an IP address, not a {kind}: {ip_hint}.",
            "name.ip_address",
        )


_ENTRY_IP_HINT = "to allow an IP address, add it as an IP network instead"
_REQUEST_IP_HINT = "request it as an IP address instead"


# --------------------------------------------------------------------------
# Public API: DNS names
# --------------------------------------------------------------------------


def normalize_domain(raw: str) -> str:
    """Normalise and validate a domain ENTRY registered by an admin.

    Guarantees on success: the result is lower-case ASCII, has no trailing
    dot, IDN labels are in A-label (``xn--``) form, at least two labels, each
    label 1-63 letters/digits/hyphens without leading/trailing hyphen, total
    length <= 253, last label not all digits, no wildcard.  The function is
    idempotent: ``normalize_domain(normalize_domain(x)) == normalize_domain(x)``.

    Processing: surrounding whitespace is stripped, the text is mapped with
    UTS-46 (non-transitional; this lower-cases, maps full-width characters
    and deletes invisible ones such as soft hyphens), one trailing dot is
    dropped, and Unicode labels are converted with IDNA2008.

    Raises:
        InvalidName: with ``code`` one of ``name.empty``, ``name.empty_label``,
            ``name.invalid_label``, ``name.invalid_hyphen``,
            ``name.invalid_idn``, ``name.label_too_long``, ``name.too_long``,
            ``name.single_label``, ``name.numeric_tld``, ``name.ip_address``,
            ``name.wildcard_not_allowed``.
        TypeError: if ``raw`` is not a ``str``.
    """
    mapped = _prepare(raw, _DOMAIN)
    _refuse_ip_literal(raw, mapped, _DOMAIN, _ENTRY_IP_HINT)
    if "*" in mapped:
        raise InvalidName(
            raw, _wildcard_entry_message(mapped), "name.wildcard_not_allowed"
        )
    labels = _to_ascii_labels(mapped, raw, mapped, _DOMAIN)
    if len(labels) < 2:
        raise _fail(
            raw,
            mapped,
            _DOMAIN,
            "it must have at least two labels, like 'example.com'",
            "name.single_label",
        )
    _check_tld(labels, raw, mapped, _DOMAIN, _ENTRY_IP_HINT)
    result = ".".join(labels)
    _check_length(result, raw, mapped, _DOMAIN)
    return result


def _wildcard_entry_message(mapped: str) -> str:
    """Explain why wildcards are pointless in entries, suggesting the base."""
    # Suggest the part after the last label containing "*", when that is a
    # registrable-looking name on its own ("*.example.com" -> "example.com").
    tail: list[str] = []
    for label in reversed(mapped.split(".")):
        if "*" in label:
            break
        tail.append(label)
    suggestion = ".".join(reversed(tail))
    try:
        suggestion = normalize_domain(suggestion) if suggestion else ""
    except InvalidName:
        suggestion = ""
    target = f"'{suggestion}'" if suggestion else "the parent domain"
    return f"Wildcard entries are not allowed: register {target} to cover all its subdomains."


def normalize_requested_name(raw: str) -> str:
    """Normalise and validate a DNS name REQUESTED in a certificate (CN or SAN).

    Same normalisation and guarantees as :func:`normalize_domain`, except
    that one wildcard is allowed as the entire leftmost label
    (``*.example.com``); the result then starts with ``"*."`` followed by a
    normalised base of at least two labels.  The 253-character limit applies
    to the whole name including ``"*."``.  Idempotent.

    Raises:
        InvalidName: with the codes of :func:`normalize_domain` (except
            ``name.wildcard_not_allowed``) plus ``name.wildcard_misplaced``
            (``*`` anywhere but the whole leftmost label, or more than one)
            and ``name.wildcard_too_broad`` (``*`` or ``*.com``: the base has
            fewer than two labels).
        TypeError: if ``raw`` is not a ``str``.
    """
    mapped = _prepare(raw, _REQUESTED)
    _refuse_ip_literal(raw, mapped, _REQUESTED, _REQUEST_IP_HINT)

    prefix = ""
    body = mapped
    if "*" in mapped:
        if mapped == _WILDCARD_LABEL:
            raise _fail(
                raw,
                mapped,
                _REQUESTED,
                "a wildcard needs a domain after it, like '*.example.com'",
                "name.wildcard_too_broad",
            )
        if not mapped.startswith("*.") or mapped.count("*") != 1:
            raise _fail(
                raw,
                mapped,
                _REQUESTED,
                "a wildcard '*' is allowed only once, as the entire leftmost label, "
                "like '*.example.com'",
                "name.wildcard_misplaced",
            )
        prefix, body = "*.", mapped[2:]
        if not body:
            raise _fail(
                raw,
                mapped,
                _REQUESTED,
                "a wildcard needs a domain after it, like '*.example.com'",
                "name.wildcard_too_broad",
            )
        if parse_ip(body) is not None:
            raise _fail(
                raw,
                mapped,
                _REQUESTED,
                "a wildcard cannot cover an IP address; request the IP address "
                "itself instead",
                "name.ip_address",
            )

    labels = _to_ascii_labels(body, raw, mapped, _REQUESTED)
    if len(labels) < 2:
        if prefix:
            raise _fail(
                raw,
                mapped,
                _REQUESTED,
                "a wildcard must be followed by at least two labels, like '*.example.com'",
                "name.wildcard_too_broad",
            )
        raise _fail(
            raw,
            mapped,
            _REQUESTED,
            "it must have at least two labels, like 'www.example.com'",
            "name.single_label",
        )
    _check_tld(labels, raw, mapped, _REQUESTED, _REQUEST_IP_HINT)
    result = prefix + ".".join(labels)
    _check_length(result, raw, mapped, _REQUESTED)
    return result


def display_domain(a_label_name: str) -> str:
    """Return the Unicode (U-label) form of a normalised name, for display.

    A leading ``"*."`` is kept.  Never raises: if the name cannot be decoded
    (not IDNA-valid, or not a string idna accepts) the input is returned
    unchanged.  Note that U-labels can be visually confusable (homographs);
    where it matters, show the A-label form alongside.
    """
    prefix, body = (
        ("*.", a_label_name[2:])
        if a_label_name.startswith("*.")
        else ("", a_label_name)
    )
    try:
        return prefix + idna.decode(body)
    except (idna.IDNAError, UnicodeError, ValueError):
        return a_label_name


# --------------------------------------------------------------------------
# Public API: IP addresses and networks
# --------------------------------------------------------------------------


def normalize_network(raw: str) -> str:
    """Normalise and validate an IP network ENTRY (CIDR) registered by an admin.

    Accepts ``192.0.2.0/24``, ``2001:db8::/32``, a bare address (which becomes
    a ``/32`` or ``/128``) and netmask forms (``10.0.0.0/255.0.0.0``).
    Surrounding whitespace is ignored.  Returns ``str(network)``: the
    compressed, lower-case canonical form, e.g. ``"2001:db8::/32"``.

    Raises:
        InvalidName: ``network.empty`` for blank input;
            ``network.host_bits_set`` when the address has bits set beyond
            the prefix (the message suggests the intended network);
            ``network.invalid`` for anything else, including IPv6 zone
            identifiers (``fe80::%eth0/64``), which have no meaning in a
            certificate.
        TypeError: if ``raw`` is not a ``str``.
    """
    if not isinstance(raw, str):
        raise TypeError(f"expected str, got {type(raw).__name__}")
    text = raw.strip()
    if not text:
        raise InvalidName(
            raw,
            "An IP network is required, like '192.0.2.0/24' or '2001:db8::/32'.",
            "network.empty",
        )
    invalid = InvalidName(
        raw,
        f"'{_shown(text)}' is not a valid IP network: use an address like "
        "'192.0.2.10' or a CIDR range like '192.0.2.0/24'.",
        "network.invalid",
    )
    # Zone ids ("%eth0") are accepted by ipaddress but are host-local.
    if "%" in text or len(text) > _MAX_RAW_LENGTH:
        raise invalid
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise invalid from None
        raise InvalidName(
            raw,
            f"{_shown(text)} has host bits set; did you mean {loose}?",
            "network.host_bits_set",
        ) from None
    return str(network)


#: Every character an IPv4 or IPv6 literal can hold (digits, hex digits, dots, colons).
_IP_LITERAL_CHARS = frozenset("0123456789abcdefABCDEF.:")


def parse_ip(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parse a plain IP address literal, or return ``None`` if it is not one.

    Surrounding whitespace is ignored.  Not accepted (``None``): bracketed
    IPv6 (``[::1]``), zone identifiers (``fe80::1%eth0``), CIDR suffixes,
    IPv4 with leading zeros or fewer than four parts, and non-strings.
    Never raises.
    """
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not _IP_LITERAL_CHARS.issuperset(text):
        return None     # a name, not an address: no exception raised and caught twice
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return None
    return address


def _parse_networks(networks: Iterable[str]) -> list[IPNetwork]:
    # Entries are expected to come from normalize_network(); anything that
    # does not parse strictly is skipped, so bad data can never widen access.
    parsed: list[IPNetwork] = []
    for entry in networks:
        if not isinstance(entry, str) or "%" in entry:
            continue
        try:
            parsed.append(ipaddress.ip_network(entry.strip(), strict=True))
        except ValueError:
            continue
    return parsed


def _in_networks(address: IPAddress, networks: list[IPNetwork]) -> bool:
    # Explicit version check: an IPv4-mapped IPv6 address (::ffff:10.0.0.1)
    # is deliberately NOT unwrapped to IPv4.  It is a distinct SAN value in a
    # certificate and clients compare it as IPv6; treating it as IPv4 would
    # let an IPv4 entry authorise names it was never registered for.
    return any(address.version == net.version and address in net for net in networks)


def ip_is_covered(
    ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Iterable[str]
) -> bool:
    """True when ``ip`` lies inside at least one of ``networks``.

    ``ip`` is an address object or a plain literal (see :func:`parse_ip`);
    ``networks`` are entries as returned by :func:`normalize_network`.
    IPv4 and IPv6 never match each other, and an IPv4-mapped IPv6 address
    (``::ffff:192.0.2.1``) is IPv6, not IPv4 -- strictness: the certificate
    will carry exactly that IPv6 value.  Fails closed: an unparsable ``ip``
    returns ``False`` and unparsable network entries are ignored.  Never raises.
    """
    if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        address: IPAddress | None = ip
    else:
        address = parse_ip(ip)
    if address is None:
        return False
    return _in_networks(address, _parse_networks(networks))


# --------------------------------------------------------------------------
# Public API: coverage of DNS names
# --------------------------------------------------------------------------


def _base(name: str) -> str:
    """The part of a requested name that coverage is judged on."""
    return name.removeprefix("*.")


def _covers(domain: str, base: str) -> bool:
    # Label-boundary match: equal, or a proper subdomain.  The "." makes
    # "badexample.com" fail against "example.com".  Empty entries never match.
    return bool(domain) and (base == domain or base.endswith("." + domain))


def name_is_covered(name: str, domains: Iterable[str]) -> bool:
    """True when a requested name falls under one of the domain entries.

    ``name`` must already be normalised (:func:`normalize_requested_name`)
    and ``domains`` must be normalised entries (:func:`normalize_domain`);
    no case folding or IDN conversion happens here, so un-normalised input
    can only produce false negatives.  For a wildcard ``*.base`` the base is
    judged: ``*.example.com`` is covered by ``example.com`` but not by
    ``x.example.com``.  Never raises.
    """
    base = _base(name)
    return bool(base) and any(_covers(domain, base) for domain in domains)


def covering_domain(name: str, domains: Iterable[str]) -> str | None:
    """Return the most specific entry covering ``name``, or ``None``.

    Same preconditions and matching as :func:`name_is_covered`.  With entries
    ``example.com`` and ``dev.example.com``, ``a.dev.example.com`` maps to
    ``dev.example.com`` (the longest match).  Never raises.
    """
    base = _base(name)
    best: str | None = None
    if not base:
        return None
    for domain in domains:
        if _covers(domain, base) and (best is None or len(domain) > len(best)):
            best = domain
    return best


def uncovered_names(
    dns_names: Iterable[str],
    ip_addresses: Iterable[str],
    domains: Iterable[str],
    networks: Iterable[str],
) -> list[str]:
    """List the requested names and IPs that no entry covers.

    ``dns_names`` are normalised requested names, ``ip_addresses`` IP literals,
    ``domains``/``networks`` normalised entries (any iterables; each is
    consumed once).  Result: DNS names first, then IPs, each in input order,
    without duplicates.  IPs are reported in canonical form
    (``str(ipaddress.ip_address(x))``) and de-duplicated on it; an IP that
    does not parse is reported as given (fail closed).  An empty result means
    everything is covered.

    Call it once with the active domains and once with the user's assigned
    domains to enforce both rules.
    """
    domain_list = list(domains)
    network_list = _parse_networks(networks)

    result: list[str] = []
    seen: set[str] = set()

    def report(value: str) -> None:
        if value not in seen:
            seen.add(value)
            result.append(value)

    for name in dns_names:
        if not name_is_covered(name, domain_list):
            report(name)
    for raw_ip in ip_addresses:
        address = parse_ip(raw_ip)
        if address is None:
            report(raw_ip)
        elif not _in_networks(address, network_list):
            report(str(address))
    return result

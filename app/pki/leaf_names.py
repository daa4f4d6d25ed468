"""The names an end-entity certificate is valid for: subjectAltName and the common name.

Deciding which names are well-formed enough to sign is here; deciding which names a user
may have (domain ownership, public suffixes, internal names) is ``app.domain``'s job.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Final, TypeAlias

from cryptography import x509

from app.pki.errors import InvalidLeafProfile

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

# A host name as it may appear in a common name: LDH labels, optional leading wildcard.
_HOSTNAME_RE: Final[re.Pattern[str]] = re.compile(
    r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
)
_MAX_DNS_NAME_LENGTH: Final[int] = 253


def common_name_as_host(common_name: str, server_auth: bool) -> str | IPAddress | None:
    """Return the CN as a lower-case host name or an IP address if it is one, else None.

    A CN counts as a host when it is an IP, an LDH name with a dot (optionally a ``*.``
    wildcard), or - on a TLS server certificate (``server_auth``) - a bare label such as
    ``intranet``. "Jane Doe" or a bare "alice" on a client certificate do not.
    """
    try:
        return ipaddress.ip_address(common_name)
    except ValueError:
        pass
    lowered = common_name.lower()
    if _HOSTNAME_RE.fullmatch(lowered) and ("." in lowered or server_auth):
        return lowered
    return None


def subject_alt_names(
    common_name: str,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
    emails: Sequence[str],
    server_auth: bool,
) -> list[x509.GeneralName]:
    """Return the SAN entries: DNS names, then IPs, then e-mail addresses, in order.

    The CN is put first among the DNS names (or IPs) when :func:`common_name_as_host`
    says it is a host and it is not already listed (DNS compared case-insensitively),
    because RFC 5280 4.2.1.6 and the BRs expect every name in the SAN and clients
    ignore the CN once a SAN exists. Empty when there is no name at all.

    Raises :class:`InvalidLeafProfile` (``field`` set) for a DNS name that is empty,
    longer than 253 characters, not printable ASCII (U-labels must be converted to
    A-labels first) or contains a space; an IP that does not parse; an e-mail address
    that is not ASCII ``local@domain``.
    """
    for name in dns_names:
        if (
            not name.isascii()
            or not name.isprintable()
            or " " in name
            or not 0 < len(name) <= _MAX_DNS_NAME_LENGTH
        ):
            raise InvalidLeafProfile(
                f"{name!r} is not a DNS name in ASCII (A-label) form.", field="dns_names"
            )
    ips: list[IPAddress] = []
    for text in ip_addresses:
        try:
            ips.append(ipaddress.ip_address(text))
        except ValueError:
            raise InvalidLeafProfile(
                f"{text!r} is not an IP address.", field="ip_addresses"
            ) from None
    for email in emails:
        local, at, domain = email.rpartition("@")
        if not (at and local and domain and email.isascii() and email.isprintable()):
            raise InvalidLeafProfile(
                f"{email!r} is not an ASCII e-mail address.", field="emails"
            )

    hosts = list(dns_names)
    cn = common_name_as_host(common_name, server_auth)
    if isinstance(cn, str):
        if cn not in (n.lower() for n in hosts):
            hosts.insert(0, cn)
    elif cn is not None and cn not in ips:
        ips.insert(0, cn)
    try:
        return [
            *(x509.DNSName(n) for n in hosts),
            *(x509.IPAddress(ip) for ip in ips),
            *(x509.RFC822Name(e) for e in emails),
        ]
    except ValueError as error:  # cryptography's own IA5String checks, as a backstop
        raise InvalidLeafProfile(
            f"A subject alternative name is not valid: {error}", field="dns_names"
        ) from None

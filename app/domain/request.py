"""The certificate request every channel is reduced to (SPEC 6).

:class:`CertificateRequest` is a plain immutable value.  It does not validate
itself: user input is parsed and checked by :mod:`app.domain.validation`, and
policy by :mod:`app.domain.policy`.  What it does guarantee:

* tuple fields are tuples even when built from lists (so requests are hashable
  and safe to share between threads);
* :meth:`CertificateRequest.to_dict` / :meth:`CertificateRequest.from_dict`
  round-trip exactly through JSON, which is how orders store their request.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from app.domain.choices import ALGORITHMS, algorithm_bits, algorithm_family
from app.domain.names import parse_ip

__all__ = ["CertificateRequest", "PublicKeyFacts"]


@dataclass(frozen=True)
class PublicKeyFacts:
    """Facts about a CSR's public key, when the requester made the key.

    ``family`` is ``"rsa"``, ``"ecdsa"`` or any other string for key types we do
    not support (``"dsa"``, ``"ed25519"`` ...) so that validation can name them.
    ``bits`` is the RSA modulus size or the EC curve size; ``curve`` the curve's
    name (``"secp256r1"``) for EC keys.
    """

    family: str
    bits: int
    curve: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "bits": self.bits, "curve": self.curve}

    @classmethod
    def from_dict(cls, data: Any) -> PublicKeyFacts:
        """Inverse of :meth:`to_dict`.  Raises ``ValueError`` on a malformed dict."""
        if not isinstance(data, dict):
            raise ValueError("csr_key must be an object")
        family, bits, curve = data.get("family"), data.get("bits"), data.get("curve")
        if not isinstance(family, str) or not _is_int(bits):
            raise ValueError("csr_key needs a string 'family' and an integer 'bits'")
        if curve is not None and not isinstance(curve, str):
            raise ValueError("csr_key.curve must be a string or null")
        return cls(family=family, bits=bits, curve=curve)


_TUPLE_FIELDS = (
    "dns_names",
    "ip_addresses",
    "emails",
    "key_usage",
    "extended_key_usage",
)
_OPTIONAL_TEXT_FIELDS = (
    "organization",
    "organizational_unit",
    "country",
    "state",
    "locality",
    "algorithm",
    "digest",
    "provider_id",
    "issuer_id",
)


def _is_int(value: Any) -> bool:
    # bool is an int subclass; True days of validity is a bug, not a value.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class CertificateRequest:
    """One certificate request, possibly incomplete (the wizard fills it step by step).

    Conventions: names are normalised (lower-case A-labels, see
    :mod:`app.domain.names`); ``common_name`` is ``""`` and optional fields are
    ``None`` / ``()`` until entered.  ``dns_names`` holds the SAN DNS names
    *other than* the CN; the issued certificate repeats the CN as a SAN, so
    use :meth:`all_dns_names` for "every DNS name the certificate will carry".
    ``algorithm`` is ``None`` when a CSR supplies the key (``csr_key``).
    """

    common_name: str
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    organization: str | None = None
    organizational_unit: str | None = None
    country: str | None = None
    state: str | None = None
    locality: str | None = None
    algorithm: str | None = None
    digest: str | None = None
    validity_days: int | None = None
    key_usage: tuple[str, ...] = ()
    extended_key_usage: tuple[str, ...] = ()
    provider_id: str | None = None
    issuer_id: str | None = None
    action: str = "certificate.generate"
    csr_key: PublicKeyFacts | None = field(default=None)
    requests_ca: bool = False

    def __post_init__(self) -> None:
        # Accept lists from callers but store tuples: the dataclass is frozen
        # and hashable only if its members are.
        for name in _TUPLE_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    # -- derived facts -----------------------------------------------------

    def all_dns_names(self) -> tuple[str, ...]:
        """CN (when it is a DNS name) followed by ``dns_names``, de-duplicated, order kept.

        An empty CN, or one that is an IP literal or contains ``@``, is left out:
        those never become DNS SANs.
        """
        names: list[str] = []
        cn = self.common_name
        if cn and "@" not in cn and parse_ip(cn) is None:
            names.append(cn)
        for name in self.dns_names:
            if name not in names:
                names.append(name)
        return tuple(names)

    def san_count(self) -> int:
        """Number of SAN entries the certificate will carry (the CN is repeated as a SAN)."""
        return len(self.all_dns_names()) + len(self.ip_addresses) + len(self.emails)

    def key_family(self) -> str | None:
        """The key's family: from ``csr_key`` if present, else from ``algorithm``.

        ``None`` when no key has been chosen yet or ``algorithm`` is not a known id
        (validation reports unknown ids; the policy engine then has nothing to judge).
        """
        if self.csr_key is not None:
            return self.csr_key.family
        if self.algorithm in ALGORITHMS:
            return algorithm_family(self.algorithm)
        return None

    def key_bits(self) -> int | None:
        """RSA modulus / EC curve size, from ``csr_key`` or ``algorithm``; else ``None``."""
        if self.csr_key is not None:
            return self.csr_key.bits
        if self.algorithm in ALGORITHMS:
            return algorithm_bits(self.algorithm)
        return None

    def replace(self, **changes: Any) -> CertificateRequest:
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    # -- persistence -------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (lists, strings, ints, bools, null) with every field."""
        data: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, PublicKeyFacts):
                value = value.to_dict()
            data[f.name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CertificateRequest:
        """Rebuild a request from :meth:`to_dict` output.

        Missing keys take their defaults and unknown keys are ignored, so orders
        stored by an older or newer version of this class still load.  Values
        of the wrong type raise ``ValueError`` naming the key -- a stored
        request is never silently coerced into a different one.
        """
        if not isinstance(data, dict):
            raise ValueError("a stored request must be an object")
        kwargs: dict[str, Any] = {}
        cn = data.get("common_name", "")
        if not isinstance(cn, str):
            raise ValueError("common_name must be a string")
        kwargs["common_name"] = cn
        for name in _TUPLE_FIELDS:
            value = data.get(name, [])
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{name} must be a list of strings")
            kwargs[name] = tuple(value)
        for name in _OPTIONAL_TEXT_FIELDS:
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a string or null")
            kwargs[name] = value
        validity = data.get("validity_days")
        if validity is not None and not _is_int(validity):
            raise ValueError("validity_days must be an integer or null")
        kwargs["validity_days"] = validity
        action = data.get("action", "certificate.generate")
        if not isinstance(action, str):
            raise ValueError("action must be a string")
        kwargs["action"] = action
        csr_key = data.get("csr_key")
        kwargs["csr_key"] = None if csr_key is None else PublicKeyFacts.from_dict(csr_key)
        requests_ca = data.get("requests_ca", False)
        if not isinstance(requests_ca, bool):
            raise ValueError("requests_ca must be a boolean")
        kwargs["requests_ca"] = requests_ca
        return cls(**kwargs)

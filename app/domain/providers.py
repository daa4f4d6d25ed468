"""Certificate provider types and what each honours (SPEC 4). Pure data and checks.

A provider *type* is fixed when the provider is created. Each type honours a subset of a
request's fields: the Local PKI signs what the platform asks for; an ACME CA takes only
the names and the key and decides subject, validity and usages itself. Every channel asks
this module which fields to offer and which to drop, so the wizard, the courier API and
the worker agree.

Codes: ``provider.unsupported_name`` (a name kind the provider cannot issue),
``provider.wildcard_needs_dns01``, ``provider.field_not_honoured``,
``provider.config`` (a configuration value is wrong; ``field`` names it).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from app.domain.policy import Violation
from app.domain.request import CertificateRequest

BUILTIN = "builtin"
ACME = "acme"
DIGICERT = "digicert"
GLOBALSIGN = "globalsign"
PROVIDER_TYPES: tuple[str, ...] = (BUILTIN, ACME, DIGICERT, GLOBALSIGN)
TYPE_LABELS = {BUILTIN: "Local PKI", ACME: "ACME CA", DIGICERT: "DigiCert CertCentral",
               GLOBALSIGN: "GlobalSign Atlas"}

SUBJECT = ("organization", "organizational_unit", "country", "state", "locality")
EXTERNAL_CA = "external_ca"          # Order.type of the commercial CAs' orders
CA_DECIDED = (*SUBJECT, "digest", "validity_days", "key_usage", "extended_key_usage")
#: What DigiCert CertCentral decides itself: the subject comes from the organization
#: (``organization.id``) it validated, usages from the product. It takes the common name,
#: DNS names, the signature hash and the validity (``order_validity.days``).
DIGICERT_DECIDES = (*SUBJECT, "key_usage", "extended_key_usage")
#: What GlobalSign Atlas decides itself: key usages come from the account's validation
#: policy. It takes the subject (``subject_dn``, checked against that policy), DNS names
#: and IP addresses (``san``), the validity and the signature hash.
GLOBALSIGN_DECIDES = ("key_usage", "extended_key_usage")
CHALLENGES = ("http-01", "dns-01")
TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1")


@dataclass(frozen=True)
class ProviderProfile:
    """What a provider of one type (and configuration) does with a request."""

    type: str
    order_type: str                     # Order.type of its orders
    ignores: tuple[str, ...] = ()       # request fields the CA decides itself
    name_kinds: frozenset[str] = frozenset({"dns", "ip", "email"})
    wildcards: bool = True
    wildcard_hint: str = ""
    dns_zone: str | None = None          # dns-01: every DNS name must be in this zone

    def honours(self, field: str) -> bool:
        return field not in self.ignores


def profile_for(provider_type: str, config: Mapping[str, Any] | None = None) -> ProviderProfile:
    """The profile of a provider type; ``config`` refines it (ACME's challenge type
    decides whether wildcards are possible)."""
    config = config or {}
    if provider_type == BUILTIN:
        return ProviderProfile(BUILTIN, "local_pki")
    if provider_type == ACME:
        dns01 = config.get("challenge") == "dns-01"
        return ProviderProfile(ACME, "acme", ignores=CA_DECIDED,
                               name_kinds=frozenset({"dns"} if dns01 else {"dns", "ip"}),
                               wildcards=dns01,
                               wildcard_hint="" if dns01 else
                               "wildcard names need an ACME provider using dns-01.",
                               dns_zone=config.get("dns_zone") if dns01 else None)
    if provider_type == DIGICERT:
        return ProviderProfile(DIGICERT, EXTERNAL_CA, ignores=DIGICERT_DECIDES,
                               name_kinds=frozenset({"dns"}))
    if provider_type == GLOBALSIGN:
        return ProviderProfile(GLOBALSIGN, EXTERNAL_CA, ignores=GLOBALSIGN_DECIDES,
                               name_kinds=frozenset({"dns", "ip"}))
    raise ValueError(f"unknown provider type {provider_type!r}")


def fit_request(request: CertificateRequest, profile: ProviderProfile) -> CertificateRequest:
    """``request`` without the fields the provider decides itself (they are not sent, not
    judged, and not required)."""
    changes: dict[str, Any] = {}
    for name in profile.ignores:
        value = getattr(request, name)
        if value not in (None, (), ""):
            changes[name] = () if isinstance(value, tuple) else None
    return request.replace(**changes) if changes else request


def check_fit(request: CertificateRequest, profile: ProviderProfile,
              provider_name: str) -> list[Violation]:
    """Names the provider cannot put in a certificate."""
    found: list[Violation] = []
    if request.emails and "email" not in profile.name_kinds:
        found.append(Violation(
            code="provider.unsupported_name", field="sans",
            message=f"{provider_name} issues DNS names and IP addresses only; remove the "
                    f"e-mail address{'es' if len(request.emails) > 1 else ''} "
                    f"({', '.join(request.emails)}) or choose another provider."))
    if request.ip_addresses and "ip" not in profile.name_kinds:
        found.append(Violation(
            code="provider.unsupported_name", field="sans",
            message=f"{provider_name} does not issue IP address certificates"
                    + (" (dns-01 cannot prove control of an IP address)."
                       if profile.dns_zone else ".")))
    wildcards = [n for n in request.all_dns_names() if n.startswith("*.")]
    if wildcards and not profile.wildcards:
        found.append(Violation(
            code="provider.wildcard_needs_dns01", field="sans",
            message=f"{provider_name} cannot issue {', '.join(wildcards)}: "
                    f"{profile.wildcard_hint or 'it does not issue wildcard names.'}"))
    if profile.dns_zone:
        zone = profile.dns_zone
        outside = [n for n in request.all_dns_names()
                   if n.removeprefix("*.") != zone and not n.endswith("." + zone)]
        if outside:
            found.append(Violation(
                code="provider.outside_dns_zone", field="sans",
                message=f"{provider_name} proves control through the DNS zone {zone}; "
                        f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} "
                        "outside it."))
    return found


def unhonoured_fields(given: Mapping[str, Any], profile: ProviderProfile,
                      provider_name: str) -> list[Violation]:
    """For channels where a requester names fields explicitly (the courier API): a field
    the CA decides itself is refused rather than silently dropped."""
    return [Violation(code="provider.field_not_honoured", field=name,
                      message=f"'{name}' is decided by {provider_name} (the CA sets the "
                              f"subject, validity and usages itself); omit it.")
            for name in given if not profile.honours(name)]


# ---- configuration --------------------------------------------------------------------------

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DNS_NAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                       r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?")
_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\s]+):(?P<port>\d{1,5})")
ACME_SECRETS = ("eab_hmac_key", "tsig_secret")
MAX_CA_BUNDLE_BYTES = 64 * 1024


class ConfigProblem(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def split_host_port(value: str) -> tuple[str, int]:
    match = _HOST_PORT.fullmatch(value.strip())
    if not match or not 0 < int(match["port"]) < 65536:
        raise ConfigProblem("dns_server", "The DNS server must be HOST:PORT (e.g. "
                                          "ns1.example.com:53 or [2001:db8::1]:53).")
    return match["host"].strip("[]"), int(match["port"])


def clean_acme_config(raw: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    """The stored (non-secret) configuration of an ACME provider, or ConfigProblem.

    ``secrets`` are the secret names already set (or being set), so that an EAB key id
    without its HMAC key, or a dns-01 set-up without a TSIG secret, is refused."""
    url = str(raw.get("directory_url") or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigProblem("directory_url", "The directory URL must be an absolute "
                                             "https:// URL.")
    email = str(raw.get("account_email") or "").strip()
    if email and not _EMAIL.fullmatch(email):
        raise ConfigProblem("account_email", "The account e-mail is not an e-mail address.")
    challenge = str(raw.get("challenge") or "http-01")
    if challenge not in CHALLENGES:
        raise ConfigProblem("challenge", "The challenge type must be http-01 or dns-01.")
    config: dict[str, Any] = {"directory_url": url, "account_email": email or None,
                              "challenge": challenge}
    kid = str(raw.get("eab_kid") or "").strip()
    if kid and "eab_hmac_key" not in secrets:
        raise ConfigProblem("eab_hmac_key", "An EAB key id needs its HMAC key.")
    if "eab_hmac_key" in secrets and not kid:
        raise ConfigProblem("eab_kid", "An EAB HMAC key needs its key id.")
    config["eab_kid"] = kid or None
    if challenge == "dns-01":
        config |= _dns_config(raw, secrets)
    bundle = str(raw.get("ca_bundle") or "").strip()
    if bundle:
        if len(bundle) > MAX_CA_BUNDLE_BYTES or "-----BEGIN CERTIFICATE-----" not in bundle:
            raise ConfigProblem("ca_bundle", "The CA bundle must be PEM certificates "
                                             "(at most 64 KiB).")
        config["ca_bundle"] = bundle + "\n"
    return config


def _dns_config(raw: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    server = str(raw.get("dns_server") or "").strip()
    split_host_port(server)
    zone = str(raw.get("dns_zone") or "").strip().rstrip(".").lower()
    if not zone or not _DNS_NAME.fullmatch(zone):
        raise ConfigProblem("dns_zone", "The DNS zone must be a domain name (the zone the "
                                        "TSIG key may update).")
    name = str(raw.get("tsig_name") or "").strip().rstrip(".").lower()
    if not name or not _DNS_NAME.fullmatch(name):
        raise ConfigProblem("tsig_name", "The TSIG key name must be a DNS name.")
    algorithm = str(raw.get("tsig_algorithm") or "hmac-sha256").strip().lower()
    if algorithm not in TSIG_ALGORITHMS:
        raise ConfigProblem("tsig_algorithm", "The TSIG algorithm must be one of "
                                              + ", ".join(TSIG_ALGORITHMS) + ".")
    if "tsig_secret" not in secrets:
        raise ConfigProblem("tsig_secret", "dns-01 needs the TSIG secret.")
    return {"dns_server": server, "dns_zone": zone, "tsig_name": name,
            "tsig_algorithm": algorithm}


DIGICERT_BASE_URL = "https://www.digicert.com/services/v2"
GLOBALSIGN_BASE_URL = "https://emea.api.hvca.globalsign.com:8443/v2"
_PRODUCT = re.compile(r"[a-z0-9_]{1,64}")


def _base_url(raw: Mapping[str, Any], default: str) -> str:
    url = str(raw.get("base_url") or "").strip() or default
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query \
            or parts.fragment:
        raise ConfigProblem("base_url", "The base URL must be an absolute https:// URL "
                                        "without a query (e.g. " + default + ").")
    return url.rstrip("/")


def _bundle(raw: Mapping[str, Any]) -> dict[str, Any]:
    bundle = str(raw.get("ca_bundle") or "").strip()
    if not bundle:
        return {}
    if len(bundle) > MAX_CA_BUNDLE_BYTES or "-----BEGIN CERTIFICATE-----" not in bundle:
        raise ConfigProblem("ca_bundle", "The CA bundle must be PEM certificates "
                                         "(at most 64 KiB).")
    return {"ca_bundle": bundle + "\n"}


DIGICERT_POLL_SECONDS = 60      # DigiCert validates in minutes to days
GLOBALSIGN_POLL_SECONDS = 5     # Atlas issues in seconds once it accepted a request


def _poll_seconds(raw: Mapping[str, Any], default: int) -> int:
    value = str(raw.get("poll_seconds") or "").strip()
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= 3600:
        raise ConfigProblem("poll_seconds", "The check interval is a number of seconds "
                                            "from 1 to 3600.")
    return int(value)


def clean_digicert_config(raw: Mapping[str, Any], secrets: Mapping[str, str]
                          ) -> dict[str, Any]:
    """DigiCert CertCentral: base URL, organization id, product name id."""
    organization = str(raw.get("organization_id") or "").strip()
    if not organization.isdigit() or not 0 < int(organization) < 2**53:
        raise ConfigProblem("organization_id", "The organization id is the number of the "
                                               "validated organization in CertCentral.")
    product = str(raw.get("product") or "ssl_basic").strip().lower()
    if not _PRODUCT.fullmatch(product):
        raise ConfigProblem("product", "The product is a CertCentral product name id such "
                                       "as ssl_basic or ssl_securesite_flex.")
    if "api_key" not in secrets:
        raise ConfigProblem("api_key", "DigiCert needs the API key (X-DC-DEVKEY).")
    return {"base_url": _base_url(raw, DIGICERT_BASE_URL),
            "organization_id": int(organization), "product": product,
            "poll_seconds": _poll_seconds(raw, DIGICERT_POLL_SECONDS)} | _bundle(raw)


def clean_globalsign_config(raw: Mapping[str, Any], secrets: Mapping[str, str]
                            ) -> dict[str, Any]:
    """GlobalSign Atlas: base URL (region) and the mutual-TLS client certificate (its
    key is a secret); whether the certificate parses is checked by the service."""
    cert = str(raw.get("client_cert") or "").strip()
    if "-----BEGIN CERTIFICATE-----" not in cert or len(cert) > MAX_CA_BUNDLE_BYTES:
        raise ConfigProblem("client_cert", "The client certificate must be the PEM "
                                           "certificate GlobalSign issued for the account.")
    for name, label in (("api_key", "API key"), ("api_secret", "API secret"),
                        ("mtls_key", "client certificate's private key")):
        if name not in secrets:
            raise ConfigProblem(name, f"GlobalSign Atlas needs the {label}.")
    return {"base_url": _base_url(raw, GLOBALSIGN_BASE_URL),
            "client_cert": cert + "\n",
            "poll_seconds": _poll_seconds(raw, GLOBALSIGN_POLL_SECONDS)} | _bundle(raw)


SECRET_NAMES: dict[str, tuple[str, ...]] = {BUILTIN: (), ACME: ACME_SECRETS,
                                            DIGICERT: ("api_key",),
                                            GLOBALSIGN: ("api_key", "api_secret",
                                                         "mtls_key")}

"""Outbound safety: every URL the platform calls is checked when it is saved and again,
at connection time, when it is used (the Lemur SSRF advisories).

Guarantees of ``OutboundSession`` (a ``requests.Session``):

- https only, unless the policy allows plain http (a test setting);
- every address a host name resolves to must be public: loopback, private (RFC 1918,
  ULA), link-local (which holds the cloud metadata service 169.254.169.254), CGNAT,
  multicast, reserved and unspecified addresses are refused unless they fall in
  ``allowed_networks``. If *any* resolved address is refused the call is refused, and the
  socket connects to an address that was checked (no second lookup to rebind);
- every redirect target is checked the same way (a new connection is a new check);
- every call has a timeout and an overall deadline, and at most ``max_response_bytes``
  of a response body are read (larger is an error, not a truncation);
- proxies and CA bundles from the environment are ignored: a call trusts the system
  roots or the bundle it was given, nothing else.

``check_url`` is the same check without a request, for forms and the CLI.
"""
from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Refused unless allowed explicitly. is_private/is_loopback/... cover most; these are
#: listed too so the rule reads the same whatever the Python version says.
BLOCKED_NETWORKS: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "100::/64", "2001:db8::/32",
    "fc00::/7", "fe80::/10", "ff00::/8", "fd00:ec2::254/128"))
METADATA_ADDRESSES = frozenset({"169.254.169.254", "fd00:ec2::254", "100.100.100.200"})


#: Any failure of the transport (refused, timeout, TLS, bad response), for callers that
#: send through ``OutboundSession`` and must not import ``requests`` themselves.
TransportError = requests.RequestException


class OutboundBlocked(Exception):
    """A URL or address the policy refuses. ``str()`` says why, without secrets."""

    code = "outbound.blocked"

    def __init__(self, message: str, code: str = "outbound.blocked") -> None:
        super().__init__(message)
        self.code = code


class ResponseTooLarge(OutboundBlocked):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The response was larger than {limit} bytes.", "outbound.too_large")


@dataclass(frozen=True)
class OutboundPolicy:
    allow_http: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_response_bytes: int = 1024 * 1024
    max_redirects: int = 3
    ca_bundle_pem: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, *, allow_http: bool = False,
                      allowed_networks: Iterable[str] | str = (), **values: Any
                      ) -> OutboundPolicy:
        if isinstance(allowed_networks, str):
            allowed_networks = [n for n in allowed_networks.replace(",", " ").split() if n]
        return cls(allow_http=allow_http,
                   allowed_networks=tuple(ipaddress.ip_network(n, strict=False)
                                          for n in allowed_networks), **values)

    def with_ca_bundle(self, pem: str | None) -> OutboundPolicy:
        return OutboundPolicy(**{**self.__dict__, "ca_bundle_pem": pem or None})


# ---- the checks --------------------------------------------------------------------------

def address_problem(address: IPAddress, policy: OutboundPolicy) -> str | None:
    """Why ``address`` may not be called, or None."""
    if any(address in network for network in policy.allowed_networks):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_problem(address.ipv4_mapped, policy) and "an IPv4-mapped " \
            "address of a non-public address"
    if str(address) in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private or any(address in network for network in BLOCKED_NETWORKS) \
            or address.is_multicast or address.is_reserved or address.is_unspecified:
        return "a private or reserved address"
    return None


def resolve_checked(host: str, port: int, policy: OutboundPolicy) -> list[IPAddress]:
    """Every address ``host`` resolves to, if all are allowed; else OutboundBlocked."""
    host = host.strip("[]").rstrip(".")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise OutboundBlocked(f"The host name '{host}' does not resolve.",
                                  "outbound.unresolvable") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(i[4][0].split("%")[0])
                                       for i in infos))
    for address in addresses:
        problem = address_problem(address, policy)
        if problem:
            raise OutboundBlocked(
                f"'{host}' resolves to {address}, {problem}; outbound calls to it are "
                "refused (list its network in OUTBOUND_ALLOWED_NETWORKS to allow it).",
                "outbound.address_refused")
    return addresses


def check_url(url: str, policy: OutboundPolicy, *, resolve: bool = True) -> str:
    """``url`` if the policy allows calling it; else OutboundBlocked."""
    parts = urlsplit(url)
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in allowed:
        raise OutboundBlocked("Only https:// URLs may be called"
                              + ("." if parts.scheme != "http" else
                                 " (plain http is not allowed)."), "outbound.scheme")
    if not parts.hostname:
        raise OutboundBlocked("The URL has no host.", "outbound.invalid_url")
    if parts.username or parts.password:
        raise OutboundBlocked("The URL may not carry credentials.", "outbound.invalid_url")
    if resolve:
        resolve_checked(parts.hostname, parts.port or (443 if parts.scheme == "https"
                                                       else 80), policy)
    return url


def check_host_port(host: str, port: int, policy: OutboundPolicy) -> list[IPAddress]:
    """For non-HTTP calls (DNS updates): the addresses to use, all checked."""
    return resolve_checked(host, port, policy)


# ---- the session ---------------------------------------------------------------------------

class _GuardedConnection:
    """Resolves and checks the host itself, then connects to a checked address; TLS still
    verifies the certificate against the host *name* (``self.host``)."""

    policy: OutboundPolicy

    def _new_conn(self) -> socket.socket:
        host: str = self._dns_host  # type: ignore[attr-defined]
        addresses = resolve_checked(host, self.port, self.policy)  # type: ignore[attr-defined]
        last_error: Exception | None = None
        for address in addresses:
            self._dns_host = str(address)
            try:
                return super()._new_conn()  # type: ignore[misc,no-any-return]
            except Exception as exc:  # try the next checked address
                last_error = exc
            finally:
                self._dns_host = host
        assert last_error is not None
        raise last_error


def _pool_classes(policy: OutboundPolicy) -> dict[str, type]:
    http_conn = type("GuardedHTTPConnection", (_GuardedConnection, HTTPConnection),
                     {"policy": policy})
    https_conn = type("GuardedHTTPSConnection", (_GuardedConnection, HTTPSConnection),
                      {"policy": policy})
    return {"http": type("GuardedHTTPPool", (HTTPConnectionPool,),
                         {"ConnectionCls": http_conn}),
            "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,),
                          {"ConnectionCls": https_conn})}


class GuardedAdapter(HTTPAdapter):
    """Guarded connections, a pinned trust store, bounded bodies and an overall deadline."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.policy)

    def build_connection_pool_key_attributes(self, request: Any, verify: Any,
                                             cert: Any = None
                                             ) -> tuple[dict[str, Any], dict[str, Any]]:
        host, pool = super().build_connection_pool_key_attributes(request, True, cert)
        pool["cert_reqs"] = "CERT_REQUIRED"  # never verify=False
        if self.policy.ca_bundle_pem:
            pool.pop("ssl_context", None)
            pool.pop("ca_certs", None)
            pool["ca_cert_data"] = self.policy.ca_bundle_pem
        return host, pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, True, cert)
        if self.policy.ca_bundle_pem and url.lower().startswith("https"):
            conn.ca_certs = None
            conn.ca_cert_dir = None

    def send(self, request: Any, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        check_url(request.url, self.policy, resolve=False)
        response = super().send(request, stream=True,
                                timeout=(self.policy.connect_timeout, self.policy.read_timeout),
                                verify=True, cert=cert, proxies=None)
        try:
            response._content = _read_bounded(response, self.policy)
        finally:
            response.close()
        response._content_consumed = True
        return response


def _read_bounded(response: requests.Response, policy: OutboundPolicy) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > policy.max_response_bytes:
        raise ResponseTooLarge(policy.max_response_bytes)
    deadline = time.monotonic() + policy.total_timeout
    chunks: list[bytes] = []
    size = 0
    for chunk in response.raw.stream(16 * 1024, decode_content=True):
        size += len(chunk)
        if size > policy.max_response_bytes:
            raise ResponseTooLarge(policy.max_response_bytes)
        if time.monotonic() > deadline:
            raise requests.Timeout(f"The response took longer than {policy.total_timeout:.0f}"
                                   " s to arrive.")
        chunks.append(chunk)
    return b"".join(chunks)


class OutboundSession(requests.Session):
    """A requests session that only makes calls the policy allows (see module docstring)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        super().__init__()
        self.policy = policy
        self.trust_env = False       # no proxies or CA bundles from the environment
        self.max_redirects = policy.max_redirects
        adapter = GuardedAdapter(policy)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        check_url(url if isinstance(url, str) else url.decode(), self.policy, resolve=False)
        kwargs["verify"] = True
        return super().request(method, url, *args, **kwargs)

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is not None:
            check_url(urljoin(resp.url, target), self.policy, resolve=False)
        return target


def networks(values: Sequence[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)

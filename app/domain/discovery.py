"""Scan targets as people type them: ``host``, ``host:port``, ``[v6]:port``, optionally
``/sni-name`` to send another name than the host (``10.0.0.5:443/www.example.com``).
Pure parsing and its messages; the network checks happen when the scan connects."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

DEFAULT_PORT = 443
MAX_TARGETS = 256
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_ENTRY = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[^:/\[\]]+))"
                    r"(?::(?P<port>[^/]*))?(?:/(?P<sni>.*))?$")


class BadTarget(ValueError):
    """One entry that is not a scan target; the message names it and says why."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    server_name: str          # the SNI name sent; "" for none (an IP address)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        sni = f"/{self.server_name}" if self.server_name and self.server_name != self.host \
            else ""
        return f"{host}:{self.port}{sni}"


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _dns_name(value: str, entry: str, what: str) -> str:
    name = value.rstrip(".").lower()
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise BadTarget(f"'{entry}': {what} '{value}' is not a valid host name.") from exc
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise BadTarget(f"'{entry}': {what} '{value}' is not a valid host name.")
    return name


def parse_endpoint(entry: str) -> Endpoint:
    match = _ENTRY.match(entry)
    if not match:
        raise BadTarget(f"'{entry}' is not host:port (write an IPv6 address in brackets: "
                        "[2001:db8::1]:443).")
    port_text = match["port"]
    if port_text is None or port_text == "":
        port = DEFAULT_PORT
    elif port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535:
        port = int(port_text)
    else:
        raise BadTarget(f"'{entry}': the port must be a number from 1 to 65535.")
    if match["v6"]:
        if not _is_ip(match["v6"]):
            raise BadTarget(f"'{entry}': '{match['v6']}' is not an IPv6 address.")
        host = str(ipaddress.ip_address(match["v6"]))
    elif _is_ip(match["host"]):
        host = str(ipaddress.ip_address(match["host"]))
    else:
        host = _dns_name(match["host"], entry, "the host")
    if match["sni"] is not None:
        server_name = _dns_name(match["sni"], entry, "the SNI name") if match["sni"] else ""
    else:
        server_name = "" if _is_ip(host) else host
    return Endpoint(host, port, server_name)


def parse_endpoints(text: str | list[str]) -> list[Endpoint]:
    """Entries separated by whitespace, commas or new lines, duplicates dropped. Raises
    BadTarget naming the first bad entry, or when there are none or too many."""
    entries = text if isinstance(text, list) else re.split(r"[\s,;]+", text)
    endpoints: list[Endpoint] = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        endpoint = parse_endpoint(entry)
        if endpoint not in endpoints:
            endpoints.append(endpoint)
    if not endpoints:
        raise BadTarget("Enter at least one endpoint, e.g. www.example.com:443.")
    if len(endpoints) > MAX_TARGETS:
        raise BadTarget(f"{len(endpoints)} endpoints given; scan at most {MAX_TARGETS} at "
                        "once.")
    return endpoints

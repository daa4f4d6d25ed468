"""dns-01 records through RFC 2136 dynamic updates signed with TSIG (RFC 8945).

The configured server is the zone's primary (or a server that forwards updates); its
address passes the same outbound check as every URL. A record counts as published once
that server serves it: the ACME challenge is answered only then."""
from __future__ import annotations

import base64
import binascii

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

from app.domain.providers import split_host_port
from app.net.outbound import OutboundBlocked, OutboundPolicy, check_host_port
from app.providers.base import ProviderRejectedError, ProviderTransientError

TIMEOUT_SECONDS = 5.0
RECORD_TTL = 60


class DnsUpdater:
    def __init__(self, *, server: str, zone: str, tsig_name: str, tsig_algorithm: str,
                 tsig_secret: str, policy: OutboundPolicy) -> None:
        self.host, self.port = split_host_port(server)
        self.zone = dns.name.from_text(zone)
        self.policy = policy
        try:
            secret = base64.b64decode(tsig_secret.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProviderRejectedError("The TSIG secret is not base64.") from exc
        self.key_name = dns.name.from_text(tsig_name)
        self.keyring = {self.key_name: dns.tsig.Key(self.key_name, secret,
                                                    tsig_algorithm + ".")}
        self.algorithm = tsig_algorithm

    def _address(self) -> str:
        try:
            return str(check_host_port(self.host, self.port, self.policy)[0])
        except OutboundBlocked as exc:
            raise ProviderRejectedError(f"DNS server: {exc}", code=exc.code) from exc

    def record_name(self, domain: str) -> dns.name.Name:
        """``_acme-challenge.<domain>`` (a wildcard's base name), which must be in the zone."""
        name = dns.name.from_text("_acme-challenge." + domain.removeprefix("*."))
        if not name.is_subdomain(self.zone):
            raise ProviderRejectedError(
                f"{domain} is outside the DNS zone {self.zone.to_text(True)} this provider "
                "may update for dns-01.", code="provider.outside_dns_zone")
        return name

    def _update(self, domain: str, value: str, *, delete: bool) -> None:
        update = dns.update.Update(self.zone, keyring=self.keyring, keyname=self.key_name,
                                   keyalgorithm=self.algorithm + ".")
        name = self.record_name(domain)
        if delete:
            update.delete(name, dns.rdatatype.TXT, f'"{value}"')
        else:
            update.add(name, RECORD_TTL, dns.rdatatype.TXT, f'"{value}"')
        answer = self._send(update, tcp=True, what="DNS update")
        code = answer.rcode()
        if code != dns.rcode.NOERROR:
            raise ProviderRejectedError(
                f"The DNS server refused the update for {name.to_text(True)}: "
                f"{dns.rcode.to_text(code)} (check the zone, the TSIG key and the server's "
                "update policy).", code="dns.update_refused")

    def _send(self, message: dns.message.Message, *, tcp: bool,
              what: str) -> dns.message.Message:
        address = self._address()
        try:
            if tcp:
                return dns.query.tcp(message, address, timeout=TIMEOUT_SECONDS,
                                     port=self.port)
            return dns.query.udp(message, address, timeout=TIMEOUT_SECONDS, port=self.port)
        except (dns.exception.Timeout, OSError) as exc:
            raise ProviderTransientError(f"{what}: the DNS server {self.host}:{self.port} "
                                         "did not answer.", retry_after=10) from exc
        except dns.tsig.PeerError as exc:
            raise ProviderRejectedError(f"{what}: the DNS server rejected the TSIG key "
                                        f"({exc.__class__.__name__}); check the key name, "
                                        "algorithm and secret.",
                                        code="dns.tsig_refused") from exc
        except dns.tsig.BadSignature as exc:
            raise ProviderRejectedError(f"{what}: the DNS server's TSIG signature does not "
                                        "verify (wrong key?).") from exc
        except dns.exception.DNSException as exc:
            raise ProviderRejectedError(f"{what}: {exc.__class__.__name__}.") from exc

    def publish(self, domain: str, value: str) -> None:
        """Add the TXT record (adding one that exists changes nothing)."""
        self._update(domain, value, delete=False)

    def remove(self, domain: str, value: str) -> None:
        self._update(domain, value, delete=True)

    def served(self, domain: str, value: str) -> bool:
        """True once the server answers the TXT query with ``value``."""
        query = dns.message.make_query(self.record_name(domain), dns.rdatatype.TXT)
        answer = self._send(query, tcp=False, what="DNS lookup")
        for rrset in answer.answer:
            for rdata in rrset:
                if b"".join(getattr(rdata, "strings", ())).decode(errors="replace") == value:
                    return True
        return False

    def check(self) -> str:
        """For the connection test: the zone's SOA, asked of the configured server."""
        query = dns.message.make_query(self.zone, dns.rdatatype.SOA)
        answer = self._send(query, tcp=False, what="DNS lookup")
        if answer.rcode() != dns.rcode.NOERROR or not answer.answer:
            raise ProviderRejectedError(
                f"The DNS server does not serve the zone {self.zone.to_text(True)} "
                f"({dns.rcode.to_text(answer.rcode())}).")
        return f"The DNS server {self.host}:{self.port} serves {self.zone.to_text(True)}."

"""Outbound safety (the Lemur SSRF advisories): every URL the platform calls is checked
when saved and when used — https only, no loopback / private / link-local / metadata
address unless allowed, redirects re-checked, timeouts, bounded bodies — with a real
HTTPS server on loopback misbehaving on purpose."""
from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.net.outbound import (
    OutboundBlocked,
    OutboundPolicy,
    OutboundSession,
    ResponseTooLarge,
    address_problem,
    check_url,
)
from tests.interop.standin import Reply, StandIn

STRICT = OutboundPolicy()                                  # production defaults
LOOPBACK_OK = OutboundPolicy.from_settings(allowed_networks=["127.0.0.1/32", "::1/128"])


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[StandIn]:
    server = StandIn(tmp_path / "tls")
    yield server
    server.stop()


def session(standin: StandIn, policy: OutboundPolicy = LOOPBACK_OK) -> OutboundSession:
    return OutboundSession(policy.with_ca_bundle(standin.tls.ca_pem))


@pytest.mark.parametrize(("address", "why"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"),
    ("172.16.0.9", "private"), ("192.168.1.1", "private"), ("fd12::1", "private"),
    ("100.64.0.1", "private"), ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"),
    ("169.254.10.10", "link-local"), ("fe80::1", "link-local"), ("0.0.0.0", "private"),
    ("::ffff:10.0.0.1", "IPv4-mapped"), ("224.0.0.1", "private")])
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    problem = address_problem(ipaddress.ip_address(address), STRICT)
    assert problem is not None and why in problem


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::6810:84e5", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address), STRICT) is None


def test_allowed_networks_open_only_what_they_list() -> None:
    policy = OutboundPolicy.from_settings(allowed_networks="127.0.0.1/32, 10.5.0.0/16")
    assert address_problem(ipaddress.ip_address("127.0.0.1"), policy) is None
    assert address_problem(ipaddress.ip_address("10.5.1.1"), policy) is None
    assert address_problem(ipaddress.ip_address("10.6.1.1"), policy) is not None
    assert address_problem(ipaddress.ip_address("127.0.0.2"), policy) is not None


@pytest.mark.parametrize(("url", "code"), [
    ("https://127.0.0.1/dir", "outbound.address_refused"),
    ("https://localhost:8443/dir", "outbound.address_refused"),
    ("https://[::1]/dir", "outbound.address_refused"),
    ("https://10.0.0.7/dir", "outbound.address_refused"),
    ("https://169.254.169.254/latest/meta-data/", "outbound.address_refused"),
    ("http://acme.example.com/dir", "outbound.scheme"),
    ("ftp://acme.example.com/dir", "outbound.scheme"),
    ("https://user:pw@acme.example.com/dir", "outbound.invalid_url"),
    ("https://no-such-host.invalid/dir", "outbound.unresolvable")])
def test_check_url_refuses(url: str, code: str) -> None:
    with pytest.raises(OutboundBlocked) as refused:
        check_url(url, STRICT)
    assert refused.value.code == code


def test_plain_http_only_with_the_test_setting() -> None:
    policy = OutboundPolicy.from_settings(allow_http=True, allowed_networks=["127.0.0.1/32"])
    assert check_url("http://127.0.0.1:9/dir", policy)
    with pytest.raises(OutboundBlocked):
        check_url("http://127.0.0.1:9/dir", LOOPBACK_OK)


def test_a_loopback_server_is_refused_before_any_byte_is_sent(standin: StandIn) -> None:
    standin.routes["/dir"] = lambda _: Reply(body=b"{}")
    with pytest.raises(OutboundBlocked) as refused:
        session(standin, STRICT).get(standin.url("/dir"))
    assert "loopback" in str(refused.value)
    assert standin.hits == []


def test_the_same_server_answers_when_its_network_is_allowed(standin: StandIn) -> None:
    standin.routes["/dir"] = lambda _: Reply(body=b'{"ok": true}',
                                             headers={"Content-Type": "application/json"})
    response = session(standin).get(standin.url("/dir"))
    assert response.json() == {"ok": True}


def test_tls_is_verified_against_the_given_bundle_only(standin: StandIn) -> None:
    standin.routes["/dir"] = lambda _: Reply(body=b"{}")
    with pytest.raises(requests.exceptions.SSLError):
        OutboundSession(LOOPBACK_OK).get(standin.url("/dir"))   # system roots: unknown CA


@pytest.mark.parametrize("target", [
    "https://10.0.0.1/internal", "https://169.254.169.254/latest/meta-data/iam/",
    "https://192.168.0.1/", "http://localhost/"])
def test_a_redirect_to_a_private_address_is_refused(standin: StandIn, target: str) -> None:
    standin.routes["/dir"] = lambda _: Reply(302, headers={"Location": target})
    with pytest.raises(OutboundBlocked):
        session(standin).get(standin.url("/dir"))
    assert standin.hits == ["GET /dir"]


def test_a_redirect_to_loopback_is_refused_when_loopback_is_not_allowed(
        standin: StandIn) -> None:
    """The first hop is allowed by name (a public-looking host would be), the redirect
    goes to 127.0.0.1, which this policy refuses: every hop is checked."""
    policy = OutboundPolicy.from_settings(allowed_networks=["127.0.0.1/32"])
    standin.routes["/dir"] = lambda _: Reply(302, headers={
        "Location": standin.url("/next", host="[::1]")})
    with pytest.raises(OutboundBlocked) as refused:
        session(standin, policy).get(standin.url("/dir", host="127.0.0.1"))
    assert "::1" in str(refused.value)


def test_redirects_are_bounded(standin: StandIn) -> None:
    standin.routes["/loop"] = lambda _: Reply(302, headers={"Location": "/loop"})
    with pytest.raises(requests.TooManyRedirects):
        session(standin).get(standin.url("/loop"))
    assert len(standin.hits) == LOOPBACK_OK.max_redirects + 1


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_response_is_refused(standin: StandIn, streamed: bool) -> None:
    big = b"x" * (2 * 1024 * 1024)

    def reply(_: object) -> Reply:
        if streamed:
            return Reply(chunks=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]))
        return Reply(body=big)

    standin.routes["/big"] = reply
    with pytest.raises(ResponseTooLarge):
        session(standin).get(standin.url("/big"))


def test_a_response_at_the_limit_is_read_whole(standin: StandIn) -> None:
    policy = OutboundPolicy.from_settings(allowed_networks=["127.0.0.1/32"],
                                          max_response_bytes=1000)
    standin.routes["/ok"] = lambda _: Reply(body=b"y" * 1000)
    assert len(session(standin, policy).get(standin.url("/ok", host="127.0.0.1")).content) \
        == 1000


def test_a_server_that_does_not_answer_times_out(standin: StandIn) -> None:
    policy = OutboundPolicy.from_settings(allowed_networks=["127.0.0.1/32"],
                                          read_timeout=0.5)
    standin.routes["/slow"] = lambda _: Reply(body=b"late", delay=3)
    with pytest.raises(requests.Timeout):
        session(standin, policy).get(standin.url("/slow", host="127.0.0.1"))


def test_a_slow_drip_hits_the_overall_deadline(standin: StandIn) -> None:
    import time

    def drip() -> Iterator[bytes]:
        for _ in range(20):
            time.sleep(0.2)
            yield b"z"

    policy = OutboundPolicy.from_settings(allowed_networks=["127.0.0.1/32"],
                                          read_timeout=2, total_timeout=1)
    standin.routes["/drip"] = lambda _: Reply(chunks=drip())
    with pytest.raises(requests.Timeout):
        session(standin, policy).get(standin.url("/drip", host="127.0.0.1"))


def test_environment_proxies_are_ignored(standin: StandIn,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://10.9.9.9:3128")
    standin.routes["/dir"] = lambda _: Reply(body=b"{}")
    assert session(standin).get(standin.url("/dir")).status_code == 200


def test_an_acme_directory_redirecting_to_the_metadata_address_is_refused(
        app, standin: StandIn, worker_key: None) -> None:
    """The same guard under the ACME library: a CA URL that redirects to the cloud
    metadata service fails the connection test (and would fail an order) with the reason,
    and nothing is fetched from there."""
    from app.extensions import db
    from app.services import providers
    from app.services.provider_runtime import build_provider

    standin.routes["/dir"] = lambda _: Reply(301, headers={
        "Location": "https://169.254.169.254/latest/meta-data/iam/security-credentials/"})
    with app.app_context():
        row = providers.create_provider("acme", "Redirecting", {
            "directory_url": standin.url("/dir"), "challenge": "http-01",
            "ca_bundle": standin.tls.ca_pem}, {})
        report = build_provider(row).test_connection()
        db.session.remove()
    assert not report.ok
    assert "169.254.169.254" in report.summary and "metadata" in report.summary
    assert standin.hits == ["GET /dir"]

"""Pure ACME rules: binding modes, RFC 9773 identifiers and windows."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.acme import (
    binding_covers,
    binding_problem,
    cert_id,
    parse_binding,
    parse_cert_id,
    renewal_window,
)


@pytest.mark.parametrize(("name", "mode", "covered"), [
    ("example.com", "exact", True), ("www.example.com", "exact", False),
    ("*.example.com", "exact", False), ("www.example.com", "subdomains", True),
    ("a.b.example.com", "subdomains", True), ("*.example.com", "subdomains", False),
    ("badexample.com", "subdomains", False), ("*.example.com", "wildcard", True),
    ("*.www.example.com", "wildcard", True), ("*.other.com", "wildcard", False),
    ("example.com", "wildcard", True),
])
def test_binding_modes(name: str, mode: str, covered: bool) -> None:
    assert binding_covers(name, "example.com", mode) is covered


def test_binding_problem_names_the_mode_and_leaves_unbound_names_to_the_scope() -> None:
    assert "wildcard" in binding_problem("*.example.com", [("example.com", "subdomains")])
    assert "exact" in binding_problem("www.example.com", [("example.com", "exact")])
    assert binding_problem("www.other.com", [("example.com", "exact")]) is None
    assert binding_problem("www.example.com", [("example.com", "subdomains")]) is None


def test_parse_binding() -> None:
    assert parse_binding("example.com") == ("example.com", "exact")
    assert parse_binding(" example.com:Wildcard ") == ("example.com", "wildcard")
    with pytest.raises(ValueError):
        parse_binding("example.com:all")


def test_cert_id_round_trip_and_rfc9773_example() -> None:
    # RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
    # serial 00:87:65:43:21 → "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
    aki = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
    assert cert_id(aki, 0x87654321) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
    assert parse_cert_id("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE") == (aki, 0x87654321)
    for bad in ("", "abc", "a.b.c", "a+b.c", ".AIdl", "aYhb.", "a=.b"):
        with pytest.raises(ValueError):
            parse_cert_id(bad)


def test_renewal_window() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=90)
    now = start + timedelta(days=1)
    assert renewal_window(start, end, now=now) == (start + timedelta(days=60), end)
    begin, until = renewal_window(start, end, now=now, revoked_issuer=True)
    assert begin < now <= until

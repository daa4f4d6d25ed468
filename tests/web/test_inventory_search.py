"""The inventory's name search (CN or any SAN, case-insensitive contains): the same rows
whether the trigram index is searched with the whole fragment or only with its selective
part (PostgreSQL; app/services/trigram_search.py), and the index's set-up."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from app.domain.trigrams import trigram_shares
from app.extensions import db
from app.models import User
from app.services import certificates, trigram_search
from app.services.certificates import CertificateFilters
from tests.web.test_certificates import ADMIN, ALICE, clone, issue, make_world

#: (common name, SANs); the issued certificate adds www.example.com / api.example.com.
NAMES = (
    ("host-4242.d242.example.com", ["host-4242.d242.example.com", "alt-1.example.net"]),
    ("HOST-4242.d1.example.com", ["HOST-4242.d1.example.com"]),
    ("xhost-42420y.example.com", ["xhost-42420y.example.com"]),
    ("host-424.example.com", ["host-424.example.com", "host-4242.mirror.example.net"]),
    ("4242-host.example.com", ["4242-host.example.com"]),
    ("host_4242.example.com", ["host_4242.example.com"]),
    ("other.example.org", ["other.example.org", "alt-4242.example.net"]),
)
COMMON_HOST = [(f"host-{n}.d{n % 7}.example.com alt-{n}.example.net", 1.0) for n in range(100)]
FRAGMENTS = ("host-4242", "HOST-4242", "ost-424", "host_4242", "4242", "example",
             "alt-4242", "st-4242.d", "-42", "mirror.example", "nothing")


@pytest.fixture
def inventory(app, jobs) -> dict[str, list[str]]:
    """The issued certificate and NAMES (Alice's), each with its SANs."""
    issued = issue(app, jobs, make_world(app, jobs), ALICE)
    names = {"www.example.com": ["www.example.com", "api.example.com"]}
    for common_name, sans in NAMES:
        clone(app, issued, common_name=common_name, sans=sans)
        names[common_name] = sans
    return names


def _found(email: str, fragment: str) -> list[str]:
    viewer = db.session.scalar(select(User).where(User.email == email))
    rows, _ = certificates.page_of_certificates(viewer, CertificateFilters(q=fragment),
                                                None, 100)
    return sorted(c.common_name for c in rows)


@pytest.mark.parametrize("sample", [[], COMMON_HOST], ids=["whole-fragment", "selective-part"])
def test_search_finds_exactly_the_certificates_naming_the_fragment(
        app, inventory, monkeypatch, sample) -> None:
    monkeypatch.setattr(trigram_search, "shares_of", lambda *_: trigram_shares(sample))
    with app.app_context():
        for fragment in FRAGMENTS:
            expected = sorted(cn for cn, sans in inventory.items()
                              if any(fragment.lower() in n.lower() for n in [cn, *sans]))
            assert _found(ALICE, fragment) == expected, fragment
            assert _found(ADMIN, fragment) == expected, fragment


def test_the_index_is_searched_with_the_rare_part_on_postgresql(app, monkeypatch) -> None:
    monkeypatch.setattr(trigram_search, "shares_of", lambda *_: trigram_shares(COMMON_HOST))
    with app.app_context():
        query = certificates._filtered(select(certificates.Certificate.id),
                                       CertificateFilters(q="host-4242"))
        sql = str(query.compile(dialect=db.engine.dialect,
                                compile_kwargs={"literal_binds": True}))
        dialect = db.engine.dialect.name
    if dialect == "postgresql":
        assert "4242%" in sql and "host-4242%" not in sql and "'host-4242') > 0" in sql
    else:
        assert "strpos" not in sql and "host-4242" in sql


def test_the_shares_come_from_the_sample_of_the_indexed_expression(app, inventory) -> None:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("pg_stats and the trigram index are PostgreSQL's")
        db.session.execute(text("ANALYZE certificates"))
        trigram_search._samples.clear()
        shares = trigram_search.shares_of(certificates.NAMES_INDEX, "lower")
        options = db.session.scalar(text(
            "SELECT reloptions FROM pg_class WHERE relname = :name"),
            {"name": certificates.NAMES_INDEX})
        db.session.rollback()
    assert shares["exa"] == pytest.approx(1.0)           # every name has "example"
    assert shares["hos"] == pytest.approx(6 / 8)         # all but www. and other.
    assert "gin_pending_list_limit=128" in options       # migration 0020_w18

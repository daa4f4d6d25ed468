"""CLM → Certificates: the inventory list, its filters and pagination, and one
certificate's page, with certificates issued by the real worker."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.models import Certificate, CertificateAuthority, CertificateLocation, User
from app.models.base import utcnow
from app.services.intake import request_from_values
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from tests.builders import add_domain, issuing_ca
from tests.conftest import login, make_user, post

ADMIN, ALICE, BOB = "admin@example.com", "alice@example.com", "bob@example.com"


# ---- helpers shared with test_downloads.py ------------------------------------------------

def issue(app, jobs, issuer: str, email: str, common_name: str = "www.example.com",
          sans: tuple[str, ...] = ("api.example.com",)) -> str:
    """A certificate issued by the real worker for an order of ``email``; returns its id."""
    values = {"common_name": common_name, "sans": list(sans), "organization": "Acme",
              "algorithm": "ec-256", "digest": "sha256", "validity_days": "90",
              "key_usage": ["digitalSignature"], "extended_key_usage": ["serverAuth"],
              "issuer_id": issuer}
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        request, problems = request_from_values(values)
        assert problems == []
        order, _ = submit_order(request, requester_for_user(user), pathway="wizard",
                                request_key=f"test:{uuid.uuid4()}")
        order_id = order.id
    jobs()
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(Certificate.order_id == order_id))
        assert cert is not None, "the worker did not issue the certificate"
        return str(cert.id)


def clone(app, certificate_id: str, **changes) -> str:
    """A cheap inventory row: a copy of a real certificate (same PEM) with its own id,
    serial and fingerprint, and ``changes`` applied. No order, no key unless given."""
    with app.app_context():
        source = db.session.get(Certificate, uuid.UUID(certificate_id))
        new_id = uuid.uuid4()
        columns = {c.key: getattr(source, c.key) for c in Certificate.__table__.columns}
        columns.update(id=new_id, order_id=None, encrypted_private_key=None,
                       serial_hex=new_id.hex[:16],
                       fingerprint_sha256=":".join(re.findall("..", new_id.hex.upper() * 2)),
                       created_at=utcnow())
        columns.update(changes)
        db.session.add(Certificate(**columns))
        db.session.commit()
        return str(new_id)


def client_for(app, email: str):
    client = app.test_client()
    login(client, email)
    return client


def make_world(app, jobs) -> str:
    """The domain, an admin, Alice and Bob (plain users), and an issuing CA (its id)."""
    add_domain(app, "example.com")
    make_user(app, ADMIN)
    make_user(app, ALICE, role="user", domains=("example.com",))
    make_user(app, BOB, role="user", domains=("example.com",))
    return issuing_ca(app, jobs)


@pytest.fixture
def alice_cert(app, jobs) -> str:
    return issue(app, jobs, make_world(app, jobs), ALICE)


def _user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def _names(html: str) -> list[str]:
    return re.findall(r'<tr data-certificate="[^"]+">\s*<td><a [^>]+>([^<]+)</a>', html)


# ---- list -----------------------------------------------------------------------------------

def test_users_see_their_own_certificates_and_admins_see_all(app, alice_cert) -> None:
    clone(app, alice_cert, common_name="bob.example.com", sans=["bob.example.com"],
          owner_user_id=_user_id(app, BOB))
    alice = client_for(app, ALICE).get("/certificates/").get_data(as_text=True)
    bob = client_for(app, BOB).get("/certificates/").get_data(as_text=True)
    admin = client_for(app, ADMIN).get("/certificates/").get_data(as_text=True)
    assert _names(alice) == ["www.example.com"]
    assert _names(bob) == ["bob.example.com"]
    assert sorted(_names(admin)) == ["bob.example.com", "www.example.com"]


def test_list_row_shows_the_inventory_columns(app, alice_cert) -> None:
    html = client_for(app, ALICE).get("/certificates/").get_data(as_text=True)
    row = html[html.index("<tr data-certificate"):html.index("</tr>", html.index("<tbody>"))]
    assert "www.example.com" in row and "api.example.com" in row           # CN, SANs
    assert "Test Issuing" in row and "Local PKI" in row and "ECDSA P-256" in row
    assert "89 days left" in row and re.search(r"\d{4}-\d{2}-\d{2}", row)  # expiry
    assert 'badge-active">active' in row and "Issued here" in row


def test_list_row_says_where_discovery_last_saw_the_certificate(app, alice_cert) -> None:
    """The newest of its endpoints and how many more; IPv6 in brackets; a certificate
    never seen by discovery says nothing."""
    seen = clone(app, alice_cert, common_name="seen.example.com", sans=["seen.example.com"],
                 source="discovered")
    with app.app_context():
        now = utcnow()
        for minutes, host in ((30, "old.example.com"), (1, "2001:db8::7"),
                              (10, "mid.example.com")):
            db.session.add(CertificateLocation(
                certificate_id=uuid.UUID(seen), host=host, port=8443,
                first_seen_at=now - timedelta(minutes=minutes),
                last_seen_at=now - timedelta(minutes=minutes)))
        db.session.commit()
    html = client_for(app, ADMIN).get("/certificates/").get_data(as_text=True)
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r'<tr data-certificate="([^"]+)">(.*?)</tr>', html, re.S)}
    assert re.search(r'data-field="locations">on \[2001:db8::7\]:8443 \+2 more<', rows[seen])
    assert 'data-field="locations"' not in rows[alice_cert]


def test_a_page_of_the_inventory_costs_four_statements(app, alice_cert) -> None:
    """Login (session and user in one), the page, where its rows were seen, the issuers;
    however many rows the page holds."""
    for index in range(30):
        clone(app, alice_cert, common_name=f"n{index}.example.com")
    client = client_for(app, ADMIN)
    client.get("/certificates/")
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        html = client.get("/certificates/").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(_names(html)) == 25
    assert len(statements) == 4, statements


def test_each_filter_and_the_search(app, alice_cert) -> None:
    with app.app_context():
        root_id = db.session.scalar(select(CertificateAuthority.id).where(
            CertificateAuthority.kind == "root"))
    now = utcnow()
    clone(app, alice_cert, common_name="old.example.com", sans=["old.example.com"],
          not_after=now - timedelta(days=3))
    clone(app, alice_cert, common_name="gone.example.com", sans=["gone.example.com"],
          revoked=True, revoked_at=now, revocation_reason="keyCompromise")
    clone(app, alice_cert, common_name="found.example.com", sans=["found.example.com"],
          source="discovered", issuer_ca_id=None, issuer_dn="CN=Someone Else")
    clone(app, alice_cert, common_name="soon.example.com",
          sans=["soon.example.com", "Mail.Example.com"], not_after=now + timedelta(days=10))
    clone(app, alice_cert, common_name="rooted.example.com", sans=["rooted.example.com"],
          issuer_ca_id=root_id)
    clone(app, alice_cert, common_name="bobs.example.com", owner_user_id=_user_id(app, BOB))
    client = client_for(app, ALICE)

    def names(**args) -> list[str]:
        response = client.get("/certificates/", query_string=args)
        assert response.status_code == 200
        return sorted(_names(response.get_data(as_text=True)))

    everything = names()
    assert len(everything) == 6 and "bobs.example.com" not in everything
    assert names(status="expired") == ["old.example.com"]
    assert names(status="revoked") == ["gone.example.com"]
    assert "old.example.com" not in names(status="active") \
        and "gone.example.com" not in names(status="active") and len(names(status="active")) == 4
    assert names(source="discovered") == ["found.example.com"]
    assert "found.example.com" not in names(source="managed")
    assert names(issuer=str(root_id)) == ["rooted.example.com"]
    assert names(expiring="30") == ["soon.example.com"]
    assert "old.example.com" not in names(expiring="3650")       # already expired: not "expiring"
    assert names(q="ROOTED") == ["rooted.example.com"]               # CN, case-insensitive
    assert names(q="mail.example") == ["soon.example.com"]           # a SAN
    assert "www.example.com" in names(q="api.exam")                  # the issued cert's SAN
    assert names(q="100%") == [] and names(q="_") == []              # LIKE wildcards escaped
    assert names(status="active", source="managed", q="soon") == ["soon.example.com"]
    # The issuer choices are the CAs that issued something visible, by name.
    html = client.get("/certificates/").get_data(as_text=True)
    assert re.findall(r'<option value="[0-9a-f-]{36}"\s*>([^<]+)</option>', html) == \
        ["Test Issuing", "Test Root"]
    # A value that cannot be used is ignored, with a word about it.
    bad = client.get("/certificates/?status=bogus&expiring=abc&issuer=nope") \
        .get_data(as_text=True)
    assert len(_names(bad)) == 6 and "Ignored status" in bad and "Ignored an unknown issuer" \
        in bad and "whole number of days" in bad


def test_keyset_pagination_over_two_pages(app, alice_cert) -> None:
    base = utcnow() - timedelta(hours=1)
    for i in range(29):
        # Two rows share a timestamp: the id breaks the tie, nothing is lost or repeated.
        clone(app, alice_cert, common_name=f"host{i:02d}.example.com",
              created_at=base + timedelta(seconds=min(i, 27)))
    client = client_for(app, ALICE)
    first = client.get("/certificates/").get_data(as_text=True)
    page1 = _names(first)
    assert len(page1) == 25 and page1[0] == "www.example.com"   # newest first
    older = re.search(r'href="([^"]*before=[^"]+)"[^>]*id="older"', first).group(1)
    older = older.replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    page2 = _names(second)
    assert len(page2) == 5 and 'id="older"' not in second and "« Newest" in second
    assert len(set(page1 + page2)) == 30
    assert page2[-1] == "host00.example.com"
    # Filters travel with the cursor.
    filtered = client.get("/certificates/?q=host").get_data(as_text=True)
    link = re.search(r'href="([^"]*)"[^>]*id="older"', filtered).group(1)
    assert "q=host" in link and "before=" in link
    assert len(_names(client.get(link.replace("&amp;", "&")).get_data(as_text=True))) == 4
    # An unreadable cursor shows the first page.
    assert _names(client.get("/certificates/?before=garbage").get_data(as_text=True)) == page1


def test_htmx_gets_only_the_results_and_the_form_works_without_js(app, alice_cert) -> None:
    client = client_for(app, ALICE)
    full = client.get("/certificates/?q=www")
    assert "HX-Request" in full.headers["Vary"]
    html = full.get_data(as_text=True)
    assert "<html" in html and 'hx-push-url="true"' in html and 'method="get"' in html
    assert 'value="www"' in html   # the bookmarked filter is shown in the form
    partial = client.get("/certificates/?q=www", headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert "HX-Request" in partial.headers["Vary"]
    assert body.lstrip().startswith('<section id="certificate-results">') and "<html" not in body
    assert _names(body) == ["www.example.com"]


def test_empty_states(app, alice_cert) -> None:
    make_user(app, "carol@example.com", role="user")
    empty = client_for(app, "carol@example.com").get("/certificates/").get_data(as_text=True)
    assert "No certificates in the inventory yet" in empty
    assert 'href="/request/"' in empty and "Request a certificate" in empty
    nothing = client_for(app, ALICE).get("/certificates/?q=nomatch").get_data(as_text=True)
    assert "No certificates match these filters" in nothing
    assert "No certificates in the inventory yet" not in nothing


def test_login_required(client) -> None:
    assert client.get("/certificates/").status_code in (302, 401)


# ---- detail ---------------------------------------------------------------------------------

def test_detail_shows_every_field_and_the_downloads(app, alice_cert) -> None:
    with app.app_context():
        cert = db.session.get(Certificate, uuid.UUID(alice_cert))
        db.session.expunge(cert)
    response = client_for(app, ALICE).get(f"/certificates/{alice_cert}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in ("www.example.com", "api.example.com", cert.issuer_dn.replace(",", ","),
                 "Local PKI", "ECDSA P-256", "SHA-256", cert.serial_hex, cert.fingerprint_sha256,
                 cert.not_before.strftime("%Y-%m-%d %H:%M"),
                 cert.not_after.strftime("%Y-%m-%d %H:%M"), "Days to expiry", "active",
                 "managed", f'href="/orders/{cert.order_id}"',
                 "Digital Signature <code>digitalSignature</code>",
                 "TLS Web Server Authentication <code>serverAuth</code>",
                 "-----BEGIN CERTIFICATE-----"):
        assert text in html, text
    for fmt in ("pem", "der", "chain", "fullchain", "p7b"):
        assert f'/certificates/{alice_cert}/download/{fmt}"' in html
    assert f'/certificates/{alice_cert}/export"' in html


def test_detail_of_a_csr_certificate_says_there_is_no_key(app, alice_cert) -> None:
    csr_made = clone(app, alice_cert, common_name="csr.example.com")
    html = client_for(app, ALICE).get(f"/certificates/{csr_made}").get_data(as_text=True)
    assert "generated outside the platform (CSR), so there is no key to download" in html
    assert f"/certificates/{csr_made}/export" not in html


def test_another_users_certificate_is_404_everywhere(app, alice_cert) -> None:
    bob = client_for(app, BOB)
    assert bob.get(f"/certificates/{alice_cert}").status_code == 404
    for fmt in ("pem", "der", "chain", "fullchain", "p7b", "nope"):
        assert bob.get(f"/certificates/{alice_cert}/download/{fmt}").status_code == 404, fmt
    assert bob.get(f"/certificates/{alice_cert}/export").status_code == 404
    assert post(bob, f"/certificates/{alice_cert}/export", {
        "format": "pkcs12", "passphrase": "a long export passphrase",
        "confirm": "a long export passphrase"}).status_code == 404
    alice = client_for(app, ALICE)
    assert alice.get("/certificates/not-a-uuid").status_code == 404
    assert alice.get(f"/certificates/{uuid.uuid4()}").status_code == 404
    assert alice.get(f"/certificates/{uuid.uuid4()}/download/pem").status_code == 404
    assert alice.get(f"/certificates/{alice_cert}/download/exe").status_code == 404
    assert client_for(app, ADMIN).get(f"/certificates/{alice_cert}").status_code == 200

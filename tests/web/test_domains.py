"""Admin → Domains: add, normalise, enable/disable, delete; bad input writes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Domain
from tests.conftest import make_user, post


def _names(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Domain.name).order_by(Domain.name)))


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action.like("domain.%")))


@pytest.mark.parametrize(("typed", "stored", "shown"), [
    ("Example.COM.", "example.com", "example.com"),
    ("  sub.example.org ", "sub.example.org", "sub.example.org"),
    ("bücher.example", "xn--bcher-kva.example", "bücher.example"),
    ("10.20.0.0/16", "10.20.0.0/16", "10.20.0.0/16"),
    ("192.0.2.7", "192.0.2.7/32", "192.0.2.7/32"),
    ("2001:DB8::/32", "2001:db8::/32", "2001:db8::/32"),
])
def test_add_normalises_the_name(app, admin_client, typed: str, stored: str, shown: str) -> None:
    response = post(admin_client, "/admin/domains/", {"name": typed})
    assert response.status_code == 302
    assert _names(app) == [stored]
    assert shown in admin_client.get("/admin/domains/").get_data(as_text=True)
    assert _audit_count(app) == 1


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Enter a domain such as example.com"),
    ("bad_name.com", "underscore"),
    ("*.example.com", "Wildcard entries are not allowed"),
    ("exa mple.com", "not a valid domain name"),
    ("-lead.example.com", "hyphen"),
    ("localhost", "at least two labels"),
    ("a" * 64 + ".com", "63"),
    ("10.0.0.5/24", "did you mean 10.0.0.0/24"),
    ("10.0.0.0/33", "not a valid"),
    ("x" * 400, "longer than any domain name"),
])
def test_bad_names_get_a_clear_message_and_write_nothing(app, admin_client, typed: str,
                                                         message: str) -> None:
    response = post(admin_client, "/admin/domains/", {"name": typed})
    assert response.status_code == 422
    assert message.lower() in response.get_data(as_text=True).lower()
    assert _names(app) == []
    assert _audit_count(app) == 0


def test_duplicate_is_refused_and_writes_nothing(app, admin_client) -> None:
    post(admin_client, "/admin/domains/", {"name": "example.com"})
    response = post(admin_client, "/admin/domains/", {"name": "EXAMPLE.com."})
    assert response.status_code == 422
    assert "example.com is already registered" in response.get_data(as_text=True)
    assert _names(app) == ["example.com"]
    assert _audit_count(app) == 1


def test_htmx_add_returns_the_panel_with_the_new_row(app, admin_client) -> None:
    response = post(admin_client, "/admin/domains/", {"name": "example.net"},
                    headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="domains-panel"')
    assert "example.net" in body and "Registered example.net" in body
    assert "HX-Request" in response.headers["Vary"]


def test_htmx_add_with_a_bad_name_returns_422_with_the_error(app, admin_client) -> None:
    response = post(admin_client, "/admin/domains/", {"name": "bad_name.com"},
                    headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "underscore" in response.get_data(as_text=True)


def test_disable_and_enable(app, admin_client) -> None:
    post(admin_client, "/admin/domains/", {"name": "example.com"})
    with app.app_context():
        domain_id = db.session.scalar(select(Domain.id))
    response = post(admin_client, f"/admin/domains/{domain_id}/enabled", {"enabled": "0"},
                    headers={"HX-Request": "true"})
    assert response.status_code == 200 and "disabled" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Domain, domain_id).enabled is False
    post(admin_client, f"/admin/domains/{domain_id}/enabled", {"enabled": "1"})
    with app.app_context():
        assert db.session.get(Domain, domain_id).enabled is True
    assert _audit_count(app) == 3


def test_delete_removes_the_domain_and_its_assignments(app, admin_client) -> None:
    post(admin_client, "/admin/domains/", {"name": "example.com"})
    user_id = make_user(app, "u@example.com", role="user", domains=("example.com",))
    with app.app_context():
        domain_id = db.session.scalar(select(Domain.id))
    assert post(admin_client, f"/admin/domains/{domain_id}/delete").status_code == 302
    assert _names(app) == []
    with app.app_context():
        from app.models import User
        assert db.session.get(User, user_id).domains == []


def _domain_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Domain.id).where(Domain.name == name))


def _delete(admin_client, app, name: str) -> str:
    response = post(admin_client, f"/admin/domains/{_domain_id(app, name)}/delete",
                    follow_redirects=True)
    return response.get_data(as_text=True)


def test_delete_refuses_a_domain_covering_an_order_or_certificate(app, admin_client,
                                                                  jobs) -> None:
    from tests.builders import issuing_ca
    from tests.web.test_certificates import issue

    for name in ("example.com", "example.net", "sub.example.org", "example.org"):
        post(admin_client, "/admin/domains/", {"name": name})
    issuer = issuing_ca(app, jobs)
    issue(app, jobs, issuer, "admin@example.com", "www.example.com", ("api.example.com",))
    issue(app, jobs, issuer, "admin@example.com", "deep.sub.example.org", ())
    body = _delete(admin_client, app, "example.com")
    assert ("example.com is used by 1 order (www.example.com) and 1 certificate "
            "(www.example.com), so it cannot be deleted; disable it instead.") in body
    # A label-suffix match: the parent of a registered subdomain covers its names too.
    assert "example.org is used by 1 order (deep.sub.example.org)" in \
        _delete(admin_client, app, "example.org")
    # Disabling stays possible; an unused domain is deleted.
    post(admin_client, f"/admin/domains/{_domain_id(app, 'example.com')}/enabled",
         {"enabled": "0"})
    assert "Deleted example.net." in _delete(admin_client, app, "example.net")
    assert _names(app) == ["example.com", "example.org", "sub.example.org"]
    with app.app_context():
        assert db.session.get(Domain, _domain_id(app, "example.com")).enabled is False


def test_a_name_only_in_the_sans_counts_and_lookalikes_do_not(app, admin_client,
                                                            jobs) -> None:
    from tests.builders import issuing_ca
    from tests.web.test_certificates import issue

    for name in ("example.com", "notexample.com", "example.co"):
        post(admin_client, "/admin/domains/", {"name": name})
    issuer = issuing_ca(app, jobs)
    issue(app, jobs, issuer, "admin@example.com", "www.notexample.com", ("x.example.com",))
    assert "example.com is used by 1 order (www.notexample.com)" in \
        _delete(admin_client, app, "example.com")
    assert "Deleted example.co." in _delete(admin_client, app, "example.co")


def test_delete_refuses_a_domain_a_courier_is_allowed(app, admin_client) -> None:
    from tests.api.conftest import make_courier

    for name in ("example.com", "dev.example.com", "10.0.0.0/8", "10.1.0.0/16"):
        post(admin_client, "/admin/domains/", {"name": name})
    make_courier(app, "web-01", domains=("dev.example.com",))
    make_courier(app, "lab", domains=("10.1.0.0/16",))
    assert "example.com is used by 1 courier (web-01)" in \
        _delete(admin_client, app, "example.com")
    assert "dev.example.com is used by 1 courier (web-01)" in \
        _delete(admin_client, app, "dev.example.com")
    assert "10.0.0.0/8 is used by 1 courier (lab)" in _delete(admin_client, app, "10.0.0.0/8")
    assert len(_names(app)) == 4


def test_delete_refuses_a_network_covering_an_order_ip(app, admin_client, jobs) -> None:
    from tests.builders import issuing_ca
    from tests.web.test_certificates import issue

    for name in ("example.com", "192.0.2.0/24", "198.51.100.0/24"):
        post(admin_client, "/admin/domains/", {"name": name})
    issuer = issuing_ca(app, jobs)
    issue(app, jobs, issuer, "admin@example.com", "www.example.com", ("192.0.2.10",))
    assert "192.0.2.0/24 is used by 1 order (www.example.com) and 1 certificate" in \
        _delete(admin_client, app, "192.0.2.0/24")
    assert "Deleted 198.51.100.0/24." in _delete(admin_client, app, "198.51.100.0/24")


def test_delete_names_the_policies_using_a_domain(app, admin_client) -> None:
    from tests.builders import add_policy

    post(admin_client, "/admin/domains/", {"name": "example.com"})
    add_policy(app, "Prod TLS", ["*.prod.example.com"], [])
    assert "example.com is used by 1 policy (Prod TLS)" in \
        _delete(admin_client, app, "example.com")


def test_unknown_domain_id_is_404(admin_client) -> None:
    assert post(admin_client, "/admin/domains/999/enabled", {"enabled": "0"}).status_code == 404


def test_empty_state_says_what_to_do(admin_client) -> None:
    body = admin_client.get("/admin/domains/").get_data(as_text=True)
    assert "No domains registered." in body

"""Messages that read well: a SAN error under the SAN it names, a policy's description once
however many of its rules are broken, why a policy took algorithms off the list, and
plurals. (The courier API's CSR names message: tests/api/test_csr_names_message.py.)"""
from __future__ import annotations

import re

import pytest

from tests.builders import add_domain, add_policy
from tests.conftest import login, make_user, post

USER = "user@example.com"
POLICY_TEXT = "Names under example.com follow the naming standard, see the wiki."


@pytest.fixture
def user_client(app, client):
    add_domain(app, "example.com")
    add_domain(app, "other.org")
    make_user(app, USER, role="user", domains=("example.com",))
    login(client, USER)
    return client


def _draft(client) -> str:
    location = client.get("/request/").headers["Location"]
    return re.search(r"/request/([0-9a-f-]{36})/", location).group(1)


def _names(client, draft: str, cn: str, sans: list[str]):
    return post(client, f"/request/{draft}/names",
                {"common_name": cn, "sans": sans, "nav": "next"})


def _san_inputs(html: str) -> list[str]:
    return re.findall(r'<input name="sans"[^>]*>', html)


def test_san_error_is_under_the_san_it_names(user_client) -> None:
    draft = _draft(user_client)
    response = _names(user_client, draft, "www.example.com",
                      ["api.example.com", "www.other.org", "not a name!"])
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    inputs = _san_inputs(html)
    assert "aria-invalid" not in inputs[0]
    assert 'aria-invalid="true" aria-describedby="san-1-error"' in inputs[1]
    assert 'aria-invalid="true" aria-describedby="san-2-error"' in inputs[2]
    outside = html.split('id="san-1-error"')[1].split("</div>")[0]
    assert "www.other.org is not under your assigned domains" in outside
    invalid = html.split('id="san-2-error"')[1].split("</div>")[0]
    assert 'data-code="name.invalid"' in invalid and "not a name!" in invalid
    # Each message sits right after its own row, before the next row starts.
    assert html.index('id="san-1-error"') < html.index(inputs[2])


def test_one_message_about_two_sans_highlights_both_and_shows_once(user_client) -> None:
    draft = _draft(user_client)
    html = _names(user_client, draft, "www.example.com",
                  ["a.other.org", "b.other.org"]).get_data(as_text=True)
    inputs = _san_inputs(html)
    assert all('aria-invalid="true"' in i for i in inputs)
    assert html.count("a.other.org and b.other.org are not under") == 1
    assert 'id="san-0-error"' in html and 'id="san-1-error"' not in html


def test_policy_description_is_shown_once_per_policy(app, user_client) -> None:
    add_policy(app, "Naming", ["*.example.com"], [
        {"action": "disable_wildcard", "fail": "hard"},
        {"action": "block_email_in_san", "fail": "hard"},
        {"action": "require_san", "fail": "soft"}], description=POLICY_TEXT)
    draft = _draft(user_client)
    html = _names(user_client, draft, "*.example.com", ["ops@example.com"]).get_data(
        as_text=True)
    assert 'data-code="policy.disable_wildcard"' in html
    assert 'data-code="policy.block_email_in_san"' in html
    assert html.count(POLICY_TEXT) == 1
    assert '<p data-policy="Naming"><strong>Naming</strong>: ' + POLICY_TEXT in html


def test_each_violation_is_its_own_line(app, user_client) -> None:
    add_policy(app, "Naming", ["*.example.com"], [
        {"action": "disable_wildcard", "fail": "hard"},
        {"action": "enforce_domain_suffix", "fail": "hard",
         "values": {"suffix": "prod.example.com"}}])
    draft = _draft(user_client)
    html = _names(user_client, draft, "*.example.com", []).get_data(as_text=True)
    field = html.split('for="f-common_name"')[1].split("</label>")[0]
    assert field.count('<small class="error"') == 2
    # Rendered as blocks (app.css: small.error { display: block }), never run together.
    css = app.test_client().get("/static/app.css").get_data(as_text=True)
    assert "small.error { display: block; }" in css


def test_a_minimum_size_that_removes_every_ec_curve_says_why(app, user_client, jobs) -> None:
    from tests.builders import issuing_ca

    issuer = issuing_ca(app, jobs)
    add_policy(app, "Strong keys", ["*.example.com"], [
        {"action": "enforce_minimum_key_size", "fail": "hard", "values": {"minimum_bits": 3072}}])
    draft = _draft(user_client)
    assert _names(user_client, draft, "www.example.com", []).status_code == 303
    post(user_client, f"/request/{draft}/subject", {"nav": "next"})
    html = user_client.get(f"/request/{draft}/crypto").get_data(as_text=True)
    select = html.split('id="f-algorithm"')[1].split("</label>")[0]
    assert re.findall(r'<option value="([^"]+)"', select) == ["rsa-3072", "rsa-4096"]
    assert ('data-limited-by="Strong keys"' in select
            and "requires keys of at least 3072 bits, which no EC curve offers" in select)
    assert issuer


def test_domain_in_use_message_counts_in_words(app, admin_client) -> None:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Domain

    add_domain(app, "example.com")
    add_policy(app, "One", ["*.example.com"], [{"action": "disable_wildcard", "fail": "hard"}])
    with app.app_context():
        domain_id = db.session.scalar(select(Domain.id).where(Domain.name == "example.com"))
    response = post(admin_client, f"/admin/domains/{domain_id}/delete", follow_redirects=True)
    body = response.get_data(as_text=True)
    assert "is used by 1 policy (One)" in body and "1 policies" not in body

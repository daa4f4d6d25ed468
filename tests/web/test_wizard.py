"""The request wizard without a browser: every step as plain form posts."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CertificateAlert, Order, WizardDraft
from tests.builders import add_domain, add_policy, count, issuing_ca
from tests.conftest import login, make_user, post

USER = "user@example.com"


@pytest.fixture
def user_client(app, client):
    add_domain(app, "example.com")
    add_domain(app, "other.org")
    make_user(app, USER, role="user", domains=("example.com",))
    login(client, USER)
    return client


def _start(client) -> str:
    response = client.get("/request/")
    assert response.status_code == 302
    match = re.search(r"/request/([0-9a-f-]{36})/", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def _step(client, draft: str, step: str, data: dict, nav: str = "next", **kwargs):
    return post(client, f"/request/{draft}/{step}", {**data, "nav": nav}, **kwargs)


def _through_crypto(client, draft: str, issuer: str, crypto: dict | None = None,
                    subject: dict | None = None, names: dict | None = None):
    assert _step(client, draft, "names", names or {"common_name": "www.example.com",
                                                   "sans": ["api.example.com"]}).status_code == 303
    assert _step(client, draft, "subject", subject or {"organization": "Acme"}).status_code == 303
    return _step(client, draft, "crypto", {"issuer_id": issuer, "algorithm": "ec-256",
                                           "digest": "sha256", "validity_days": "365",
                                           "key_usage": ["digitalSignature"],
                                           "extended_key_usage": ["serverAuth"],
                                           **(crypto or {})})


def _orders(app) -> list[Order]:
    with app.app_context():
        rows = list(db.session.scalars(select(Order)))
        for row in rows:
            db.session.expunge(row)
        return rows


def test_happy_path_creates_one_pending_order(app, user_client, jobs) -> None:
    issuer = issuing_ca(app, jobs)
    draft = _start(user_client)
    assert _through_crypto(user_client, draft, issuer).status_code == 303
    review = user_client.get(f"/request/{draft}/review").get_data(as_text=True)
    assert "www.example.com" in review and "api.example.com" in review
    response = _step(user_client, draft, "review", {}, nav="submit")
    assert response.status_code == 303 and "/orders/" in response.headers["Location"]
    (order,) = _orders(app)
    assert order.status == "pending" and order.pathway == "wizard"
    assert order.request["common_name"] == "www.example.com"
    assert order.request["issuer_id"] == issuer
    page = user_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "www.example.com" in page and "pending" in page
    # A submitted draft cannot be submitted again.
    again = _step(user_client, draft, "review", {}, nav="submit")
    assert again.status_code == 303
    assert len(_orders(app)) == 1


def test_name_outside_the_users_domains_is_refused_by_name(app, user_client) -> None:
    draft = _start(user_client)
    response = _step(user_client, draft, "names", {"common_name": "www.other.org"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "www.other.org" in body and "name.outside_scope" in body
    response = _step(user_client, draft, "names", {"common_name": "www.nowhere.net"})
    assert response.status_code == 422 and "name.not_registered" in response.get_data(as_text=True)
    assert count(app, Order) == 0


def test_sibling_string_is_not_covered(app, user_client) -> None:
    draft = _start(user_client)
    response = _step(user_client, draft, "names", {"common_name": "badexample.com"})
    assert response.status_code == 422


def test_no_active_domain_disables_continue(app, client) -> None:
    make_user(app, USER, role="user")
    login(client, USER)
    draft = _start(client)
    body = client.get(f"/request/{draft}/names").get_data(as_text=True)
    assert 'id="continue" disabled' in body
    assert "Ask an administrator" in body


def test_no_active_domain_links_admins_to_domains(app, admin_client) -> None:
    draft = _start(admin_client)
    body = admin_client.get(f"/request/{draft}/names").get_data(as_text=True)
    assert 'href="/admin/domains/"' in body and 'id="continue" disabled' in body


@pytest.mark.parametrize(("names", "message"), [
    ({"common_name": ""}, "name.missing"),
    ({"common_name": "exa mple.example.com"}, "name.invalid"),
    ({"common_name": "www.example.com", "sans": ["not valid!.example.com"]}, "name.invalid"),
    ({"common_name": "*.*.example.com"}, "name.invalid"),
    ({"common_name": "10.0.0.1"}, "name.invalid"),
])
def test_bad_names_get_a_message_and_do_not_advance(app, user_client, names, message) -> None:
    draft = _start(user_client)
    response = _step(user_client, draft, "names", names)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(WizardDraft, __import__("uuid").UUID(draft)).step == 0


@pytest.mark.parametrize(("crypto", "code"), [
    ({"validity_days": "0"}, "validity.out_of_range"),
    ({"validity_days": "5000"}, "validity.out_of_range"),
    ({"validity_days": "ten"}, "validity.invalid"),
    ({"algorithm": "rsa-1024"}, "algorithm"),
    ({"digest": "md5"}, "digest"),
    ({"key_usage": ["keyEncipherment"]}, "key_usage.ec_encipherment"),
    ({"key_usage": ["flyingCertificates"]}, "key_usage.unknown"),
    ({"issuer_id": "00000000-0000-0000-0000-000000000000"}, "provider.unavailable"),
    ({"key_usage": []}, "key_usage.missing"),
    ({"extended_key_usage": []}, "extended_key_usage.missing"),
])
def test_out_of_range_crypto_values_are_refused(app, user_client, jobs, crypto, code) -> None:
    issuer = issuing_ca(app, jobs)
    draft = _start(user_client)
    response = _through_crypto(user_client, draft, issuer, crypto=crypto)
    assert response.status_code == 422
    assert code in response.get_data(as_text=True)
    assert _step(user_client, draft, "review", {}, nav="submit").status_code == 422
    assert count(app, Order) == 0


def test_locked_values_are_shown_and_tampering_is_refused(app, user_client, jobs) -> None:
    issuer = issuing_ca(app, jobs, algorithm="ec-384")  # signs with SHA-384, as enforced
    add_policy(app, "Corp identity", ["*.example.com"], [
        {"action": "enforce_values", "fail": "hard", "values": {"organization": "Acme Ltd"}},
        {"action": "enforce_algorithm", "fail": "hard", "values": {"algorithm": "ec-384"}},
        {"action": "enforce_digest", "fail": "hard", "values": {"digest": "sha384"}}])
    draft = _start(user_client)
    _step(user_client, draft, "names", {"common_name": "www.example.com"})
    subject = user_client.get(f"/request/{draft}/subject").get_data(as_text=True)
    assert 'value="Acme Ltd"' in subject and 'data-locked-by="Corp identity"' in subject
    tampered = _step(user_client, draft, "subject", {"organization": "Evil Corp"})
    assert tampered.status_code == 422
    assert "policy.enforce_values" in tampered.get_data(as_text=True)
    # An empty locked field is filled with the enforced value.
    assert _step(user_client, draft, "subject", {"organization": ""}).status_code == 303
    crypto = user_client.get(f"/request/{draft}/crypto").get_data(as_text=True)
    assert crypto.count('data-locked-by="Corp identity"') >= 2
    tampered = _step(user_client, draft, "crypto", {
        "issuer_id": issuer, "algorithm": "rsa-2048", "digest": "sha256",
        "validity_days": "365", "key_usage": ["digitalSignature"]})
    assert tampered.status_code == 422
    body = tampered.get_data(as_text=True)
    assert "policy.enforce_algorithm" in body and "policy.enforce_digest" in body
    ok = _step(user_client, draft, "crypto", {
        "issuer_id": issuer, "algorithm": "ec-384", "digest": "sha384",
        "validity_days": "365", "key_usage": ["digitalSignature"],
        "extended_key_usage": ["serverAuth"]})
    assert ok.status_code == 303
    _step(user_client, draft, "review", {}, nav="submit")
    (order,) = _orders(app)
    assert order.request["organization"] == "Acme Ltd"
    assert order.request["algorithm"] == "ec-384" and order.request["digest"] == "sha384"


def test_hard_rule_blocks_submit_and_soft_rule_warns(app, user_client, jobs) -> None:
    issuer = issuing_ca(app, jobs)
    add_policy(app, "Short lived", ["*.example.com"], [
        {"action": "enforce_max_validity", "fail": "soft", "values": {"max_days": 90}}])
    draft = _start(user_client)
    response = _through_crypto(user_client, draft, issuer)  # asks 365 days
    assert response.status_code == 303
    review = user_client.get(f"/request/{draft}/review").get_data(as_text=True)
    assert "policy.enforce_max_validity" in review and "flash-warning" in review
    assert 'id="submit-request" disabled' not in review
    assert _step(user_client, draft, "review", {}, nav="submit").status_code == 303
    (order,) = _orders(app)
    with app.app_context():
        alert = db.session.scalar(select(CertificateAlert))
        assert alert.type == "policy_soft_fail" and alert.order_id == order.id

    add_policy(app, "No wildcards", ["*.example.com"], [
        {"action": "disable_wildcard", "fail": "hard"}])
    draft = _start(user_client)
    response = _step(user_client, draft, "names", {"common_name": "*.example.com"})
    assert response.status_code == 422
    assert "policy.disable_wildcard" in response.get_data(as_text=True)
    # Submitting the draft directly (skipping the steps) meets the same gate.
    review = _step(user_client, draft, "review", {}, nav="submit")
    assert review.status_code == 422
    assert 'id="submit-request" disabled' in review.get_data(as_text=True)
    assert len(_orders(app)) == 1


def test_alerts_are_recorded_once_per_request_and_rule(app, user_client, jobs) -> None:
    issuing_ca(app, jobs)
    add_policy(app, "No wildcards", ["*.example.com"], [
        {"action": "disable_wildcard", "fail": "hard"},
        {"action": "require_san", "fail": "soft"}])
    draft = _start(user_client)
    for _ in range(4):
        assert _step(user_client, draft, "names",
                     {"common_name": "*.example.com"}).status_code == 422
    with app.app_context():
        rows = list(db.session.scalars(select(CertificateAlert)))
    assert sorted((a.type, a.rule) for a in rows) == [
        ("policy_hard_fail", "disable_wildcard"), ("policy_soft_fail", "require_san")]
    # Another request by the same user is another request: its own alerts.
    other = post(user_client, "/request/new").headers["Location"].split("/")[2]
    _step(user_client, other, "names", {"common_name": "*.example.com"})
    assert count(app, CertificateAlert) == 4


def test_back_keeps_values_and_reload_resumes(app, user_client) -> None:
    draft = _start(user_client)
    _step(user_client, draft, "names", {"common_name": "www.example.com",
                                         "sans": ["a.example.com", "b.example.com"]})
    _step(user_client, draft, "subject", {"organization": "Acme", "country": "GB"}, nav="back")
    names = user_client.get(f"/request/{draft}/names").get_data(as_text=True)
    assert 'value="b.example.com"' in names
    assert _start(user_client) == draft  # /request/ resumes the same draft
    subject = user_client.get(f"/request/{draft}/subject").get_data(as_text=True)
    assert 'value="Acme"' in subject and 'value="GB"' in subject


def test_skipping_ahead_is_not_possible(app, user_client) -> None:
    draft = _start(user_client)
    response = user_client.get(f"/request/{draft}/review")
    assert response.status_code == 302 and response.headers["Location"].endswith("/names")


def test_htmx_step_returns_the_next_partial_and_pushes_its_url(app, user_client) -> None:
    draft = _start(user_client)
    response = _step(user_client, draft, "names", {"common_name": "www.example.com"},
                     headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["HX-Push-Url"] == f"/request/{draft}/subject"
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="wizard-step" data-step="subject"')
    invalid = _step(user_client, draft, "names", {"common_name": "x.other.org"},
                    headers={"HX-Request": "true"})
    assert invalid.status_code == 422
    assert invalid.get_data(as_text=True).lstrip().startswith('<section id="wizard-step"')


def test_add_and_remove_san_rows_without_javascript(app, user_client) -> None:
    draft = _start(user_client)
    response = _step(user_client, draft, "names", {"common_name": "www.example.com",
                                                    "sans": ["a.example.com"]}, nav="add_san")
    assert response.get_data(as_text=True).count('name="sans"') == 2
    response = _step(user_client, draft, "names", {"common_name": "www.example.com",
                                                    "sans": ["a.example.com", "b.example.com"]},
                     nav="remove_san:0")
    body = response.get_data(as_text=True)
    assert 'value="b.example.com"' in body and 'value="a.example.com"' not in body


def test_another_users_draft_is_404(app, user_client) -> None:
    draft = _start(user_client)
    make_user(app, "other@example.com", role="user", domains=("example.com",))
    other = app.test_client()
    login(other, "other@example.com")
    assert other.get(f"/request/{draft}/names").status_code == 404
    assert post(other, f"/request/{draft}/names", {"common_name": "x.example.com"}) \
        .status_code == 404


def test_another_users_order_is_404(app, user_client, jobs) -> None:
    issuer = issuing_ca(app, jobs)
    draft = _start(user_client)
    _through_crypto(user_client, draft, issuer)
    location = _step(user_client, draft, "review", {}, nav="submit").headers["Location"]
    make_user(app, "other@example.com", role="user", domains=("example.com",))
    other = app.test_client()
    login(other, "other@example.com")
    assert other.get(location).status_code == 404
    assert user_client.get(location).status_code == 200


def test_ec_key_offers_no_key_encipherment(app, user_client, jobs) -> None:
    issuer = issuing_ca(app, jobs)
    draft = _start(user_client)
    _through_crypto(user_client, draft, issuer)
    body = user_client.get(f"/request/{draft}/crypto").get_data(as_text=True)
    assert re.search(r'value="keyEncipherment"[^>]*disabled', body)
    assert "cannot encipher" in body


def test_an_ecdsa_issuer_locks_the_digest_with_the_reason(app, user_client, jobs) -> None:
    issuing_ca(app, jobs, algorithm="ec-384")
    draft = _start(user_client)
    _step(user_client, draft, "names", {"common_name": "www.example.com"})
    _step(user_client, draft, "subject", {})
    crypto = user_client.get(f"/request/{draft}/crypto").get_data(as_text=True)
    assert 'data-locked-by="issuer"' in crypto
    assert "P-384 issuer signs with SHA-384" in crypto
    assert '<input type="hidden" name="digest" value="sha384">' in crypto


def test_usages_are_described_in_words_on_the_crypto_step_and_the_review(
        app, user_client, jobs) -> None:
    """The seed's descriptions beside the identifiers (issue 9), where the user chooses
    them and where they confirm them."""
    issuer = issuing_ca(app, jobs)
    draft = _start(user_client)
    assert _step(user_client, draft, "names", {"common_name": "www.example.com"}) \
        .status_code == 303
    assert _step(user_client, draft, "subject", {"organization": "Acme"}).status_code == 303
    crypto = user_client.get(f"/request/{draft}/crypto").get_data(as_text=True)
    for words in ("Digital Signature", "TLS Web Server Authentication",
                  "TLS Web Client Authentication"):
        assert words in crypto, words
    assert _through_crypto(user_client, draft, issuer, crypto={
        "extended_key_usage": ["serverAuth", "clientAuth"]}).status_code == 303
    review = user_client.get(f"/request/{draft}/review").get_data(as_text=True)
    for words in ("Digital Signature", "TLS Web Server Authentication",
                  "TLS Web Client Authentication"):
        assert words in review, words

"""A validity past the issuing intermediate's notAfter is cut there, never silently: the
soft warning ``validity.clamped_to_issuer`` with the real end date at the crypto step, on
review, on the CSR page and in the API's 202 ``warnings``; the certificate ends then."""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, CertificateAuthority, Order
from tests.api.conftest import API, bearer, make_courier, make_csr, token_for
from tests.builders import add_domain, issuing_ca
from tests.conftest import login, make_user, post

USER = "clamp@example.com"
CODE = "validity.clamped_to_issuer"


@pytest.fixture
def short_issuer(app, jobs) -> tuple[str, str]:
    """An intermediate valid for 30 days; returns its id and its notAfter as shown."""
    add_domain(app, "example.com")
    issuer = issuing_ca(app, jobs, validity_days=30)
    make_user(app, USER, role="user", domains=("example.com",))
    with app.app_context():
        end = db.session.get(CertificateAuthority, uuid.UUID(issuer)).not_after
    return issuer, end.strftime("%Y-%m-%d %H:%M UTC")


def _warnings(html: str) -> list[str]:
    """The texts of the warning, beside the field or among the step's messages."""
    found = re.findall(rf'data-code="{re.escape(CODE)}">([^<]*)<', html) + \
        re.findall(rf'data-code="{re.escape(CODE)}">\s*<svg.*?</svg>\s*([^<]*)<', html, re.S)
    return [text for text in found if text.strip()]


def test_wizard_warns_at_the_crypto_step_and_on_review(app, jobs, short_issuer) -> None:
    issuer, end = short_issuer
    client = app.test_client()
    login(client, USER)
    draft = re.search(r"/request/([0-9a-f-]{36})/", client.get("/request/")
                      .headers["Location"]).group(1)
    assert post(client, f"/request/{draft}/names",
                {"common_name": "www.example.com", "nav": "next"}).status_code == 303
    assert post(client, f"/request/{draft}/subject", {"nav": "next"}).status_code == 303
    crypto = client.get(f"/request/{draft}/crypto").get_data(as_text=True)
    (shown,) = _warnings(crypto)  # the default 365 days outlive the 30-day issuer
    assert end in shown and "365 days" in shown
    values = {"issuer_id": issuer, "algorithm": "ec-256", "digest": "sha256",
              "validity_days": "90", "key_usage": ["digitalSignature"],
              "extended_key_usage": ["serverAuth"]}
    refreshed = post(client, f"/request/{draft}/crypto", {**values, "nav": "refresh"})
    assert "90 days" in _warnings(refreshed.get_data(as_text=True))[0]
    fits = post(client, f"/request/{draft}/crypto", {**values, "validity_days": "7",
                                                      "nav": "refresh"})
    assert _warnings(fits.get_data(as_text=True)) == []
    assert post(client, f"/request/{draft}/crypto", {**values, "nav": "next"}) \
        .status_code == 303
    review = client.get(f"/request/{draft}/review").get_data(as_text=True)
    (shown,) = _warnings(review)
    assert end in shown
    assert post(client, f"/request/{draft}/review", {"nav": "submit"}).status_code == 303
    jobs()
    with app.app_context():
        cert = db.session.scalar(select(Certificate))
        assert cert.not_after.strftime("%Y-%m-%d %H:%M UTC") == end


def test_csr_page_warns(app, short_issuer) -> None:
    issuer, end = short_issuer
    client = app.test_client()
    login(client, USER)
    response = post(client, "/request/csr", {
        "csr": make_csr(), "options": "1", "nav": "check", "issuer_id": issuer,
        "digest": "sha256", "validity_days": "90", "key_usage": ["digitalSignature"],
        "extended_key_usage": ["serverAuth"]})
    (shown,) = _warnings(response.get_data(as_text=True))
    assert end in shown


def test_api_202_carries_the_warning_with_the_end_date(app, short_issuer) -> None:
    _, end = short_issuer
    courier = make_courier(app, "clamp-courier")
    client = app.test_client()
    response = client.post(f"{API}/certificates", headers=bearer(token_for(client, courier)),
                           json={"csr": make_csr(), "validity_days": 90})
    assert response.status_code == 202, response.get_json()
    (warning,) = response.get_json()["warnings"]
    assert warning["code"] == CODE and warning["field"] == "validity_days"
    assert end in warning["message"]
    with app.app_context():
        assert db.session.scalar(select(Order.id)) is not None

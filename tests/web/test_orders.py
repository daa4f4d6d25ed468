"""Orders page and the live order page (status fragment, resubmit), through the web."""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Order, User
from app.services.intake import request_from_values
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from tests.builders import add_domain, issuing_ca
from tests.conftest import login, make_user, post


def _submit(app, email: str, cn: str = "www.example.com", issuer: str | None = None) -> str:
    values = {"common_name": cn, "algorithm": "ec-256", "digest": "sha256",
              "validity_days": "30", "key_usage": ["digitalSignature"],
              "extended_key_usage": ["serverAuth"], "issuer_id": issuer}
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        request, _ = request_from_values(values)
        order, _ = submit_order(request, requester_for_user(user), pathway="wizard",
                                request_key=f"t:{uuid.uuid4()}")
        return str(order.id)


@pytest.fixture
def setup(app, jobs):
    add_domain(app, "example.com")
    make_user(app)
    make_user(app, "u1@example.com", role="user", domains=("example.com",))
    make_user(app, "u2@example.com", role="user", domains=("example.com",))
    return issuing_ca(app, jobs)


def test_status_fragment_polls_until_terminal_then_stops(app, client, setup, jobs) -> None:
    order_id = _submit(app, "u1@example.com", issuer=setup)
    login(client, "u1@example.com")
    pending = client.get(f"/orders/{order_id}/status", headers={"HX-Request": "true"})
    body = pending.get_data(as_text=True)
    assert pending.headers["Cache-Control"] == "no-store"
    assert body.lstrip().startswith('<section id="order-detail" data-status="pending"')
    assert 'hx-trigger="every 1s"' in body
    jobs()
    done = client.get(f"/orders/{order_id}/status", headers={"HX-Request": "true"})
    body = done.get_data(as_text=True)
    assert 'data-status="complete"' in body and "hx-trigger" not in body
    assert 'id="certificate-link"' in body


def test_order_of_another_user_is_404_on_page_and_fragment(app, client, setup) -> None:
    order_id = _submit(app, "u1@example.com", issuer=setup)
    login(client, "u2@example.com")
    assert client.get(f"/orders/{order_id}").status_code == 404
    assert client.get(f"/orders/{order_id}/status").status_code == 404
    assert post(client, f"/orders/{order_id}/resubmit").status_code == 404
    assert client.get("/orders/not-a-uuid").status_code == 404


def test_failed_order_shows_the_error_and_resubmit_opens_a_prefilled_review(
        app, client, setup, jobs) -> None:
    from app.services import domains

    order_id = _submit(app, "u1@example.com", issuer=setup)
    with app.app_context():
        domains.set_enabled(domains.find_domain("example.com"), False)
    jobs()
    login(client, "u1@example.com")
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert 'id="order-error"' in page and "www.example.com" in page and "Traceback" not in page
    with app.app_context():
        domains.set_enabled(domains.find_domain("example.com"), True)
    response = post(client, f"/orders/{order_id}/resubmit")
    assert response.status_code == 303 and response.headers["Location"].endswith("/review")
    review = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "www.example.com" in review
    submitted = post(client, response.headers["Location"], {"nav": "submit"})
    assert submitted.status_code == 303
    with app.app_context():
        assert db.session.query(Order).count() == 2


def test_orders_page_counts_filters_and_scope(app, client, setup, jobs) -> None:
    for i in range(3):
        _submit(app, "u1@example.com", cn=f"a{i}.example.com", issuer=setup)
    jobs()
    _submit(app, "u1@example.com", cn="pending.example.com", issuer=setup)
    _submit(app, "u2@example.com", cn="theirs.example.com", issuer=setup)
    login(client, "u1@example.com")
    page = client.get("/orders/").get_data(as_text=True)
    assert re.search(r'data-status="complete"><header>Complete</header><p class="big" '
                     r'data-count="3"', page)
    assert 'data-count="1"' in page and "theirs.example.com" not in page
    filtered = client.get("/orders/?status=pending").get_data(as_text=True)
    assert "pending.example.com" in filtered and "a0.example.com" not in filtered
    searched = client.get("/orders/?q=A1.EXAMPLE").get_data(as_text=True)
    assert "a1.example.com" in searched and "a2.example.com" not in searched
    partial = client.get("/orders/?status=complete", headers={"HX-Request": "true"})
    assert partial.get_data(as_text=True).lstrip().startswith('<section id="order-results">')
    assert "HX-Request" in partial.headers["Vary"]
    admin = app.test_client()
    login(admin)
    everything = admin.get("/orders/?requester=user&requested_by=u2").get_data(as_text=True)
    assert "theirs.example.com" in everything and "a0.example.com" not in everything


def test_orders_page_keyset_pagination(app, client, setup) -> None:
    for i in range(30):
        _submit(app, "u1@example.com", cn=f"n{i:02d}.example.com", issuer=setup)
    login(client, "u1@example.com")
    first = client.get("/orders/").get_data(as_text=True)
    assert "n29.example.com" in first and "n04.example.com" not in first
    cursor = re.search(r'href="/orders/\?before=([^"&]+)', first).group(1)
    second = client.get(f"/orders/?before={cursor}").get_data(as_text=True)
    assert "n04.example.com" in second and "n00.example.com" in second
    assert "n05.example.com" not in second


def test_bad_filter_values_are_ignored_safely(app, client, setup) -> None:
    login(client, "u1@example.com")
    response = client.get("/orders/?status=bogus&type=%27;drop&before=garbage&q=%25")
    assert response.status_code == 200


def test_redis_down_at_submit_keeps_the_order_pending_with_a_note(app, client, setup,
                                                                  monkeypatch) -> None:
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    order_id = _submit(app, "u1@example.com", issuer=setup)
    monkeypatch.undo()
    login(client, "u1@example.com")
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert 'data-status="pending"' in page and "could not be reached" in page


def test_resubmitting_a_csr_order_sends_the_same_csr_again(app, client, setup, jobs) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    from app.pki.csr import build_csr
    from app.pki.encoding import certificate_to_pem  # noqa: F401  (PEM helpers live there)
    from app.pki.keys import generate_private_key
    from app.services import domains
    from app.services.intake import parse_csr_input, request_from_csr

    key = generate_private_key("ec-256")
    pem = build_csr(key, "csr.example.com").public_bytes(Encoding.PEM)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "u1@example.com"))
        parsed, problems = parse_csr_input(pem)
        assert problems == []
        request, problems = request_from_csr(parsed, {"digest": "sha256",
                                                      "validity_days": "30",
                                                      "key_usage": ["digitalSignature"],
                                                      "extended_key_usage": ["serverAuth"],
                                                      "issuer_id": setup})
        order, _ = submit_order(request, requester_for_user(user), pathway="csr_upload",
                                request_key="csr-test", csr_pem=parsed.pem)
        order_id = str(order.id)
        domains.set_enabled(domains.find_domain("example.com"), False)
    jobs()
    with app.app_context():
        domains.set_enabled(domains.find_domain("example.com"), True)
    login(client, "u1@example.com")
    response = post(client, f"/orders/{order_id}/resubmit")
    assert response.status_code == 303 and "/orders/" in response.headers["Location"]
    jobs()
    with app.app_context():
        orders = list(db.session.scalars(select(Order).order_by(Order.submitted_at)))
        assert [o.status for o in orders] == ["failed", "complete"], [o.error for o in orders]
        assert orders[1].csr_pem == orders[0].csr_pem
        assert orders[1].certificate.encrypted_private_key is None

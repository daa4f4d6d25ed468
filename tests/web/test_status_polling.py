"""The polled order-status fragment: a finished order's fragment is revalidated with its
ETag (304, no body); an open order's is never stored."""
from __future__ import annotations

from tests.conftest import login
from tests.web.test_orders import _submit
from tests.web.test_orders import setup as setup  # the fixture

HTMX = {"HX-Request": "true"}


def test_finished_order_fragment_answers_304_to_its_etag(app, client, setup, jobs) -> None:
    order_id = _submit(app, "u1@example.com", issuer=setup)
    login(client, "u1@example.com")
    pending = client.get(f"/orders/{order_id}/status", headers=HTMX)
    assert pending.headers["Cache-Control"] == "no-store" and "ETag" not in pending.headers
    jobs()
    done = client.get(f"/orders/{order_id}/status", headers=HTMX)
    etag = done.headers["ETag"]
    assert done.status_code == 200 and 'data-status="complete"' in done.get_data(as_text=True)
    assert done.headers["Cache-Control"] == "private, no-cache"
    again = client.get(f"/orders/{order_id}/status", headers={**HTMX, "If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    stale = client.get(f"/orders/{order_id}/status", headers={**HTMX, "If-None-Match": '"x"'})
    assert stale.status_code == 200 and stale.headers["ETag"] == etag


def test_etag_does_not_open_another_users_order(app, client, setup, jobs) -> None:
    order_id = _submit(app, "u1@example.com", issuer=setup)
    jobs()
    login(client, "u1@example.com")
    etag = client.get(f"/orders/{order_id}/status", headers=HTMX).headers["ETag"]
    other = app.test_client()
    login(other, "u2@example.com")
    answer = other.get(f"/orders/{order_id}/status", headers={**HTMX, "If-None-Match": etag})
    assert answer.status_code == 404

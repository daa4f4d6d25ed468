"""Admin → Audit log: newest first, paginated."""
from __future__ import annotations

from app.extensions import db
from app.services import audit


def test_audit_log_is_newest_first_and_paginated(app, admin_client) -> None:
    with app.app_context():
        for i in range(30):
            audit.record("test.event", resource_type="thing", resource_id=i, details={"n": i},
                         actor_label="script")
        db.session.commit()
    first = admin_client.get("/admin/audit/").get_data(as_text=True)
    assert first.index("n: 29") < first.index("n: 28")
    assert "n: 5<" in first and "n: 4<" not in first and "Older" in first
    older = first.split('href="/admin/audit/?before=')[1].split('"')[0]
    second = admin_client.get(f"/admin/audit/?before={older}").get_data(as_text=True)
    assert "n: 4<" in second and "n: 29<" not in second
    assert "auth.login" in second  # the admin's own login, the oldest event


def test_failed_login_shows_in_the_audit_log(app, admin_client) -> None:
    other = app.test_client()
    from tests.conftest import csrf_token
    other.post("/login", data={"email": "admin@example.com", "password": "nope nope",
                               "csrf_token": csrf_token(other)})
    body = admin_client.get("/admin/audit/").get_data(as_text=True)
    assert "failure" in body and "bad_credentials" in body

"""Admin → Audit log: filters in the URL, resources by name with links, compact times, the
streamed CSV / JSON export of the filtered view, and the events the worker records
(certificate issued, order failed with its reason, CA generated or not)."""
from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Certificate, CertificateAuthority, Order, User
from app.services import audit, domains, pki
from app.services.intake import request_from_values
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from tests.builders import add_domain, issuing_ca
from tests.conftest import login, make_user


def _events(app, *specs: tuple[str, str, str, str, datetime | None]) -> None:
    """(action, outcome, actor, resource id, timestamp)."""
    with app.app_context():
        for action, outcome, actor, resource, when in specs:
            event = audit.record(action, outcome=outcome, actor_label=actor,
                                 resource_type=action.split(".")[0], resource_id=resource,
                                 details={"n": action})
            if when is not None:
                event.timestamp = when
        db.session.commit()


def _actions(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('<tr data-action="')[1:]]


def test_filters_are_in_the_url_and_combine(app, admin_client) -> None:
    old = datetime(2025, 3, 1, 12, tzinfo=UTC)
    _events(app, ("order.submit", "success", "alice@example.com", "1", None),
            ("order.fail", "failure", "system", "2", None),
            ("policy.update", "success", "bob@example.com", "3", None),
            ("order.submit", "success", "bob@example.com", "4", old))
    by_action = admin_client.get("/admin/audit/?action=order.submit").get_data(as_text=True)
    assert _actions(by_action) == ["order.submit", "order.submit"]
    family = admin_client.get("/admin/audit/?action=order.*").get_data(as_text=True)
    assert sorted(_actions(family)) == ["order.fail", "order.submit", "order.submit"]
    actor = admin_client.get("/admin/audit/?actor=BOB&resource_type=order").get_data(
        as_text=True)
    assert _actions(actor) == ["order.submit"]
    failed = admin_client.get("/admin/audit/?outcome=failure").get_data(as_text=True)
    assert _actions(failed) == ["order.fail"]
    dated = admin_client.get("/admin/audit/?since=2025-03-01&until=2025-03-01").get_data(
        as_text=True)
    assert _actions(dated) == ["order.submit"]
    # The form shows the filters it applied, and the export links carry them.
    assert '<option value="order.submit" selected>' in by_action
    assert "/admin/audit/export.csv?action=order.submit" in by_action


def test_bad_filter_values_are_explained_not_fatal(admin_client) -> None:
    page = admin_client.get("/admin/audit/?outcome=maybe&since=yesterday")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Ignored outcome &#39;maybe&#39;" in body and "use YYYY-MM-DD" in body


def test_filters_survive_paging(app, admin_client) -> None:
    _events(app, *[("thing.made", "success", "script", str(i), None) for i in range(30)],
            *[("other.made", "success", "script", str(i), None) for i in range(5)])
    first = admin_client.get("/admin/audit/?action=thing.made").get_data(as_text=True)
    older = first.split('id="older"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert "action=thing.made" in older
    second = admin_client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert set(_actions(first) + _actions(second)) == {"thing.made"}
    assert len(_actions(first) + _actions(second)) == 30


def test_resources_by_name_with_links_while_they_exist(app, admin_client) -> None:
    with app.app_context():
        domains.add_domain("kept.example")
        gone = domains.add_domain("gone.example")
        domains.delete_domain(gone)
        user = db.session.scalar(select(User).where(User.email == "admin@example.com"))
        user_id = user.id
    body = admin_client.get("/admin/audit/").get_data(as_text=True)
    assert '<a href="/admin/domains/" data-resource="domain">kept.example</a>' in body
    assert 'title="No longer on the platform">gone.example</span>' in body
    # Logins name the account (by e-mail) and link to it.
    assert f'<a href="/admin/users/{user_id}" data-resource="user">admin@example.com</a>' \
        in body


def test_time_column_is_compact_with_the_full_time_as_title(app, admin_client) -> None:
    long_ago = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    _events(app, ("thing.made", "success", "script", "1", long_ago))
    body = admin_client.get("/admin/audit/?action=thing.made").get_data(as_text=True)
    assert ('<time datetime="2024-01-02T03:04:05+00:00" title="2024-01-02 03:04 UTC">'
            '2024-01-02</time>') in body


def _csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_csv_export_is_the_filtered_view_streamed_in_batches(app, admin_client) -> None:
    app.config["AUDIT_EXPORT_BATCH_SIZE"] = 7
    try:
        _events(app, *[("thing.made", "success", "script", str(i), None) for i in range(30)],
                ("other.made", "failure", "=HYPERLINK(\"http://x\")", "x", None))
        response = admin_client.get("/admin/audit/export.csv?action=thing.made")
        assert response.is_streamed
        assert response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"].startswith(
            'attachment; filename="audit-')
        rows = _csv(response)
        assert [r["resource_id"] for r in rows] == [str(i) for i in reversed(range(30))]
        assert {r["action"] for r in rows} == {"thing.made"}
        assert json.loads(rows[0]["details"]) == {"n": "thing.made"}
        # A cell a spreadsheet would run as a formula is defused.
        other = _csv(admin_client.get("/admin/audit/export.csv?outcome=failure"))
        assert [r["actor"] for r in other if r["action"] == "other.made"] == \
            ["'=HYPERLINK(\"http://x\")"]
    finally:
        app.config.pop("AUDIT_EXPORT_BATCH_SIZE")


def test_json_export_and_the_export_itself_is_audited(app, admin_client) -> None:
    _events(app, *[("thing.made", "success", "script", str(i), None) for i in range(3)])
    response = admin_client.get("/admin/audit/export.json?action=thing.made")
    data = json.loads(response.get_data(as_text=True))
    assert [e["resource_id"] for e in data] == ["2", "1", "0"]
    assert set(data[0]) == {"id", "timestamp", "actor", "action", "resource_type",
                            "resource_id", "outcome", "source_ip", "details"}
    empty = admin_client.get("/admin/audit/export.json?action=nothing.here")
    assert json.loads(empty.get_data(as_text=True)) == []
    with app.app_context():
        exports = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "audit.export").order_by(AuditEvent.id)).all()
        assert [e.details for e in exports] == [
            {"format": "json", "filters": {"action": "thing.made"}},
            {"format": "json", "filters": {"action": "nothing.here"}}]


def test_only_auditors_may_export(app, client) -> None:
    add_domain(app, "example.com")
    make_user(app, "pki@example.com", role="pki_admin")
    login(client, "pki@example.com")
    assert client.get("/admin/audit/export.csv").status_code == 403
    assert client.get("/admin/audit/").status_code == 403


# ---- what the worker records --------------------------------------------------------------

@pytest.fixture
def issuer(app, jobs) -> str:
    add_domain(app, "example.com")
    make_user(app, "u1@example.com", role="user", domains=("example.com",))
    return issuing_ca(app, jobs)


def _submit(app, email: str, issuer: str) -> str:
    values = {"common_name": "www.example.com", "algorithm": "ec-256", "digest": "sha256",
              "validity_days": "30", "key_usage": ["digitalSignature"],
              "extended_key_usage": ["serverAuth"], "issuer_id": issuer}
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        request, _ = request_from_values(values)
        order, _ = submit_order(request, requester_for_user(user), pathway="wizard",
                                request_key=f"t:{uuid.uuid4()}")
        return str(order.id)


def test_issuance_and_ca_generation_are_audited(app, issuer, admin_client, jobs) -> None:
    order_id = _submit(app, "u1@example.com", issuer)
    jobs()
    with app.app_context():
        cert = db.session.scalar(select(Certificate))
        event = db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "certificate.issue"))
        assert event.resource_type == "certificate" and event.resource_id == str(cert.id)
        assert event.details["order_id"] == order_id
        assert event.details["serial"] == cert.serial_hex
        assert event.details["requested_by"] == "u1@example.com"
        generated = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "ca.generate").order_by(AuditEvent.id)).all()
        assert [(e.outcome, e.details["kind"]) for e in generated] == [
            ("success", "root"), ("success", "intermediate")]
        cert_id = str(cert.id)
    body = admin_client.get("/admin/audit/?action=certificate.issue").get_data(as_text=True)
    assert f'<a href="/certificates/{cert_id}" data-resource="certificate">www.example.com' \
        in body


def test_failed_order_is_audited_with_its_reason(app, issuer, jobs) -> None:
    order_id = _submit(app, "u1@example.com", issuer)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "u1@example.com"))
        user.enabled = False
        db.session.commit()
    jobs()
    with app.app_context():
        order = db.session.get(Order, uuid.UUID(order_id))
        assert order.status == "failed"
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "order.fail"))
        assert event.outcome == "failure" and event.resource_id == order_id
        assert event.details["reason"] == order.error and "disabled" in order.error
        assert event.details["common_name"] == "www.example.com"


def test_failed_ca_generation_is_audited_with_its_reason(app, jobs) -> None:
    with app.app_context():
        root = pki.request_root(pki.CAParameters(common_name="Audit Root", algorithm="ec-256",
                                                        organization="Audit", country="DE"))
        root_id = root.id
    jobs()
    with app.app_context():
        inter = pki.request_intermediate(pki.CAParameters(
            common_name="Audit Issuing", algorithm="ec-256", validity_days=30,
            organization="Audit", country="DE"), root_id)
        inter_id = inter.id
        # The root goes offline before the worker gets to the intermediate.
        root = db.session.get(CertificateAuthority, root_id)
        root.encrypted_private_key = None
        root.key_removed_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    jobs()
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "ca.generate", AuditEvent.outcome == "failure"))
        assert event.resource_id == str(inter_id)
        assert "cannot sign" in event.details["reason"]
        assert event.details["common_name"] == "Audit Issuing"

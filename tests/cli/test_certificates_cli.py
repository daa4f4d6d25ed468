"""``flask certificates renew ID --json``: renews for the original requester, in their
channel and scope, through the same gate as every request."""
from __future__ import annotations

import json
import uuid

import pytest

from app.domain.request import CertificateRequest
from app.extensions import db
from app.models import Certificate, Order, User
from tests.builders import add_domain, count, issuing_ca
from tests.conftest import make_user

CLI_FAILURE = 2


@pytest.fixture
def issued(app, jobs) -> str:
    """A certificate a plain user requested for www.example.com (platform key)."""
    from app.services.orders import submit_order
    from app.services.requesters import requester_for_user

    add_domain(app, "example.com")
    issuing_ca(app, jobs)
    user_id = make_user(app, "alice@example.com", role="user", domains=("example.com",))
    with app.app_context():
        request = CertificateRequest(
            common_name="www.example.com", algorithm="ec-256", digest="sha256",
            validity_days=30, key_usage=("digitalSignature",),
            extended_key_usage=("serverAuth",))
        order, _ = submit_order(request, requester_for_user(db.session.get(User, user_id)),
                                pathway="wizard", request_key=f"test:{uuid.uuid4().hex}")
        order_id = order.id
    jobs()
    with app.app_context():
        return str(db.session.get(Order, order_id).certificate.id)


def _renew(app, *args: str):
    return app.test_cli_runner().invoke(args=["certificates", "renew", *args])


def test_renew_prints_the_linked_order_and_it_completes(app, jobs, issued) -> None:
    result = _renew(app, issued, "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["status"] == "pending" and body["pathway"] == "wizard"
    assert body["renews_certificate_id"] == issued
    assert body["requested_by"] == "alice@example.com"
    jobs()
    with app.app_context():
        order = db.session.get(Order, uuid.UUID(body["order_id"]))
        assert order.status == "complete", order.error
        old = db.session.get(Certificate, uuid.UUID(issued))
        assert order.certificate.owner_user_id == old.owner_user_id
        assert order.certificate.fingerprint_sha256 != old.fingerprint_sha256
        assert str(order.renews_order_id) == body["renews_order_id"] == str(old.order_id)

    again = _renew(app, issued, "--json")
    assert again.exit_code == CLI_FAILURE
    assert json.loads(again.stderr)["error"]["code"] == "renewal.exists"


def test_a_renewal_outside_the_requesters_scope_is_refused(app, issued) -> None:
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "alice@example.com"))
        user.domains = []
        db.session.commit()
    orders = count(app, Order)
    result = _renew(app, issued, "--json")
    assert result.exit_code == CLI_FAILURE
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "request.rejected"
    assert [d["code"] for d in error["details"]] == ["name.outside_scope"]
    assert count(app, Order) == orders


def test_bad_ids_and_a_missing_csr_file_are_clear_errors(app, issued, tmp_path) -> None:
    result = _renew(app, str(uuid.uuid4()), "--json")
    assert result.exit_code == CLI_FAILURE
    assert json.loads(result.stderr)["error"]["code"] == "certificate.not_found"
    missing = _renew(app, issued, "--csr", str(tmp_path / "nope.csr"), "--json")
    assert missing.exit_code == CLI_FAILURE
    assert json.loads(missing.stderr)["error"]["code"] == "file.unreadable"
    junk = tmp_path / "junk.csr"
    junk.write_text("not a csr")
    bad = _renew(app, issued, "--csr", str(junk), "--json")
    assert bad.exit_code == CLI_FAILURE
    assert json.loads(bad.stderr)["error"]["details"][0]["code"] == "csr.invalid"


def test_the_expiry_scan_command_alerts_once(app) -> None:
    from tests.notifications.conftest import add_certificate

    add_certificate(app, "soon.example.com", 3)
    first = app.test_cli_runner().invoke(args=["certificates", "expiry-scan", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["alerts"]["expiring_7"] == 1
    again = app.test_cli_runner().invoke(args=["certificates", "expiry-scan", "--json"])
    assert json.loads(again.output)["alerts_total"] == 0


def test_renew_with_revoke_predecessor_revokes_the_old_one_once_issued(app, jobs,
                                                                      issued) -> None:
    result = _renew(app, issued, "--revoke-predecessor", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    with app.app_context():
        assert not db.session.get(Certificate, uuid.UUID(issued)).revoked
    jobs()
    with app.app_context():
        order = db.session.get(Order, uuid.UUID(body["order_id"]))
        assert order.status == "complete", order.error
        old = db.session.get(Certificate, uuid.UUID(issued))
        assert old.revoked and old.revocation_reason == "superseded"
        assert not order.certificate.revoked

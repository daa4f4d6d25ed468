"""The Discovery pages: import (upload and paste), scan form and its progress page, roles,
and Request a replacement from a discovered certificate."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Certificate, DiscoveryScan, ScanTarget, WizardDraft
from tests.conftest import login, make_user, post
from tests.discovery.certs import key_pem, pem


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("role, status", [("user", 403), ("pki_admin", 403),
                                          ("deployment_admin", 200), ("super_admin", 200)])
def test_only_deployment_and_super_admins_may_use_discovery(app, client, role, status):
    make_user(app, "someone@example.com", role=role)
    login(client, "someone@example.com")
    assert client.get("/discovery/").status_code == status
    allowed = status == 200
    assert post(client, "/discovery/import", {"pem": "x"}).status_code == (
        422 if allowed else 403)      # allowed: "x" is no certificate
    assert post(client, "/discovery/scans", {"targets": "a.example:443"}).status_code == (
        303 if allowed else 403)


def test_upload_a_bundle_and_see_a_result_per_certificate(app, admin_client, endpoints):
    pki = endpoints["pki"]
    leaf = pki.leaves["chain.example.test"][0]
    data = {"file": (io.BytesIO(pem(leaf, pki.inter, leaf)), "bundle.pem")}
    response = post(admin_client, "/discovery/import", data,
                    content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 certificate added, 1 already known, 1 kept as chain, 0 refused" in html
    # The scan form beside it keeps its default (save for the re-scan: on).
    assert re.search(r'<input checked[^>]*name="save"|name="save"[^>]*checked', html)
    assert 'data-result="chain"' in html and "Appears earlier in this upload" in html
    assert _count(app, Certificate) == 1


def test_a_pasted_bundle_with_a_key_is_refused_with_its_reason(app, admin_client, endpoints):
    leaf, key = endpoints["pki"].leaves["chain.example.test"]
    response = post(admin_client, "/discovery/import",
                    {"pem": (pem(leaf) + key_pem(key)).decode()})
    assert response.status_code == 422
    assert "private key" in response.get_data(as_text=True)
    assert _count(app, Certificate) == 0


def test_an_empty_import_says_what_to_do(app, admin_client):
    response = post(admin_client, "/discovery/import", {"pem": "  "})
    assert response.status_code == 422
    assert "Choose a certificate file or paste" in response.get_data(as_text=True)


def test_the_scan_form_starts_a_scan_and_its_page_shows_the_results(app, admin_client, jobs,
                                                                    endpoints):
    ep = endpoints["endpoints"]
    response = post(admin_client, "/discovery/scans",
                    {"targets": f"{ep['chain']}\n{ep['refused']}", "save": "y"})
    assert response.status_code == 303
    page = response.headers["Location"]
    pending = admin_client.get(page, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-status="pending"' in pending and 'hx-trigger="every 1s"' in pending
    jobs()
    done = admin_client.get(page, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-status="complete"' in done and "every 1s" not in done
    assert f'data-endpoint="{ep["chain"]}" data-result="ok"' in done
    assert f'data-endpoint="{ep["refused"]}" data-result="refused"' in done
    assert "chain.example.test" in done
    assert _count(app, ScanTarget) == 2
    index = admin_client.get("/discovery/").get_data(as_text=True)
    assert ep["chain"] in index and "saved-targets" in index


def test_a_bad_target_is_shown_next_to_the_field_and_nothing_is_stored(app, admin_client):
    response = post(admin_client, "/discovery/scans", {"targets": "ok.example:443 bad:99999"})
    assert response.status_code == 422
    assert "the port must be a number from 1 to 65535" in response.get_data(as_text=True)
    assert _count(app, DiscoveryScan) == 0


def test_the_inventory_shows_source_location_and_last_seen(app, admin_client, jobs,
                                                          endpoints):
    post(admin_client, "/discovery/scans", {"targets": endpoints["endpoints"]["chain"]})
    jobs()
    listing = admin_client.get("/certificates/?source=discovered").get_data(as_text=True)
    assert "chain.example.test" in listing
    assert f"on {endpoints['endpoints']['chain']}" in listing and "last seen" in listing
    with app.app_context():
        cert_id = db.session.scalar(select(Certificate.id))
    detail = admin_client.get(f"/certificates/{cert_id}").get_data(as_text=True)
    assert 'id="certificate-locations"' in detail and "Discovered" in detail


def test_request_a_replacement_opens_the_wizard_prefilled(app, admin_client, endpoints):
    leaf = endpoints["pki"].leaves["chain.example.test"][0]
    post(admin_client, "/discovery/import", {"pem": pem(leaf).decode()})
    with app.app_context():
        cert_id = db.session.scalar(select(Certificate.id))
    response = post(admin_client, f"/certificates/{cert_id}/replace")
    assert response.status_code == 303
    assert re.search(r"/request/[0-9a-f-]+/names$", response.headers["Location"])
    with app.app_context():
        draft = db.session.scalar(select(WizardDraft))
        assert draft.data["common_name"] == "chain.example.test"
        assert draft.data["organization"] == "Discovery Test" and draft.data["country"] == "DE"
    names = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'value="chain.example.test"' in names


def test_another_users_replacement_of_an_unseen_certificate_is_404(app, client, endpoints):
    leaf = endpoints["pki"].leaves["chain.example.test"][0]
    make_user(app)
    make_user(app, "plain@example.com", role="user")
    with app.app_context():
        from app.services import discovery_import

        discovery_import.import_certificates(pem(leaf))
        cert_id = db.session.scalar(select(Certificate.id))
    login(client, "plain@example.com")
    assert post(client, f"/certificates/{cert_id}/replace").status_code == 404
    assert _count(app, WizardDraft) == 0


def test_an_oversize_upload_is_refused_with_a_message(app, admin_client):
    data = {"file": (io.BytesIO(b"-" * (2 * 1024 * 1024)), "huge.pem")}
    response = post(admin_client, "/discovery/import", data,
                    content_type="multipart/form-data")
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)
    assert _count(app, Certificate) == 0


def test_a_scan_no_worker_started_says_so(app, admin_client):
    from datetime import timedelta

    with app.app_context():
        from app.services import discovery_scan

        scan = discovery_scan.create_scan("stalled.example.com:443", actor=None)
        page = f"/discovery/scans/{scan.id}"
        assert "is the worker running" not in admin_client.get(page).get_data(as_text=True)
        scan.created_at = scan.created_at - timedelta(minutes=2)
        db.session.commit()
    html = admin_client.get(page).get_data(as_text=True)
    assert "No worker has started this scan" in html and 'hx-trigger="every 1s"' in html

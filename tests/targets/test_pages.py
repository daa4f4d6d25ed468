"""The Bridges and Target systems pages (deployment admins, super admins): create with
every refusal shown next to its field and nothing written; edit, save unchanged; the
live status fragment; other roles get 403 and unknown ids 404."""
from __future__ import annotations

import uuid

import pytest
from flask import Flask

from app.models import Bridge, CertificateProfile, Order, TargetSystem
from tests.builders import add_domain, count, issuing_ca
from tests.conftest import login, make_user, post
from tests.targets.helpers import bridge_keypair, make_bridge, make_target

TARGET_FORM = {"name": "web-1", "kind": "nginx", "path_fullchain": "/etc/nginx/tls/full.pem",
               "path_key": "/etc/nginx/tls/key.pem", "file_mode": "644", "key_mode": "600",
               "reload_command": "systemctl reload nginx", "reload_timeout": "30",
               "probe_host": "127.0.0.1", "probe_port": "443", "probe_sni": ""}


@pytest.fixture
def deploy_admin(app: Flask, client):
    make_user(app, "deploy@example.com", role="deployment_admin")
    login(client, "deploy@example.com")
    return client


def test_other_roles_are_refused(app: Flask, client) -> None:
    make_user(app, "pki@example.com", role="pki_admin")
    login(client, "pki@example.com")
    for path in ("/bridges/", "/bridges/new", "/targets/", "/targets/new"):
        assert client.get(path).status_code == 403


def test_bridge_create_shows_the_secret_once_and_refuses_bad_input(app, deploy_admin):
    bad = post(deploy_admin, "/bridges/new", {"name": "dc1", "public_key": "nope",
                                              "poll_interval": "30"})
    assert bad.status_code == 422 and "not a PEM public key" in bad.get_data(as_text=True)
    slow = post(deploy_admin, "/bridges/new", {"name": "dc1", "public_key":
                                               bridge_keypair()[1], "poll_interval": "0"})
    assert slow.status_code == 422 and "poll interval" in slow.get_data(as_text=True)
    assert count(app, Bridge) == 0
    ok = post(deploy_admin, "/bridges/new", {"name": "dc1", "public_key": bridge_keypair()[1],
                                             "poll_interval": "30"})
    html = ok.get_data(as_text=True)
    assert ok.status_code == 200 and "shown only once" in html
    assert ok.headers["Cache-Control"] == "no-store"
    listing = deploy_admin.get("/bridges/").get_data(as_text=True)
    assert "dc1" in listing and "no contact yet" in listing


def test_target_create_edit_unchanged_and_errors(app, deploy_admin):
    bridge = make_bridge(app)
    form = {**TARGET_FORM, "bridge": bridge.id}
    bad = post(deploy_admin, "/targets/new", {**form, "path_key": "key.pem",
                                              "reload_command": "", "key_mode": "644"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "must be an absolute file path" in html and "Enter the reload command" in html
    assert "must not be readable" in html
    assert count(app, TargetSystem) == 0
    created = post(deploy_admin, "/targets/new", form)
    assert created.status_code == 302
    target_path = created.headers["Location"]
    page = deploy_admin.get(target_path).get_data(as_text=True)
    assert "No deployments yet" in page and "/etc/nginx/tls/full.pem" in page
    unchanged = post(deploy_admin, target_path, {**form, "enabled": "y"},
                     follow_redirects=True)
    assert "Nothing changed." in unchanged.get_data(as_text=True)
    edited = post(deploy_admin, target_path, {**form, "enabled": "y",
                                              "reload_command": "nginx -s reload"},
                  follow_redirects=True)
    assert "Saved target system" in edited.get_data(as_text=True)
    refused = post(deploy_admin, target_path, {**form, "enabled": "y", "probe_port": "0"})
    assert refused.status_code == 422 and "1 to 65535" in refused.get_data(as_text=True)
    with app.app_context():
        from sqlalchemy import select

        from app.extensions import db
        row = db.session.scalar(select(TargetSystem))
        assert row.reload_command == "nginx -s reload" and row.probe_port == 443
    assert deploy_admin.get(f"/targets/{uuid.uuid4()}").status_code == 404


def test_profile_add_edit_and_refusal(app, deploy_admin, jobs):
    add_domain(app, "example.com")
    issuing_ca(app, jobs)
    target_id = make_target(app, make_bridge(app))
    refused = post(deploy_admin, f"/targets/{target_id}/profiles",
                   {"name": "web", "common_name": "web.example.org", "algorithm": "ec-256",
                    "enabled": "y"})
    assert refused.status_code == 422
    assert "example.org" in refused.get_data(as_text=True)
    assert count(app, CertificateProfile) == 0 and count(app, Order) == 0
    added = post(deploy_admin, f"/targets/{target_id}/profiles",
                 {"name": "web", "common_name": "web.example.com", "algorithm": "ec-256",
                  "validity_days": "30", "enabled": "y"}, follow_redirects=True)
    assert "its first certificate is being ordered" in added.get_data(as_text=True)
    assert count(app, Order) == 1
    jobs()
    status = deploy_admin.get(f"/targets/{target_id}/status", headers={"HX-Request": "true"})
    fragment = status.get_data(as_text=True)
    assert fragment.lstrip().startswith("<section") and 'data-status="pending"' in fragment
    with app.app_context():
        from sqlalchemy import select

        from app.extensions import db
        profile_id = db.session.scalar(select(CertificateProfile.id))
    path = f"/profiles/{profile_id}".join(["/targets", ""])
    values = {"name": "web", "common_name": "web.example.com", "algorithm": "ec-256",
              "validity_days": "30", "enabled": "y"}
    same = post(deploy_admin, path, values, follow_redirects=True)
    assert "Nothing changed." in same.get_data(as_text=True)
    bad = post(deploy_admin, path, {**values, "common_name": "x.example.org"})
    assert bad.status_code == 422
    saved = post(deploy_admin, path, {**values, "renew_before_days": "10"},
                 follow_redirects=True)
    assert "Saved profile" in saved.get_data(as_text=True)
    assert count(app, Order) == 1          # an edit orders nothing by itself
    orders = deploy_admin.get("/orders/?requester=target_system").get_data(as_text=True)
    assert "Target system web-1" in orders


def test_deployment_alerts_show_on_the_alerts_page(app, deploy_admin,
                                                                        jobs):
    from datetime import timedelta

    from app.models.base import utcnow
    from app.services import deployments

    add_domain(app, "example.com")
    issuing_ca(app, jobs)
    from tests.targets.helpers import make_profile
    make_profile(app, make_target(app, make_bridge(app)))
    jobs()
    with app.app_context():
        assert deployments.raise_overdue(utcnow() + timedelta(days=2)) == 1
    html = deploy_admin.get("/certificates/alerts/").get_data(as_text=True)
    assert "Not deployed" in html and "is not confirmed served" in html
    assert "Target system web-1" in html

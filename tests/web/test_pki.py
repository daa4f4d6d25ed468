"""Admin → Local PKI through the web, with a real RQ worker draining the queue."""
from __future__ import annotations

import re
import subprocess

import pytest
from cryptography import x509
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import AuditEvent, CertificateAuthority
from tests.conftest import post
from tests.tools import find_tool

ROOT_FORM = {"common_name": "Test Root CA", "organization": "Acme", "country": "GB",
             "algorithm": "ec-384", "digest": "sha384", "validity_days": "3650"}


def _cas(app) -> list[CertificateAuthority]:
    with app.app_context():
        rows = list(db.session.scalars(select(CertificateAuthority)
                                       .order_by(CertificateAuthority.created_at)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _make_root(app, client, jobs, **overrides) -> CertificateAuthority:
    response = post(client, "/admin/pki/roots/new", {**ROOT_FORM, **overrides})
    assert response.status_code == 302, response.get_data(as_text=True)
    jobs()
    return next(ca for ca in _cas(app)
                if ca.common_name == overrides.get("common_name", ROOT_FORM["common_name"]))


def _make_intermediate(app, client, jobs, root, name: str = "Test Issuing CA",
                       **overrides) -> CertificateAuthority:
    response = post(client, "/admin/pki/intermediates/new", {
        **ROOT_FORM, "common_name": name, "parent_id": str(root.id), "validity_days": "1825",
        "extended_key_usage": ["serverAuth", "clientAuth"], **overrides})
    assert response.status_code == 302, response.get_data(as_text=True)
    jobs()
    return next(ca for ca in _cas(app) if ca.common_name == name)


def test_root_is_pending_until_the_worker_generates_it(app, admin_client, jobs) -> None:
    response = post(admin_client, "/admin/pki/roots/new", ROOT_FORM)
    ca_id = response.headers["Location"].rsplit("/", 1)[-1]
    page = admin_client.get(f"/admin/pki/{ca_id}", headers={"HX-Request": "true"})
    body = page.get_data(as_text=True)
    assert 'data-status="pending"' in body and 'hx-trigger="every 1s"' in body
    assert page.headers["Cache-Control"] == "no-store"
    jobs()
    body = admin_client.get(f"/admin/pki/{ca_id}", headers={"HX-Request": "true"}) \
        .get_data(as_text=True)
    assert 'data-status="active"' in body
    assert "hx-trigger" not in body  # settled: the fragment stops polling
    assert "BEGIN CERTIFICATE" in body


def test_root_and_intermediate_verify_and_lint_clean(app, admin_client, jobs, tmp_path) -> None:
    root = _make_root(app, admin_client, jobs)
    inter = _make_intermediate(app, admin_client, jobs, root, algorithm="rsa-2048",
                               digest="sha384")
    assert root.status == inter.status == "active"
    (tmp_path / "root.pem").write_text(root.certificate_pem)
    chain = admin_client.get(f"/admin/pki/{inter.id}/chain.pem")
    assert chain.headers["Content-Disposition"].startswith("attachment;")
    (tmp_path / "chain.pem").write_bytes(chain.data)
    (tmp_path / "inter.pem").write_text(inter.certificate_pem)
    assert chain.data.decode().startswith(inter.certificate_pem)
    result = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile",
                             str(tmp_path / "root.pem"), str(tmp_path / "inter.pem")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    for name in ("root.pem", "inter.pem"):
        lint = subprocess.run([find_tool("lint_pkix_cert"), "lint", "-s", "ERROR",
                               str(tmp_path / name)], capture_output=True, text=True, check=False)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    cert = x509.load_pem_x509_certificate(inter.certificate_pem.encode())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0


def test_private_keys_are_never_stored_in_clear(app, admin_client, jobs) -> None:
    root = _make_root(app, admin_client, jobs)
    _make_intermediate(app, admin_client, jobs, root)
    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM certificate_authorities")).all()
    raw = " ".join(str(value) for row in rows for value in row)
    assert "PRIVATE KEY" not in raw and "aes256gcm:testkek:" in raw
    assert len(rows) == 2


@pytest.mark.parametrize(("overrides", "message"), [
    ({"common_name": "X"}, "between 3 and 64 characters"),
    ({"common_name": "x" * 65}, "between 3 and 64 characters"),
    ({"country": "GBR"}, "longer than 2"),
    ({"country": "g1"}, "Country"),
    ({"algorithm": "rsa-1024"}, "Not a valid choice"),
    ({"digest": "md5"}, "Not a valid choice"),
    ({"validity_days": "0"}, "between 1 and 9125"),
    ({"validity_days": "99999"}, "between 1 and 9125"),
    ({"validity_days": "ten"}, "Not a valid integer"),
])
def test_bad_ca_parameters_get_a_message_and_write_nothing(app, admin_client, overrides,
                                                           message: str) -> None:
    response = post(admin_client, "/admin/pki/roots/new", {**ROOT_FORM, **overrides})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _cas(app) == []


def test_duplicate_common_name_is_refused(app, admin_client, jobs) -> None:
    _make_root(app, admin_client, jobs)
    response = post(admin_client, "/admin/pki/roots/new", {**ROOT_FORM,
                                                           "common_name": "test root ca"})
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)
    assert len(_cas(app)) == 1


def test_intermediate_needs_an_active_root(app, admin_client) -> None:
    page = admin_client.get("/admin/pki/intermediates/new").get_data(as_text=True)
    assert "No active root can sign an intermediate" in page
    response = post(admin_client, "/admin/pki/intermediates/new", {
        **ROOT_FORM, "common_name": "Orphan", "parent_id": "not-a-root"})
    assert response.status_code == 422
    assert _cas(app) == []


def test_generation_job_runs_twice_safely(app, admin_client, jobs) -> None:
    from app.services.ca_generation import generate_ca

    root = _make_root(app, admin_client, jobs)
    with app.app_context():
        assert generate_ca(str(root.id)) == "skipped"
    again = _cas(app)[0]
    assert again.certificate_pem == root.certificate_pem


def test_root_key_export_then_offline(app, admin_client, jobs, tmp_path) -> None:
    root = _make_root(app, admin_client, jobs)
    short = post(admin_client, f"/admin/pki/{root.id}/export",
                 {"passphrase": "short", "confirm": "short", "remove_key": "y"})
    assert short.status_code == 422 and "at least 12 characters" in short.get_data(as_text=True)
    passphrase = "a long export passphrase"
    response = post(admin_client, f"/admin/pki/{root.id}/export",
                    {"passphrase": passphrase, "confirm": passphrase, "remove_key": "y"})
    status_url = response.headers["Location"]
    assert 'data-status="pending"' in admin_client.get(status_url).get_data(as_text=True)
    jobs()
    ready = admin_client.get(status_url).get_data(as_text=True)
    assert 'data-status="ready"' in ready and 'hx-trigger="formdata from:find form"' in ready
    assert 'class="danger">Download encrypted key' in ready   # it removes the key
    downloading = admin_client.get(status_url + "?downloading=1").get_data(as_text=True)
    assert 'data-status="downloading"' in downloading and "Download encrypted key" not in \
        downloading and 'hx-trigger="every 1s"' in downloading
    download = post(admin_client, status_url + "/download")
    assert download.status_code == 200
    assert download.data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    (tmp_path / "key.pem").write_bytes(download.data)
    (tmp_path / "root.pem").write_text(root.certificate_pem)
    opened = subprocess.run(["openssl", "pkey", "-in", str(tmp_path / "key.pem"), "-passin",
                             f"pass:{passphrase}", "-pubout"], capture_output=True, text=True,
                            check=False)
    assert opened.returncode == 0, opened.stderr
    cert_pub = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "root.pem"),
                               "-noout", "-pubkey"], capture_output=True, text=True, check=True)
    assert opened.stdout == cert_pub.stdout
    # Once only, and the root is now offline: it can no longer sign intermediates.
    assert post(admin_client, status_url + "/download", follow_redirects=True) \
        .get_data(as_text=True).count("not available") == 1
    offline = _cas(app)[0]
    assert offline.encrypted_private_key is None and offline.display_status == "offline"
    refused = post(admin_client, "/admin/pki/intermediates/new", {
        **ROOT_FORM, "common_name": "Too Late", "parent_id": str(root.id)})
    assert refused.status_code == 422
    with app.app_context():
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"ca.key_export.request", "ca.key_export", "ca.key_remove"} <= actions


def test_another_admins_export_is_not_visible(app, admin_client, jobs) -> None:
    from tests.conftest import login, make_user

    root = _make_root(app, admin_client, jobs)
    passphrase = "a long export passphrase"
    status_url = post(admin_client, f"/admin/pki/{root.id}/export",
                      {"passphrase": passphrase, "confirm": passphrase}).headers["Location"]
    jobs()
    make_user(app, "pki@example.com", role="pki_admin")
    other = app.test_client()
    login(other, "pki@example.com")
    assert other.get(status_url).status_code == 404
    assert post(other, status_url + "/download").status_code == 404


def test_list_shows_status_and_usage(app, admin_client, jobs) -> None:
    root = _make_root(app, admin_client, jobs)
    _make_intermediate(app, admin_client, jobs, root)
    body = admin_client.get("/admin/pki/").get_data(as_text=True)
    assert body.count('badge-active">active') == 2
    assert "hx-trigger" not in body
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action.like("ca.%.request"))) == 2
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "ca.generate", AuditEvent.outcome == "success")) == 2


def test_empty_state_points_to_generating_a_root(admin_client) -> None:
    assert "Generate a root" in admin_client.get("/admin/pki/").get_data(as_text=True)


def test_unknown_ca_is_404(admin_client) -> None:
    assert admin_client.get("/admin/pki/not-a-uuid").status_code == 404
    assert admin_client.get(
        "/admin/pki/00000000-0000-0000-0000-000000000000/certificate.pem").status_code == 404


def test_a_request_made_while_redis_is_down_is_kept_and_generated_later(
        app, admin_client, jobs, monkeypatch) -> None:
    from app.services import pki

    # An unreachable Redis (nothing listens on port 1): the row must survive as pending.
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    response = post(admin_client, "/admin/pki/roots/new", ROOT_FORM, follow_redirects=True)
    assert "job queue cannot be reached" in response.get_data(as_text=True)
    assert [ca.status for ca in _cas(app)] == ["pending"]
    monkeypatch.undo()
    jobs()
    assert [ca.status for ca in _cas(app)] == ["pending"]  # nothing was queued
    with app.app_context():
        assert pki.requeue_pending() == 1
    jobs()
    assert [ca.status for ca in _cas(app)] == ["active"]


def _big_number_after(label: str, html: str) -> str:
    import re

    match = re.search(re.escape(label) + r'</header>\s*<p class="big">(\d+)</p>', html)
    assert match, f"no card {label!r}"
    return match.group(1)


def test_intermediate_counts_the_certificates_it_issued(app, admin_client, jobs) -> None:
    import re

    from tests.builders import add_domain, issuing_ca
    from tests.web.test_certificates import issue

    add_domain(app, "example.com")
    inter_id = issuing_ca(app, jobs)
    issue(app, jobs, inter_id, "admin@example.com", "a.example.com", ())
    issue(app, jobs, inter_id, "admin@example.com", "b.example.com", ())
    detail = admin_client.get(f"/admin/pki/{inter_id}").get_data(as_text=True)
    assert re.search(r"<th>Certificates issued</th><td>2</td>", detail)
    listing = admin_client.get("/admin/pki/").get_data(as_text=True)
    row = re.search(r"Test Issuing</a>.*?</tr>", listing, re.S).group(0)
    assert row.rstrip("</tr>").rstrip().endswith("<td>2</td>")
    root_row = re.search(r"Test Root</a>.*?</tr>", listing, re.S).group(0)
    assert root_row.rstrip("</tr>").rstrip().endswith("<td>1</td>")  # one intermediate


def test_home_shows_an_offline_root_as_offline_not_active(app, admin_client, jobs) -> None:
    """The admin home lists every CA with the state it can sign in: a root whose key was
    exported and removed is shown offline, never counted as active."""
    import re

    from tests.builders import issuing_ca

    def states() -> list[str]:
        html = admin_client.get("/").get_data(as_text=True)
        section = html.split("<h2>Certificate authorities</h2>")[1].split("</table>")[0]
        return re.findall(r'class="badge[^"]*"[^>]*>([^<]+)<', section)

    inter_id = issuing_ca(app, jobs)
    assert sorted(states()) == ["active", "active"]
    with app.app_context():  # the root's key exported and removed: an offline root
        inter = db.session.get(CertificateAuthority, __import__("uuid").UUID(inter_id))
        inter.parent.encrypted_private_key = None
        db.session.commit()
    assert sorted(states()) == ["active", "offline"]




def test_the_intermediate_form_sets_its_eku_and_name_constraints(app, admin_client,
                                                                   jobs) -> None:
    """Chosen in the form as in the CLI (one rule, ``pki.request_intermediate``): the EKU
    boxes start at serverAuth + clientAuth; the permitted domains are the registered DNS
    domains; the page shows both."""
    from tests.builders import add_domain

    add_domain(app, "example.com")
    add_domain(app, "example.net")
    root = _make_root(app, admin_client, jobs)
    page = admin_client.get("/admin/pki/intermediates/new").get_data(as_text=True)
    boxes = re.findall(r'<input ([^>]*)name="extended_key_usage" type="checkbox" '
                       r'value="(\w+)"', page)
    assert [(value, "checked" in attrs) for attrs, value in boxes] == [
        ("serverAuth", True), ("clientAuth", True), ("codeSigning", False),
        ("emailProtection", False), ("timeStamping", False)]
    assert re.findall(r'name="permitted_dns" type="checkbox" value="([^"]+)"', page) == [
        "example.com", "example.net"]
    inter = _make_intermediate(app, admin_client, jobs, root, "Constrained CA",
                               extended_key_usage=["serverAuth"],
                               permitted_dns=["example.com"])
    assert inter.extended_key_usage == ["serverAuth"]
    assert inter.permitted_dns == ["example.com"]
    cert = x509.load_pem_x509_certificate(inter.certificate_pem.encode())
    constraints = cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert [n.value for n in constraints.value.permitted_subtrees] == ["example.com"]
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    detail = admin_client.get(f"/admin/pki/{inter.id}").get_data(as_text=True)
    assert "TLS Web Server Authentication serverAuth" in detail
    assert "permitted: example.com; every IP address excluded" in detail


@pytest.mark.parametrize(("change", "words"), [
    ({"extended_key_usage": []}, "Choose the extended key usages"),
    ({"extended_key_usage": ["serverAuth", "anyExtendedKeyUsage"]},
     "Choose the extended key usages"),
    ({"permitted_dns": ["unregistered.example"]}, "unregistered.example is not"),
])
def test_the_intermediate_form_refuses_a_bad_eku_or_constraint_and_writes_nothing(
        app, admin_client, jobs, change, words) -> None:
    root = _make_root(app, admin_client, jobs)
    response = post(admin_client, "/admin/pki/intermediates/new", {
        **ROOT_FORM, "common_name": "Refused CA", "parent_id": str(root.id),
        "validity_days": "1825", "extended_key_usage": ["serverAuth"], **change})
    assert response.status_code == 422
    assert words in response.get_data(as_text=True)
    assert [ca.common_name for ca in _cas(app)] == [root.common_name]

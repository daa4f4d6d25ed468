"""Every admin route refuses every role that may not use it (routes × roles)."""
from __future__ import annotations

import uuid

import pytest

from app.domain.roles import Role
from tests.conftest import login, make_user, post

SOME_ID = str(uuid.uuid4())

# (method, path, roles allowed)
PKI = {Role.SUPER_ADMIN, Role.PKI_ADMIN}
POLICY = {Role.SUPER_ADMIN, Role.POLICY_ADMIN}
DEPLOYMENT = {Role.SUPER_ADMIN, Role.DEPLOYMENT_ADMIN}
ROUTES = [
    ("GET", "/admin/users/", {Role.SUPER_ADMIN}),
    ("GET", "/admin/users/new", {Role.SUPER_ADMIN}),
    ("POST", "/admin/users/new", {Role.SUPER_ADMIN}),
    ("GET", "/admin/users/1", {Role.SUPER_ADMIN}),
    ("POST", "/admin/users/1", {Role.SUPER_ADMIN}),
    ("POST", "/admin/users/1/reset-password", {Role.SUPER_ADMIN}),
    ("GET", "/admin/domains/", PKI),
    ("POST", "/admin/domains/", PKI),
    ("POST", "/admin/domains/1/enabled", PKI),
    ("POST", "/admin/domains/1/delete", PKI),
    ("GET", "/admin/pki/", PKI),
    ("GET", "/admin/pki/roots/new", PKI),
    ("POST", "/admin/pki/roots/new", PKI),
    ("GET", "/admin/pki/intermediates/new", PKI),
    ("POST", "/admin/pki/intermediates/new", PKI),
    ("GET", f"/admin/pki/{SOME_ID}", PKI),
    ("GET", f"/admin/pki/{SOME_ID}/certificate.pem", PKI),
    ("GET", f"/admin/pki/{SOME_ID}/chain.pem", PKI),
    ("GET", f"/admin/pki/{SOME_ID}/export", PKI),
    ("POST", f"/admin/pki/{SOME_ID}/export", PKI),
    ("GET", f"/admin/pki/exports/{SOME_ID}", PKI),
    ("POST", f"/admin/pki/exports/{SOME_ID}/download", PKI),
    ("GET", "/admin/audit/", {Role.SUPER_ADMIN}),
    ("GET", "/admin/policies/", POLICY),
    ("GET", "/admin/policies/new", POLICY),
    ("POST", "/admin/policies/new", POLICY),
    ("GET", f"/admin/policies/{SOME_ID}", POLICY),
    ("POST", f"/admin/policies/{SOME_ID}", POLICY),
    ("GET", f"/admin/policies/{SOME_ID}/raw", POLICY),
    ("POST", f"/admin/policies/{SOME_ID}/raw", POLICY),
    ("POST", f"/admin/policies/{SOME_ID}/enabled", POLICY),
    ("POST", f"/admin/policies/{SOME_ID}/delete", POLICY),
    ("GET", "/couriers/", DEPLOYMENT),
    ("GET", "/couriers/new", DEPLOYMENT),
    ("POST", "/couriers/new", DEPLOYMENT),
    ("GET", f"/couriers/{SOME_ID}", DEPLOYMENT),
    ("POST", f"/couriers/{SOME_ID}", DEPLOYMENT),
    ("POST", f"/couriers/{SOME_ID}/rotate-secret", DEPLOYMENT),
    ("POST", f"/couriers/{SOME_ID}/enabled", DEPLOYMENT),
    ("POST", f"/couriers/{SOME_ID}/delete", DEPLOYMENT),
]
CASES = [(method, path, role, role in allowed)
         for method, path, allowed in ROUTES for role in Role]


def _request(client, method: str, path: str):
    return client.get(path) if method == "GET" else post(client, path, {})


@pytest.mark.parametrize(("method", "path", "role", "allowed"), CASES,
                         ids=[f"{m} {p} as {r.value}" for m, p, r, _ in CASES])
def test_admin_routes_by_role(app, client, method: str, path: str, role: Role,
                              allowed: bool) -> None:
    make_user(app, f"{role.value}@example.com", role=role.value)
    login(client, f"{role.value}@example.com")
    response = _request(client, method, path)
    if allowed:
        assert response.status_code != 403, response.get_data(as_text=True)[:300]
    else:
        assert response.status_code == 403
        assert "permission" in response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in ROUTES])
def test_admin_routes_send_anonymous_users_to_login(client, method: str, path: str) -> None:
    response = client.get(path) if method == "GET" else client.post(path)
    # A POST without a session has no CSRF token either: refused before anything happens.
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("path", ["/", "/request/", "/certificates/", "/orders/",
                                  "/certificates/alerts/", "/policy-test/"])
def test_every_role_may_use_the_clm_pages(app, client, role: Role, path: str) -> None:
    make_user(app, f"{role.value}@example.com", role=role.value)
    login(client, f"{role.value}@example.com")
    assert client.get(path, follow_redirects=True).status_code == 200

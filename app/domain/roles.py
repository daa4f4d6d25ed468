"""Roles and what each may do (SPEC section 1). Pure data: one role per user."""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    USER = "user"
    SUPER_ADMIN = "super_admin"
    PKI_ADMIN = "pki_admin"
    POLICY_ADMIN = "policy_admin"
    DEPLOYMENT_ADMIN = "deployment_admin"


ROLE_LABELS: dict[Role, str] = {
    Role.USER: "User",
    Role.SUPER_ADMIN: "Super admin",
    Role.PKI_ADMIN: "PKI admin",
    Role.POLICY_ADMIN: "Policy admin",
    Role.DEPLOYMENT_ADMIN: "Deployment admin",
}


class Permission(StrEnum):
    MANAGE_USERS = "users.manage"
    MANAGE_DOMAINS = "domains.manage"
    MANAGE_PKI = "pki.manage"
    MANAGE_POLICIES = "policies.manage"
    MANAGE_DEPLOYMENT = "deployment.manage"
    VIEW_AUDIT = "audit.view"
    VIEW_ALL_ORDERS = "orders.view_all"


GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.MANAGE_USERS: frozenset({Role.SUPER_ADMIN}),
    Permission.MANAGE_DOMAINS: frozenset({Role.SUPER_ADMIN, Role.PKI_ADMIN}),
    Permission.MANAGE_PKI: frozenset({Role.SUPER_ADMIN, Role.PKI_ADMIN}),
    Permission.MANAGE_POLICIES: frozenset({Role.SUPER_ADMIN, Role.POLICY_ADMIN}),
    Permission.MANAGE_DEPLOYMENT: frozenset({Role.SUPER_ADMIN, Role.DEPLOYMENT_ADMIN}),
    Permission.VIEW_AUDIT: frozenset({Role.SUPER_ADMIN}),
    Permission.VIEW_ALL_ORDERS: frozenset(
        {Role.SUPER_ADMIN, Role.PKI_ADMIN, Role.POLICY_ADMIN, Role.DEPLOYMENT_ADMIN}
    ),
}


def role_allows(role: str, permission: Permission) -> bool:
    """True when ``role`` holds ``permission``; unknown roles hold nothing."""
    try:
        return Role(role) in GRANTS[permission]
    except ValueError:
        return False


def is_domain_restricted(role: str) -> bool:
    """Only plain users are bounded by their domain assignments (admin roles are not)."""
    return role == Role.USER

"""Who is asking: a user, a courier or an ACME account, reduced to what the rules need."""
from __future__ import annotations

from dataclasses import dataclass

from app.domain.roles import is_domain_restricted
from app.models import User


@dataclass(frozen=True)
class Requester:
    kind: str              # "user" | "courier" | "acme" | "target_system"
    id: str
    label: str                                  # shown as Requested By
    user_id: int | None = None
    # Domains/networks this requester is limited to; None = unrestricted (admin roles).
    scope_domains: tuple[str, ...] | None = None
    scope_networks: tuple[str, ...] | None = None
    scope_label: str = "your assigned domains"
    # One code for "outside the requester's own scope", whoever the requester is, so every
    # channel reports the same violation for the same mistake (the message names the scope).
    scope_code: str = "name.outside_scope"
    scope_empty_hint: str | None = "You have no assigned domains; ask an administrator to " \
        "assign some."

    @property
    def display(self) -> str:
        if self.kind == "user":
            return self.label
        if self.kind == "acme":
            return f"ACME account {self.label}"
        return f"{self.kind.replace('_', ' ').capitalize()} {self.label}"


def requester_for_user(user: User) -> Requester:
    if not is_domain_restricted(user.role):
        return Requester(kind="user", id=str(user.id), label=user.email, user_id=user.id)
    assigned = [d for d in user.domains if d.enabled]
    return Requester(
        kind="user", id=str(user.id), label=user.email, user_id=user.id,
        scope_domains=tuple(d.name for d in assigned if not d.is_network),
        scope_networks=tuple(d.name for d in assigned if d.is_network))

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from app.cli.output import emit, fail, json_option, service_errors
from app.domain.roles import Role
from app.models import User
from app.services import domains as domain_service
from app.services import users

group = click.Group("users", help="Manage user accounts.")


def user_json(user: User) -> dict[str, object]:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "enabled": user.enabled, "domains": [d.name for d in user.domains]}


def _read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    return sys.stdin.readline().rstrip("\r\n")


@group.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@json_option
@with_appcontext
@service_errors
def create_admin(email: str, name: str, password_stdin: bool, as_json: bool) -> None:
    """Create a super admin (a one-time password is generated without --password-stdin)."""
    user, one_time = users.create_user(email, role=Role.SUPER_ADMIN, name=name,
                                       password=_read_password(password_stdin))
    payload = user_json(user) | ({"one_time_password": one_time} if one_time else {})
    emit(as_json, payload, f"Created super admin {user.email}"
         + (f" with one-time password {one_time}" if one_time else ""))


@group.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--role", default=Role.USER.value, show_default=True,
              help=f"One of: {', '.join(r.value for r in Role)}.")
@click.option("--domain", "domain_names", multiple=True, help="Assign a registered domain.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@json_option
@with_appcontext
@service_errors
def create(email: str, name: str, role: str, domain_names: tuple[str, ...],
           password_stdin: bool, as_json: bool) -> None:
    """Create a user; prints a one-time password unless --password-stdin is given."""
    ids = []
    for raw in domain_names:
        domain = domain_service.find_domain(raw)
        if domain is None:
            fail(f"Domain '{raw}' is not registered.", "domain.unknown", as_json)
        ids.append(domain.id)
    user, one_time = users.create_user(email, role=role, name=name, domain_ids=ids,
                                       password=_read_password(password_stdin))
    payload = user_json(user) | ({"one_time_password": one_time} if one_time else {})
    emit(as_json, payload, f"Created {user.role} {user.email}"
         + (f" with one-time password {one_time}" if one_time else ""))


@group.command("list")
@json_option
@with_appcontext
def list_users(as_json: bool) -> None:
    rows = users.list_users()
    emit(as_json, [user_json(u) for u in rows],
         "\n".join(f"{u.email}\t{u.role}\t{'enabled' if u.enabled else 'disabled'}"
                   for u in rows) or "No users.")


@group.command("reset-password")
@click.option("--email", required=True)
@json_option
@with_appcontext
def reset_password(email: str, as_json: bool) -> None:
    """Give a user a new one-time password (they must change it at next login)."""
    user = users.find_user(email)
    if user is None:
        fail(f"No user with e-mail {email}.", "user.unknown", as_json)
    password = users.reset_password(user, actor=None)
    emit(as_json, user_json(user) | {"one_time_password": password},
         f"New one-time password for {user.email}: {password}")

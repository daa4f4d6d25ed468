"""Accounts: creation, roles, domain assignments, enabling, and password login."""
from __future__ import annotations

import secrets
from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.domain.roles import Role
from app.extensions import db
from app.models import Domain, User
from app.models.base import utcnow
from app.services import audit, login_throttle, sessions
from app.services.errors import Conflict, NotFound, ServiceError, ValidationFailed

MIN_PASSWORD_LENGTH = 12
# A real scrypt hash of a random password: checking against it when the e-mail is unknown
# costs the same time as a real check, so response time does not reveal which accounts exist.
_TIMING_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


class LoginRefused(ServiceError):
    status = 401


def normalize_email(raw: str) -> str:
    try:
        result = validate_email((raw or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(f"Not a valid e-mail address: {exc}", code="email.invalid",
                               field="email") from exc
    return result.normalized.lower()


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters.",
            code="password.too_short", field="password",
        )


def parse_role(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError as exc:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationFailed(f"Unknown role '{raw}'. Choose one of: {allowed}.",
                               code="role.unknown", field="role") from exc


def create_user(email: str, *, role: str = Role.USER, name: str = "",
                password: str | None = None, domain_ids: Iterable[int] = (),
                actor: User | None = None) -> tuple[User, str | None]:
    """Create an account. Without ``password`` a one-time password is generated and returned
    (shown once; the user must change it at first login)."""
    email = normalize_email(email)
    parsed_role = parse_role(role)
    if password is not None:
        check_password_strength(password)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with e-mail {email} already exists.", code="user.duplicate",
                       field="email")
    one_time = None if password is not None else secrets.token_urlsafe(12)
    user = User(email=email, name=(name or "").strip()[:120], role=parsed_role,
                password_hash=generate_password_hash(password or one_time),
                must_change_password=password is None, enabled=True)
    user.domains = _load_domains(domain_ids)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", resource_type="user", resource_id=user.id, actor=actor,
                 details={"email": email, "role": parsed_role.value,
                          "domains": [d.name for d in user.domains]})
    db.session.commit()
    return user, one_time


def _load_domains(domain_ids: Iterable[int]) -> list[Domain]:
    ids = {int(i) for i in domain_ids}
    if not ids:
        return []
    domains = list(db.session.scalars(select(Domain).where(Domain.id.in_(ids))))
    if len(domains) != len(ids):
        raise ValidationFailed("One of the selected domains no longer exists.",
                               code="domain.unknown", field="domains")
    return domains


def update_user(user: User, *, role: str, domain_ids: Iterable[int], enabled: bool,
                actor: User) -> None:
    """Change role, assignments and the enabled flag in one audited step."""
    new_role = parse_role(role)
    if user.id == actor.id and (not enabled or new_role != user.role):
        raise ValidationFailed("You cannot disable or change the role of your own account.",
                               code="user.self_change", field="role")
    if user.role == Role.SUPER_ADMIN and (new_role != Role.SUPER_ADMIN or not enabled):
        _ensure_other_super_admin(user)
    before = {"role": user.role, "enabled": user.enabled,
              "domains": [d.name for d in user.domains]}
    user.role = new_role
    user.enabled = enabled
    user.domains = _load_domains(domain_ids)
    after = {"role": user.role, "enabled": user.enabled,
             "domains": [d.name for d in user.domains]}
    changes = {k: {"from": before[k], "to": after[k]} for k in before if before[k] != after[k]}
    if "role" in changes or (before["enabled"] and not enabled):
        # New rights, or none: every open session starts over (or stays out).
        sessions.end_all(user.id, sessions.ROLE_CHANGED if "role" in changes
                         else sessions.DISABLED)
    if changes:
        audit.record("user.update", resource_type="user", resource_id=user.id, actor=actor,
                     details={"email": user.email, "changes": changes})
    db.session.commit()


def _ensure_other_super_admin(user: User) -> None:
    others = db.session.scalar(select(func.count(User.id)).where(
        User.role == Role.SUPER_ADMIN, User.enabled.is_(True), User.id != user.id))
    if not others:
        raise ValidationFailed("This is the last enabled super admin; promote another first.",
                               code="user.last_super_admin", field="role")


def reset_password(user: User, actor: User | None) -> str:
    one_time = secrets.token_urlsafe(12)
    user.password_hash = generate_password_hash(one_time)
    user.must_change_password = True
    sessions.end_all(user.id, sessions.PASSWORD_RESET)
    audit.record("user.password_reset", resource_type="user", resource_id=user.id, actor=actor,
                 details={"email": user.email})
    db.session.commit()
    return one_time


def change_password(user: User, current: str, new: str) -> None:
    """Change the user's own password and end all of their sessions (this browser's too:
    the caller starts a fresh one for it)."""
    if not check_password_hash(user.password_hash, current or ""):
        raise ValidationFailed("The current password is not correct.",
                               code="password.wrong", field="current_password")
    check_password_strength(new)
    if current == new:
        raise ValidationFailed("Choose a password different from the current one.",
                               code="password.unchanged", field="new_password")
    user.password_hash = generate_password_hash(new)
    user.must_change_password = False
    sessions.end_all(user.id, sessions.PASSWORD_CHANGED)
    audit.record("user.password_change", resource_type="user", resource_id=user.id,
                 actor=user)
    db.session.commit()


def authenticate(email: str, password: str, source_ip: str | None) -> User:
    """Check a login. Failures are audited; repeated failures of one account from one
    address make that pair wait, with growing delays (``login_throttle``), which no
    third party can turn into a lock-out of the account's owner."""
    key = (email or "").strip().lower()
    login_throttle.check(key, source_ip)
    user = db.session.scalar(select(User).where(User.email == key))
    valid = check_password_hash(user.password_hash if user else _TIMING_DUMMY_HASH,
                                password or "")
    if not user or not valid or not user.enabled:
        reason = "disabled" if user and valid else "bad_credentials"
        audit.record("auth.login", outcome=audit.FAILURE, resource_type="user",
                     resource_id=key[:64], actor=user, actor_label=key[:254] or "(empty)",
                     details={"reason": reason})
        db.session.commit()
        if reason == "disabled":
            raise LoginRefused("This account is disabled. Ask an administrator.",
                               code="auth.disabled")
        raise LoginRefused("Wrong e-mail or password.", code="auth.bad_credentials")
    user.last_login_at = utcnow()
    audit.record("auth.login", resource_type="user", resource_id=key[:64], actor=user)
    db.session.commit()
    return user


def set_email_notifications(user: User, on: bool) -> None:
    """The user's choice about expiry e-mails (Account page)."""
    if user.email_notifications != on:
        user.email_notifications = on
        audit.record("user.notifications", resource_type="user", resource_id=user.id,
                     actor=user, details={"email": on})
    db.session.commit()


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.email)))


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.", code="user.not_found")
    return user


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))

"""Target systems and renewal rules: what each kind of server needs, and when a
profile's certificate is due for renewal. Pure rules, no database."""
from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.policy import Violation

#: The files each kind of target gets (the names of ``TargetSystem.paths``).
KIND_PATHS: dict[str, tuple[str, ...]] = {
    "nginx": ("fullchain", "key"),          # certificate + chain in one file, and the key
    "haproxy": ("pem",),                    # one PEM: certificate, chain and key
    "files": ("certificate", "chain", "key"),
}
KIND_LABELS = {"nginx": "nginx (full chain + key files)",
               "haproxy": "HAProxy (one PEM with chain and key)",
               "files": "Files (certificate, chain and key paths)"}
PATH_LABELS = {"fullchain": "Full chain file", "key": "Private key file",
               "pem": "Combined PEM file", "certificate": "Certificate file",
               "chain": "Chain file"}
MAX_PATH = 1024
MAX_COMMAND = 1000
MAX_RELOAD_TIMEOUT = 600
_HOST_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                      r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_OWNER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}\$?$")

DEPLOYMENT_STATUSES = ("pending", "in_progress", "succeeded", "failed", "superseded")
FINISHED = frozenset({"succeeded", "failed", "superseded"})


@dataclass(frozen=True)
class TargetSpec:
    """A target system's settings as typed (not yet checked)."""

    kind: str
    paths: dict[str, str]
    reload_command: str
    probe_host: str
    probe_port: int
    probe_sni: str | None = None
    file_owner: str | None = None
    file_group: str | None = None
    file_mode: int = 0o644
    key_mode: int = 0o600
    reload_timeout_seconds: int = 30


def _bad(field: str, code: str, message: str) -> Violation:
    return Violation(code=f"target.{code}", field=field, message=message)


def _check_path(name: str, value: str) -> list[Violation]:
    field = f"paths.{name}"
    label = PATH_LABELS.get(name, name)
    if not value:
        return [_bad(field, "path_missing", f"{label}: enter an absolute path.")]
    if len(value) > MAX_PATH or "\x00" in value:
        return [_bad(field, "path_invalid", f"{label}: the path is too long or has a NUL.")]
    if not value.startswith("/") or "/../" in value + "/" or value.endswith("/"):
        return [_bad(field, "path_invalid", f"{label}: '{value[:80]}' must be an absolute "
                     "file path without '..'.")]
    return []


def check_target(spec: TargetSpec) -> list[Violation]:
    """Every problem with a target system's settings (empty when it is fine)."""
    if spec.kind not in KIND_PATHS:
        return [_bad("kind", "kind", f"Kind must be one of {', '.join(KIND_PATHS)}.")]
    found: list[Violation] = []
    for name in KIND_PATHS[spec.kind]:
        found += _check_path(name, (spec.paths.get(name) or "").strip())
    extra = set(spec.paths) - set(KIND_PATHS[spec.kind])
    if extra:
        found.append(_bad("paths", "path_unknown", f"A {spec.kind} target takes no "
                          f"{', '.join(sorted(extra))} path."))
    values = [v for k, v in spec.paths.items() if k in KIND_PATHS[spec.kind] and v]
    if len(set(values)) != len(values):
        found.append(_bad("paths", "path_duplicate", "Each file needs its own path."))
    found += _check_command(spec.reload_command)
    if not 1 <= spec.reload_timeout_seconds <= MAX_RELOAD_TIMEOUT:
        found.append(_bad("reload_timeout_seconds", "reload_timeout",
                          f"The reload timeout must be 1 to {MAX_RELOAD_TIMEOUT} seconds."))
    found += _check_endpoint(spec)
    for field, mode in (("file_mode", spec.file_mode), ("key_mode", spec.key_mode)):
        if not 0 <= mode <= 0o777:
            found.append(_bad(field, "mode", "A file mode is an octal number 000 to 777."))
    if spec.key_mode & 0o007:
        found.append(_bad("key_mode", "key_mode", "The private key must not be readable "
                          "or writable by others (a key mode like 600 or 640)."))
    for field, owner in (("file_owner", spec.file_owner), ("file_group", spec.file_group)):
        if owner and not _OWNER_RE.match(owner):
            found.append(_bad(field, "owner", f"'{owner[:40]}' is not a user or group name."))
    return found


def _check_command(command: str) -> list[Violation]:
    command = command.strip()
    if not command:
        return [_bad("reload_command", "reload_command", "Enter the reload command (for "
                     "nginx e.g. 'systemctl reload nginx').")]
    if len(command) > MAX_COMMAND or "\x00" in command or "\n" in command:
        return [_bad("reload_command", "reload_command", "The reload command must be one "
                     f"line of at most {MAX_COMMAND} characters.")]
    try:
        shlex.split(command)
    except ValueError:
        return [_bad("reload_command", "reload_command", "The reload command has an "
                     "unclosed quote.")]
    return []


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOST_RE.match(host))


def _check_endpoint(spec: TargetSpec) -> list[Violation]:
    found = []
    if not _valid_host(spec.probe_host):
        found.append(_bad("probe_host", "probe_host", "The TLS endpoint's host must be a "
                          "host name or an IP address."))
    if not 1 <= spec.probe_port <= 65535:
        found.append(_bad("probe_port", "probe_port", "The port must be 1 to 65535."))
    if spec.probe_sni and not _HOST_RE.match(spec.probe_sni):
        found.append(_bad("probe_sni", "probe_sni", "The SNI name must be a host name."))
    return found


# ---- renewal rule --------------------------------------------------------------------------

def renewal_starts(not_before: datetime, not_after: datetime,
                   renew_before_days: int | None) -> datetime:
    """When a certificate enters its renewal window: ``renew_before_days`` before it
    expires, or (no rule) when a third of its lifetime is left."""
    if renew_before_days is None:
        return not_after - (not_after - not_before) / 3
    return not_after - timedelta(days=renew_before_days)


def renewal_due(not_before: datetime, not_after: datetime, renew_before_days: int | None,
                now: datetime) -> bool:
    return now >= renewal_starts(not_before, not_after, renew_before_days)

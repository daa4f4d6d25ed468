"""The bridge's YAML configuration, validated up front so a typo fails before any call."""
from __future__ import annotations

import ipaddress
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml


class ConfigError(Exception):
    """The configuration file is missing, malformed or incomplete."""


@dataclass(frozen=True)
class BridgeConfig:
    base_url: str
    client_id: str
    client_secret: str
    private_key: Path                       # opens the deployment keys (JWE)
    allowed_paths: tuple[Path, ...]         # the only directories files are written in
    allowed_reload_commands: tuple[tuple[str, ...], ...]   # the only commands run
    ca_bundle: str | None = None
    probe_timeout: float = 15.0             # how long the probe waits for the new serial
    backup_suffix: str = ".bak"


def _required(data: dict[str, Any], key: str) -> Any:
    value = data.get(key)
    if value in (None, "", []):
        raise ConfigError(f"Missing '{key}' in the configuration.")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _base_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname or "")):
        return raw.rstrip("/")
    raise ConfigError("'base_url' must be https:// (plain http only to a loopback "
                      "address, for a platform on the same machine).")


def load_config(path: str | Path) -> BridgeConfig:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a YAML mapping.")
    secret = data.get("client_secret") or os.environ.get("BRIDGE_CLIENT_SECRET")
    if not secret:
        raise ConfigError("Missing 'client_secret' (or the BRIDGE_CLIENT_SECRET variable).")
    allowed = _required(data, "allowed_paths")
    if not isinstance(allowed, list) or not all(isinstance(p, str) and p.startswith("/")
                                                for p in allowed):
        raise ConfigError("'allowed_paths' must be a list of absolute directories.")
    commands = data.get("allowed_reload_commands") or []
    if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
        raise ConfigError("'allowed_reload_commands' must be a list of commands.")
    key = Path(_required(data, "private_key"))
    if not key.is_file():
        raise ConfigError(f"The private key {key} does not exist.")
    return BridgeConfig(
        base_url=_base_url(str(_required(data, "base_url"))),
        client_id=str(_required(data, "client_id")), client_secret=str(secret),
        private_key=key, allowed_paths=tuple(Path(os.path.realpath(p)) for p in allowed),
        allowed_reload_commands=tuple(tuple(shlex.split(c)) for c in commands),
        ca_bundle=data.get("ca_bundle"),
        probe_timeout=float(data.get("probe_timeout", 15.0)))

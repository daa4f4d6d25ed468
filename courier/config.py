"""The courier's YAML configuration, validated up front so a typo fails before any call."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(Exception):
    """The configuration file is missing, malformed or incomplete."""


@dataclass(frozen=True)
class Outputs:
    certificate: Path
    chain: Path | None = None
    fullchain: Path | None = None
    key: Path | None = None


@dataclass(frozen=True)
class CourierConfig:
    base_url: str
    uuid: str
    client_id: str
    client_secret: str
    common_name: str
    outputs: Outputs
    sans: tuple[str, ...] = ()
    subject: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)   # algorithm, digest, validity_days…
    generate_keys_locally: bool = True
    key_algorithm: str = "ec-256"                           # for a locally made key
    encryption_private_key: Path | None = None              # to open a platform-made key
    ca_bundle: str | None = None
    poll_interval: float = 2.0
    timeout: float = 300.0


OPTION_KEYS = ("algorithm", "digest", "validity_days", "key_usage", "extended_key_usage",
               "issuer_id")


def _required(data: dict[str, Any], key: str, where: str = "") -> Any:
    value = data.get(key)
    if value in (None, ""):
        raise ConfigError(f"Missing '{where}{key}' in the configuration.")
    return value


def load_config(path: str | Path) -> CourierConfig:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a YAML mapping.")
    cert = _required(data, "certificate")
    output = _required(data, "output")
    if not isinstance(cert, dict) or not isinstance(output, dict):
        raise ConfigError("'certificate' and 'output' must be mappings.")
    secret = data.get("client_secret") or os.environ.get("COURIER_CLIENT_SECRET")
    if not secret:
        raise ConfigError("Missing 'client_secret' (or the COURIER_CLIENT_SECRET variable).")
    local = bool(data.get("generate_keys_locally", True))
    jwe_key = data.get("encryption_private_key")
    if not local and not jwe_key:
        raise ConfigError("'encryption_private_key' is needed when the platform generates "
                          "the key (generate_keys_locally: false).")
    outputs = Outputs(
        certificate=Path(_required(output, "certificate", "output.")),
        chain=Path(output["chain"]) if output.get("chain") else None,
        fullchain=Path(output["fullchain"]) if output.get("fullchain") else None,
        key=Path(output["key"]) if output.get("key") else None)
    if outputs.key is None:
        raise ConfigError("Missing 'output.key': where to write the private key.")
    return CourierConfig(
        base_url=str(_required(data, "base_url")).rstrip("/"),
        uuid=str(_required(data, "uuid")), client_id=str(_required(data, "client_id")),
        client_secret=str(secret), common_name=str(_required(cert, "common_name",
                                                             "certificate.")),
        sans=tuple(str(s) for s in cert.get("sans") or ()),
        subject={k: str(v) for k, v in (cert.get("subject") or {}).items()},
        options={k: cert[k] for k in OPTION_KEYS if k in cert},
        generate_keys_locally=local, key_algorithm=str(cert.get("algorithm", "ec-256")),
        encryption_private_key=Path(jwe_key) if jwe_key else None,
        ca_bundle=data.get("ca_bundle"), outputs=outputs,
        poll_interval=float(data.get("poll_interval", 2.0)),
        timeout=float(data.get("timeout", 300.0)))

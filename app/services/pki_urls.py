"""Where relying parties find revocation data: URLs under ``PKI_BASE_URL`` (plain http,
as relying parties and the CA/B Forum expect — an https CRL URL is a lint error), put
into new leaves and intermediates as CRL DP and AIA (OCSP + caIssuers)."""
from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from app.config import ConfigurationError
from app.pki.pointers import RevocationPointers

log = logging.getLogger(__name__)


def check_setting(config: dict[str, Any]) -> None:
    """For the worker at start: PKI_BASE_URL must be an http:// URL; in production it is
    required (certificates without revocation pointers cannot be revoked usefully)."""
    value = (config.get("PKI_BASE_URL") or "").strip()
    if not value:
        if config.get("APP_ENV") == "production":
            raise ConfigurationError(
                "PKI_BASE_URL must be set in production (e.g. http://pki.example.com): new "
                "certificates carry their CRL and OCSP URLs under it.")
        log.warning("PKI_BASE_URL is not set: new certificates carry no CRL or OCSP URL")
        return
    parts = urlsplit(value)
    if parts.scheme != "http" or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(
            f"PKI_BASE_URL must be a plain http:// URL without query (got {value!r}): "
            "relying parties fetch CRLs and OCSP over http, and an https CRL URL is a "
            "CA/B Forum lint error.")


def base_url() -> str | None:
    value = (current_app.config.get("PKI_BASE_URL") or "").strip().rstrip("/")
    return value or None


def pointers_for(issuer_id: uuid.UUID | str) -> RevocationPointers | None:
    """The pointers of a certificate that CA ``issuer_id`` signs (None without the
    setting)."""
    base = base_url()
    if base is None:
        return None
    return RevocationPointers(crl_url=f"{base}/pki/{issuer_id}/crl",
                              ocsp_url=f"{base}/pki/ocsp",
                              ca_issuers_url=f"{base}/pki/{issuer_id}/ca.crt")

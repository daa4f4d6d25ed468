"""Settings from the environment, with safe defaults for a single-machine start.

Precedence: built-in defaults < environment variables < ``test_config`` passed to
``create_app``. Secrets that are not given are generated once into ``instance/`` with
mode 0600, except in production mode, where a missing or default secret stops the start.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

INSECURE_SECRET_KEYS = {"", "dev", "change-me", "secret", "changeme"}


class ConfigurationError(RuntimeError):
    """The platform cannot start with the settings it was given."""


def default_settings(instance_path: str) -> dict[str, Any]:
    instance = Path(instance_path)
    return {
        "APP_ENV": os.environ.get("APP_ENV", "development"),
        "SQLALCHEMY_DATABASE_URI": os.environ.get(
            "DATABASE_URL", f"sqlite:///{instance / 'platform.db'}"
        ),
        # The start command launches a private Redis on this socket (see README).
        "REDIS_URL": os.environ.get("REDIS_URL", f"unix://{instance / 'redis.sock'}"),
        "RQ_QUEUE": os.environ.get("RQ_QUEUE", "platform"),
        # PostgreSQL behind PgBouncer in transaction mode: set to "transaction" so psycopg
        # never prepares statements (a prepared statement lives on one server connection,
        # and PgBouncer hands each transaction any of them). See docs/deployment.md.
        "DATABASE_PGBOUNCER": os.environ.get("DATABASE_PGBOUNCER", ""),
        # SQLAlchemy's pool per process (PostgreSQL). Size it to the process's threads.
        "DATABASE_POOL_SIZE": int(os.environ.get("DATABASE_POOL_SIZE", "5")),
        "DATABASE_MAX_OVERFLOW": int(os.environ.get("DATABASE_MAX_OVERFLOW", "10")),
        "SECRET_KEY": os.environ.get("SECRET_KEY"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("APP_ENV") == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        # Server-side sessions (app/services/sessions.py): 8 h idle, 24 h in all.
        "SESSION_IDLE_SECONDS": int(os.environ.get("SESSION_IDLE_SECONDS", str(8 * 3600))),
        "SESSION_MAX_SECONDS": int(os.environ.get("SESSION_MAX_SECONDS", str(24 * 3600))),
        "PERMANENT_SESSION_LIFETIME": 24 * 3600,
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # Login throttling per (account, client address): app/services/login_throttle.py.
        "LOGIN_FREE_FAILURES": int(os.environ.get("LOGIN_FREE_FAILURES", "5")),
        "LOGIN_DELAY_BASE_SECONDS": int(os.environ.get("LOGIN_DELAY_BASE_SECONDS", "5")),
        "LOGIN_DELAY_MAX_SECONDS": int(os.environ.get("LOGIN_DELAY_MAX_SECONDS", "900")),
        "LOGIN_THROTTLE_WINDOW_SECONDS": int(os.environ.get("LOGIN_THROTTLE_WINDOW_SECONDS",
                                                            "3600")),
        # How many reverse proxies in front of the app set X-Forwarded-For/-Proto: only
        # then is the client address taken from that header (werkzeug ProxyFix).
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0")),
        "PAGE_SIZE": 25,
        # The platform's public URL (scheme://host[:port]), e.g. https://pki.example.com:
        # links in e-mails (without it they carry paths only); the ACME server builds its
        # directory from it and requires every JWS "url" to start with it. Empty: the
        # request's own host URL (development only).
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "").rstrip("/"),
        # Orders page status cards: counts of a set this large are shared through Redis for
        # this many seconds (app/services/order_counts.py); 0 seconds counts every view.
        "ORDER_COUNTS_CACHE_SECONDS": int(os.environ.get("ORDER_COUNTS_CACHE_SECONDS", "5")),
        "ORDER_COUNTS_CACHE_MIN_ROWS": int(os.environ.get("ORDER_COUNTS_CACHE_MIN_ROWS",
                                                          "10000")),
        # Open orders' status polls answered from a fragment kept in Redis per session
        # after one database query (app/web/status_fast_path.py); "0" turns it off.
        "STATUS_FAST_PATH": os.environ.get("STATUS_FAST_PATH", "1") != "0",
        "COURIER_TOKEN_TTL_SECONDS": int(os.environ.get("COURIER_TOKEN_TTL_SECONDS", "900")),
        # Flask-Limiter on REDIS_URL (app/web/rate_limits.py); 0 disables a limit.
        "COURIER_RATE_LIMIT_PER_MINUTE": int(os.environ.get("COURIER_RATE_LIMIT_PER_MINUTE",
                                                            "120")),
        # How long a courier's platform-made key waits (as a JWE) to be fetched once.
        "COURIER_KEY_TTL_SECONDS": int(os.environ.get("COURIER_KEY_TTL_SECONDS", "86400")),
        "COURIER_AUTH_RATE_LIMIT_PER_MINUTE": int(
            os.environ.get("COURIER_AUTH_RATE_LIMIT_PER_MINUTE", "30")),
        # A deployment not confirmed served this long after its certificate was issued
        # raises the renewed_not_deployed alert (checked by the renewals task).
        "DEPLOYMENT_CONFIRM_SECONDS": int(os.environ.get("DEPLOYMENT_CONFIRM_SECONDS",
                                                         "86400")),
        # The sweeper (run by the worker every SWEEP_INTERVAL_SECONDS) re-enqueues pending
        # orders whose job is gone after the grace, and recovers processing orders whose
        # worker died after the timeout (longer than the 120 s issuance job timeout).
        "SWEEP_INTERVAL_SECONDS": float(os.environ.get("SWEEP_INTERVAL_SECONDS", "30")),
        # Every worker's scheduler tick (services/scheduler.py) looks this often whether a
        # periodic task's current period has run; each task's period is its own setting.
        "SCHEDULER_TICK_SECONDS": float(os.environ.get("SCHEDULER_TICK_SECONDS", "5")),
        # The scheduler's ``renewals`` task: certificate profiles' due orders and the
        # renewed_not_deployed alerts (services/provisioning.renewals_task).
        "RENEWALS_INTERVAL_SECONDS": float(os.environ.get("RENEWALS_INTERVAL_SECONDS",
                                                          "3600")),
        "SWEEP_PENDING_GRACE_SECONDS": float(os.environ.get("SWEEP_PENDING_GRACE_SECONDS",
                                                            "30")),
        "SWEEP_PROCESSING_TIMEOUT_SECONDS": float(
            os.environ.get("SWEEP_PROCESSING_TIMEOUT_SECONDS", "300")),
        # Outbound calls (CAs, later webhooks): https only and public addresses only,
        # unless these relax it (tests: plain http and loopback; an internal DNS server).
        "OUTBOUND_ALLOW_HTTP": os.environ.get("OUTBOUND_ALLOW_HTTP") == "1",
        "OUTBOUND_ALLOWED_NETWORKS": [n for n in os.environ.get(
            "OUTBOUND_ALLOWED_NETWORKS", "").replace(",", " ").split() if n],
        "OUTBOUND_CONNECT_TIMEOUT": float(os.environ.get("OUTBOUND_CONNECT_TIMEOUT", "5")),
        "OUTBOUND_READ_TIMEOUT": float(os.environ.get("OUTBOUND_READ_TIMEOUT", "20")),
        "OUTBOUND_TOTAL_TIMEOUT": float(os.environ.get("OUTBOUND_TOTAL_TIMEOUT", "60")),
        "OUTBOUND_MAX_RESPONSE_BYTES": int(os.environ.get("OUTBOUND_MAX_RESPONSE_BYTES",
                                                          str(1024 * 1024))),
        # Discovery scans (app/services/discovery_scan.py): scan targets pass the outbound
        # check too; private networks (where most servers to discover live) must be listed
        # here by an administrator, e.g. "10.0.0.0/8 192.168.0.0/16".
        "DISCOVERY_ALLOWED_NETWORKS": [n for n in os.environ.get(
            "DISCOVERY_ALLOWED_NETWORKS", "").replace(",", " ").split() if n],
        "DISCOVERY_SCAN_TIMEOUT_SECONDS": float(os.environ.get(
            "DISCOVERY_SCAN_TIMEOUT_SECONDS", "10")),
        "DISCOVERY_SCAN_CONCURRENCY": int(os.environ.get("DISCOVERY_SCAN_CONCURRENCY", "8")),
        # The expiry scan (task expiry-scan, services/expiry.py): daily.
        "EXPIRY_SCAN_INTERVAL_SECONDS": float(os.environ.get("EXPIRY_SCAN_INTERVAL_SECONDS",
                                                             "86400")),
        # The scheduled re-scan of saved endpoints (task discovery-rescan): daily.
        "DISCOVERY_RESCAN_SECONDS": float(os.environ.get("DISCOVERY_RESCAN_SECONDS",
                                                         str(24 * 3600))),
        # Revocation (services/revocation*.py): the http:// base URL new certificates point
        # their CRL DP and AIA at (required in production), and how long CRLs and OCSP
        # responses are valid (re-signed at half-life; a root's much longer).
        "PKI_BASE_URL": os.environ.get("PKI_BASE_URL", ""),
        "CRL_NEXT_UPDATE_DAYS": float(os.environ.get("CRL_NEXT_UPDATE_DAYS", "7")),
        "OCSP_NEXT_UPDATE_DAYS": float(os.environ.get("OCSP_NEXT_UPDATE_DAYS", "4")),
        "ROOT_NEXT_UPDATE_DAYS": float(os.environ.get("ROOT_NEXT_UPDATE_DAYS", "365")),
        "CRL_REFRESH_SECONDS": float(os.environ.get("CRL_REFRESH_SECONDS", "3600")),
        "OCSP_REFRESH_SECONDS": float(os.environ.get("OCSP_REFRESH_SECONDS", "3600")),
        # Pre-signed OCSP responses are also kept in Redis for the responder's fast path
        # (services/ocsp_cache.py; ~0.5 KB a certificate). "0" serves from the database.
        "OCSP_REDIS_CACHE": os.environ.get("OCSP_REDIS_CACHE", "1") not in ("0", "false",
                                                                             "no", ""),
        # An order waiting on an external CA fails after this long (ACME orders expire
        # after days; a commercial CA's validation can take as long).
        # Lint before signing (app/pki/lint.py): "every" signature (default) or
        # "sample:N" (one in N) for very high volumes; see docs/performance.md.
        "LINT_BEFORE_SIGNING": os.environ.get("LINT_BEFORE_SIGNING", "every"),
        "PROVIDER_MAX_WAIT_SECONDS": float(os.environ.get("PROVIDER_MAX_WAIT_SECONDS",
                                                          str(7 * 86400))),
        # Expiry monitoring (app/services/expiry.py): alert thresholds in days before
        # notAfter ("expired" is always raised too), and the operations address(es) that
        # get every expiry e-mail besides the owners.
        "EXPIRY_ALERT_DAYS": os.environ.get("EXPIRY_ALERT_DAYS", "30,14,7"),
        "EXPIRY_OPS_EMAIL": os.environ.get("EXPIRY_OPS_EMAIL", ""),
        # E-mail (app/services/mailer.py): smtp://user:pass@host:587?starttls=true or
        # smtps://host:465; unset = no e-mail is sent.
        "SMTP_URL": os.environ.get("SMTP_URL", ""),
        "SMTP_FROM": os.environ.get("SMTP_FROM", "certificates@localhost"),
        "SMTP_TIMEOUT": float(os.environ.get("SMTP_TIMEOUT", "20")),
        # Retries of an e-mail and of a webhook delivery (seconds after each failure).
        "EMAIL_RETRY_SECONDS": os.environ.get("EMAIL_RETRY_SECONDS", "60,300,1800"),
        "WEBHOOK_RETRY_SECONDS": os.environ.get("WEBHOOK_RETRY_SECONDS", "60,300,1800,7200"),
    }


def normalize_database_url(url: str) -> str:
    """Accept the common ``postgres://`` / ``postgresql://`` spellings and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def ensure_secret_key(config: dict[str, Any], instance_path: str) -> None:
    """Fill SECRET_KEY from instance/ (generated on first start) unless production forbids it."""
    key = config.get("SECRET_KEY")
    if config["APP_ENV"] == "production":
        if not key or key in INSECURE_SECRET_KEYS or len(key) < 32:
            raise ConfigurationError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production."
            )
        return
    if key:
        return
    config["SECRET_KEY"] = read_or_create_secret_file(
        Path(instance_path) / "secret_key", lambda: secrets.token_urlsafe(48)
    )


def read_or_create_secret_file(path: Path, make: Any) -> str:
    """Read a secret file, creating it with mode 0600 first if it does not exist."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        value = make()
        handle.write(value + "\n")
    return value

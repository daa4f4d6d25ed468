"""The ACME server's HTTP surface (RFC 8555 + RFC 9773) under ``/acme/<server id>/``:
JOSE in, JSON and problem documents out; no CSRF (requests are signed JWS)."""
from app.blueprints.acme.routes import bp

__all__ = ["bp"]

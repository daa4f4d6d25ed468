"""Admin → ACME Servers (deployment admins and super admins, SPEC 1 and 9)."""
from app.blueprints.admin_acme.routes import bp

__all__ = ["bp"]

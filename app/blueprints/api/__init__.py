"""The couriers' JSON API (SPEC 8) and its OpenAPI document."""
from app.blueprints.api import bridge as _bridge  # noqa: F401 (registers its routes on bp)
from app.blueprints.api.errors import install_fallback
from app.blueprints.api.routes import bp

__all__ = ["bp", "install_fallback"]

"""The couriers' JSON API (SPEC 8) and its OpenAPI document."""
from app.blueprints.api.errors import install_fallback
from app.blueprints.api.routes import bp

__all__ = ["bp", "install_fallback"]

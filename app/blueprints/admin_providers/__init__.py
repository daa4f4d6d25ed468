from app.blueprints.admin_providers.routes import bp

__all__ = ["bp"]

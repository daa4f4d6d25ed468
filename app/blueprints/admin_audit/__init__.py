from app.blueprints.admin_audit.routes import bp

__all__ = ["bp"]

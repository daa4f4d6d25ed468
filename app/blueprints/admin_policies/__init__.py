from app.blueprints.admin_policies.routes import bp

__all__ = ["bp"]

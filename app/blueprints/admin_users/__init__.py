from app.blueprints.admin_users.routes import bp

__all__ = ["bp"]

from app.blueprints.admin_notifications.routes import bp

__all__ = ["bp"]

from app.blueprints.alerts.routes import bp

__all__ = ["bp"]

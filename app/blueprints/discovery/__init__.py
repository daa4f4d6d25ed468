from app.blueprints.discovery.routes import bp

__all__ = ["bp"]

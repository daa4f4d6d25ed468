from app.blueprints.targets.routes import bp

__all__ = ["bp"]

from app.blueprints.bridges.routes import bp

__all__ = ["bp"]

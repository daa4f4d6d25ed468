from app.blueprints.http01.routes import bp

__all__ = ["bp"]

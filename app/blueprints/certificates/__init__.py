from app.blueprints.certificates.routes import bp

__all__ = ["bp"]

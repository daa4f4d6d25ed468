from app.blueprints.pki.routes import bp

__all__ = ["bp"]

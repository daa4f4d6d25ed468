from app.blueprints.csr.routes import bp

__all__ = ["bp"]

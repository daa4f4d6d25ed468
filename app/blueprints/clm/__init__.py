from app.blueprints.clm.routes import bp

__all__ = ["bp"]

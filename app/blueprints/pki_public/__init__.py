from app.blueprints.pki_public.routes import bp

__all__ = ["bp"]

from app.blueprints.admin_domains.routes import bp

__all__ = ["bp"]

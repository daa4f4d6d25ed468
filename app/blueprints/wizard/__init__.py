from app.blueprints.wizard.routes import bp

__all__ = ["bp"]

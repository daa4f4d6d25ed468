from app.blueprints.orders.routes import bp

__all__ = ["bp"]

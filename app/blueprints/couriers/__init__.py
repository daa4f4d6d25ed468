from app.blueprints.couriers.routes import bp

__all__ = ["bp"]

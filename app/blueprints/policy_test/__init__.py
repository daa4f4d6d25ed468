from app.blueprints.policy_test.routes import bp

__all__ = ["bp"]

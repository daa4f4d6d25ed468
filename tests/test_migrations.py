"""The schema comes only from migrations, and models and migrations never drift."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db
from app.models.base import include_in_autogenerate


def test_models_match_the_migrated_schema(app) -> None:
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "include_object": include_in_autogenerate})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_flask_db_check_reports_no_drift(app) -> None:
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_order_search_has_its_trigram_index_on_postgresql(app) -> None:
    from sqlalchemy import inspect

    with app.app_context():
        names = {i["name"] for i in inspect(db.engine).get_indexes("orders")}
        on_postgresql = db.engine.dialect.name == "postgresql"
    assert ("ix_orders_common_name_trgm" in names) == on_postgresql

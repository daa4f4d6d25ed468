"""Form pieces shared by several blueprints."""
from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from app.services.errors import ServiceError


class ActionForm(FlaskForm):
    """A button that changes state: carries only the CSRF token."""


def first_error(form: FlaskForm) -> str | None:
    for field_errors in form.errors.values():
        if field_errors:
            return str(field_errors[0])
    return None


def attach_error(form: FlaskForm, error: ServiceError, default: str | None = None) -> None:
    """Show a service error next to the field it names (or ``default``), else on top."""
    field = getattr(form, error.field or "", None) or getattr(form, default or "", None)
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


def choices(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms option objects (tuples are deprecated in 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]  # type: ignore[arg-type]

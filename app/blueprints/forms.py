"""Form pieces shared by several blueprints."""
from __future__ import annotations

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A button that changes state: carries only the CSRF token."""


def first_error(form: FlaskForm) -> str | None:
    for field_errors in form.errors.values():
        if field_errors:
            return str(field_errors[0])
    return None

"""Form pieces shared by several blueprints."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from app.services.errors import ServiceError


class WholeNumberField(IntegerField):
    """An IntegerField that refuses numbers of more than 15 digits as "not a number" before
    any validator sees them (WTForms' NumberRange fails on ints too large for a float)."""

    MAX_DIGITS = 15

    def process_formdata(self, valuelist: list[Any]) -> None:
        raw = str(valuelist[0]).strip() if valuelist else ""
        if len(raw.lstrip("+-")) > self.MAX_DIGITS:
            self.data = None
            raise ValueError(self.gettext("Not a valid integer value."))
        super().process_formdata(valuelist)


class CheckboxListField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


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

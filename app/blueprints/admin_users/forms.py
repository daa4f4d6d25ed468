from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.blueprints.forms import choices
from app.domain.roles import ROLE_LABELS


class CheckboxListField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _role_choices() -> list[SelectChoice]:
    return choices((role.value, label) for role, label in ROLE_LABELS.items())


class UserCreateForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", choices=_role_choices(), default="user")
    domains = CheckboxListField("Assigned domains", coerce=int)


class UserEditForm(FlaskForm):
    role = SelectField("Role", choices=_role_choices())
    domains = CheckboxListField("Assigned domains", coerce=int)
    enabled = BooleanField("Enabled (may log in)")

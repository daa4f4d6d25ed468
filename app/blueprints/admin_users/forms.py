from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.blueprints.forms import CheckboxListField, choices
from app.domain.roles import ROLE_LABELS


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

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from app.blueprints.forms import CheckboxListField
from app.services import couriers
from app.services.errors import ValidationFailed


class CourierForm(FlaskForm):
    name = StringField("Name", validators=[
        DataRequired(message="Give the courier a name."),
        Length(max=100, message="Name must be 1 to 100 characters.")])
    # Unknown ids are reported by the service ("must be a registered domain"), which
    # reads better than WTForms' "not a valid choice".
    domains = CheckboxListField("Allowed domains", coerce=int, validate_choice=False)
    public_key = TextAreaField("Encryption public key (optional)", render_kw={
        "rows": 6, "spellcheck": "false",
        "placeholder": "-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----"})

    def validate_domains(self, field: CheckboxListField) -> None:
        if not field.data:
            raise ValidationError("Choose at least one allowed domain.")

    def validate_public_key(self, field: TextAreaField) -> None:
        try:
            couriers.check_public_key(field.data)
        except ValidationFailed as exc:
            raise ValidationError(exc.message) from exc


class CourierEditForm(CourierForm):
    enabled = BooleanField("Enabled (may authenticate and request certificates)")

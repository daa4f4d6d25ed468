"""ACME server and account forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.blueprints.forms import WholeNumberField, choices
from app.domain.acme import MAX_DAYS, MIN_DAYS
from app.services.acme_admin import ALGORITHM_CHOICES, DIGESTS


class AcmeServerForm(FlaskForm):
    name = StringField("Name", validators=[
        DataRequired(message="Give the server a name."),
        Length(max=100, message="Name must be 1 to 100 characters.")])
    issuer = SelectField("Issuing intermediate", validators=[
        DataRequired(message="Choose the intermediate that signs this server's "
                             "certificates.")])
    default_days = WholeNumberField("Default validity (days)", default=90, validators=[
        DataRequired(message="Give the default validity in days."),
        NumberRange(MIN_DAYS, MAX_DAYS, message=f"{MIN_DAYS} to {MAX_DAYS} days.")])
    max_days = WholeNumberField("Maximum validity (days)", default=397, validators=[
        DataRequired(message="Give the maximum validity in days."),
        NumberRange(MIN_DAYS, MAX_DAYS, message=f"{MIN_DAYS} to {MAX_DAYS} days.")])
    allowed_algorithms = SelectMultipleField(
        "Allowed key algorithms", choices=choices((a, a) for a in ALGORITHM_CHOICES),
        default=["ec-256", "ec-384", "rsa-2048", "rsa-3072", "rsa-4096"],
        option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False))
    digest = SelectField("Signature digest", choices=choices((d, d) for d in DIGESTS),
                         default="sha256")
    terms_of_service_url = StringField("Terms-of-service URL (optional)",
                                       validators=[Optional(), Length(max=500)])
    orders_per_hour = WholeNumberField("New orders per account per hour", default=300,
                                       validators=[DataRequired(message="Give a limit."),
                                                   NumberRange(1, 1_000_000)])


class AcmeAccountForm(FlaskForm):
    name = StringField("Name", validators=[
        DataRequired(message="Give the account a name."),
        Length(max=100, message="Name must be 1 to 100 characters.")])
    email = EmailField("Contact e-mail", validators=[
        DataRequired(message="Give a contact e-mail address."), Length(max=254)])
    bindings = TextAreaField("Domain bindings", validators=[
        DataRequired(message="Bind at least one registered domain.")],
        render_kw={"rows": 4, "spellcheck": "false",
                   "placeholder": "example.com:subdomains\nshop.example.org:exact"})

    def binding_lines(self) -> list[str]:
        return [line.strip() for line in (self.bindings.data or "").splitlines()
                if line.strip()]

"""The webhook form (shape only; the service checks the URL, events and secret)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.blueprints.forms import choices
from app.services.webhooks import EVENTS


class WebhookForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Give the webhook a name."),
                                           Length(max=100)])
    url = StringField("URL (https)", validators=[
        DataRequired(message="Enter the https URL to send events to."), Length(max=2000)])
    events = SelectMultipleField(
        "Events", choices=choices((e, e) for e in EVENTS), validate_choice=False,
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    secret = PasswordField("Secret (HMAC-SHA256 key; at least 16 characters)",
                           validators=[Length(max=200)])
    active = BooleanField("Active", default=True)

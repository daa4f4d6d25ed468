"""The key export form: the CA key export's passphrase fields, plus the file format."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField

from app.blueprints.forms import choices
from app.blueprints.pki.forms import KeyExportForm
from app.services.certificate_exports import EXPORT_FORMATS
from app.services.revocation import CERTIFICATE_REASONS


class CertificateExportForm(KeyExportForm):
    # The service is the gate for the format (a clear message, 422, nothing written).
    format = RadioField("File format", default="pkcs12", validate_choice=False,
                        choices=choices(EXPORT_FORMATS.items()))
    remove_key = None  # a certificate's key stays on the platform


class RevokeForm(FlaskForm):
    # The service is the gate for the reason; the view checks the confirmation.
    reason = SelectField("Reason (RFC 5280)", default="unspecified", validate_choice=False,
                         choices=choices((r, r) for r in CERTIFICATE_REASONS))
    confirm = StringField("Confirm")

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, TextAreaField
from wtforms.validators import Length

MAX_PASTE = 1024 * 1024


class ImportForm(FlaskForm):
    file = FileField("Certificate file (PEM, DER or PKCS#7 .p7b)")
    pem = TextAreaField("…or paste PEM certificates", validators=[Length(max=MAX_PASTE)],
                        render_kw={"rows": 6, "spellcheck": "false",
                                   "placeholder": "-----BEGIN CERTIFICATE-----"})


class ScanForm(FlaskForm):
    targets = TextAreaField(
        "Endpoints to scan", validators=[Length(max=64 * 1024)],
        render_kw={"rows": 4, "spellcheck": "false",
                   "placeholder": "www.example.com:443\n10.0.0.5:8443/intranet.example.com"})
    save = BooleanField("Save these endpoints for the daily re-scan", default=True)

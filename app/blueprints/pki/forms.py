from dataclasses import replace

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional

from app.blueprints.forms import CheckboxListField, WholeNumberField, choices
from app.domain.choices import EXTENDED_KEY_USAGES
from app.domain.labels import ALGORITHM_LABELS, EXTENDED_KEY_USAGE_LABELS
from app.services.pki import (
    ALGORITHMS,
    DEFAULT_CA_ALGORITHM,
    DEFAULT_CA_DIGEST,
    DEFAULT_INTERMEDIATE_EKU,
    DEFAULT_INTERMEDIATE_VALIDITY_DAYS,
    DEFAULT_ROOT_VALIDITY_DAYS,
    DIGESTS,
    MAX_CA_VALIDITY_DAYS,
    MIN_CA_VALIDITY_DAYS,
    CAParameters,
)
from app.services.revocation import CA_REASONS


class RootForm(FlaskForm):
    common_name = StringField("Common name", validators=[DataRequired(), Length(min=3, max=64)])
    # O and C required, no OU: the CA/B Forum's CA subject profile (BR 7.1.2.10.2).
    organization = StringField("Organisation (O)", validators=[
        DataRequired(message="An organisation (O) is required for a CA."), Length(max=64)])
    country = StringField("Country (C, two letters)", validators=[
        DataRequired(message="A country (C) is required for a CA."), Length(max=2)])
    state = StringField("State or province (ST)", validators=[Optional(), Length(max=128)])
    locality = StringField("Locality (L)", validators=[Optional(), Length(max=128)])
    algorithm = SelectField("Key algorithm", default=DEFAULT_CA_ALGORITHM,
                            choices=choices((a, ALGORITHM_LABELS[a]) for a in ALGORITHMS))
    digest = SelectField("Signature digest", default=DEFAULT_CA_DIGEST,
                         choices=choices((d, d.upper().replace("SHA", "SHA-")) for d in DIGESTS))
    validity_days = WholeNumberField(
        "Validity (days)", default=DEFAULT_ROOT_VALIDITY_DAYS,
        validators=[InputRequired(message="Enter the validity in days."),
                    NumberRange(MIN_CA_VALIDITY_DAYS, MAX_CA_VALIDITY_DAYS)])

    def parameters(self) -> CAParameters:
        def text(value: str | None) -> str | None:
            return (value or "").strip() or None

        return CAParameters(
            common_name=(self.common_name.data or "").strip(),
            organization=text(self.organization.data),
            country=text(self.country.data), state=text(self.state.data),
            locality=text(self.locality.data), algorithm=self.algorithm.data,
            digest=self.digest.data, validity_days=self.validity_days.data)


class IntermediateForm(RootForm):
    parent_id = SelectField("Signed by root", validators=[DataRequired()])
    validity_days = WholeNumberField(
        "Validity (days)", default=DEFAULT_INTERMEDIATE_VALIDITY_DAYS,
        validators=[InputRequired(message="Enter the validity in days."),
                    NumberRange(MIN_CA_VALIDITY_DAYS, MAX_CA_VALIDITY_DAYS)])
    # Judged by the service (pki.request_intermediate): one rule for the form and the CLI.
    extended_key_usage = CheckboxListField(
        "Extended key usages its certificates may have",
        default=list(DEFAULT_INTERMEDIATE_EKU), validate_choice=False,
        choices=choices((u, f"{EXTENDED_KEY_USAGE_LABELS[u]} ({u})")
                        for u in EXTENDED_KEY_USAGES))
    permitted_dns = CheckboxListField("Permit only names under (name constraints)",
                                      validate_choice=False)

    def parameters(self) -> CAParameters:
        return replace(super().parameters(),
                       extended_key_usage=tuple(self.extended_key_usage.data or ()),
                       permitted_dns=tuple(self.permitted_dns.data or ()))


class KeyExportForm(FlaskForm):
    passphrase = PasswordField("Passphrase to protect the exported key",
                               validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField("Repeat the passphrase", validators=[
        DataRequired(), EqualTo("passphrase", message="The two passphrases differ.")])
    remove_key = BooleanField("Remove the key from the platform when I download it "
                              "(the root goes offline)", default=True)


class RevokeCAForm(FlaskForm):
    # The service is the gate for the reason; the view checks the confirmation.
    reason = SelectField("Reason (RFC 5280)", default="unspecified", validate_choice=False,
                         choices=choices((r, r) for r in CA_REASONS))
    confirm = StringField("Confirm")

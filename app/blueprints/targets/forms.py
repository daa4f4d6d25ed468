"""Target system and certificate profile forms (the services check every value; these
only parse what was typed)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from app.blueprints.forms import WholeNumberField, choices
from app.domain.labels import ALGORITHM_LABELS
from app.domain.policy import Violation
from app.domain.targets import KIND_LABELS, PATH_LABELS, TargetSpec

MODE = Regexp(r"^0?[0-7]{3}$", message="An octal file mode like 640.")


class TargetForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Give the target a name."),
                                           Length(max=100)])
    bridge = SelectField("Bridge", validate_choice=False)
    kind = SelectField("Kind", choices=choices(KIND_LABELS.items()))
    path_fullchain = StringField(PATH_LABELS["fullchain"])
    path_key = StringField(PATH_LABELS["key"])
    path_pem = StringField(PATH_LABELS["pem"])
    path_certificate = StringField(PATH_LABELS["certificate"])
    path_chain = StringField(PATH_LABELS["chain"])
    file_owner = StringField("File owner (optional)")
    file_group = StringField("File group (optional)")
    file_mode = StringField("Certificate file mode", default="644", validators=[MODE])
    key_mode = StringField("Key file mode", default="600", validators=[MODE])
    reload_command = StringField("Reload command")
    reload_timeout = WholeNumberField("Reload timeout (seconds)", default=30)
    probe_host = StringField("TLS endpoint host", default="127.0.0.1")
    probe_port = WholeNumberField("TLS endpoint port", default=443)
    probe_sni = StringField("SNI name (optional)")

    def spec(self) -> TargetSpec:
        paths = {name: getattr(self, f"path_{name}").data or ""
                 for name in PATH_LABELS}
        return TargetSpec(kind=self.kind.data, paths={k: v for k, v in paths.items() if v},
                          reload_command=self.reload_command.data or "",
                          probe_host=self.probe_host.data or "",
                          probe_port=self.probe_port.data or 0,
                          probe_sni=self.probe_sni.data, file_owner=self.file_owner.data,
                          file_group=self.file_group.data,
                          file_mode=int(self.file_mode.data, 8),
                          key_mode=int(self.key_mode.data, 8),
                          reload_timeout_seconds=self.reload_timeout.data or 0)

    def fill(self, spec: TargetSpec) -> None:
        for name in PATH_LABELS:
            getattr(self, f"path_{name}").data = spec.paths.get(name, "")
        self.kind.data, self.reload_command.data = spec.kind, spec.reload_command
        self.probe_host.data, self.probe_port.data = spec.probe_host, spec.probe_port
        self.probe_sni.data = spec.probe_sni or ""
        self.file_owner.data, self.file_group.data = spec.file_owner or "", spec.file_group or ""
        self.file_mode.data = format(spec.file_mode, "03o")
        self.key_mode.data = format(spec.key_mode, "03o")
        self.reload_timeout.data = spec.reload_timeout_seconds


class TargetEditForm(TargetForm):
    enabled = BooleanField("Enabled (its profiles order and renew certificates)")


class ProfileForm(FlaskForm):
    name = StringField("Profile name", validators=[
        DataRequired(message="Give the profile a name."), Length(max=100)])
    common_name = StringField("Common name")
    sans = TextAreaField("Other names (one per line)", render_kw={"rows": 3})
    algorithm = SelectField("Key algorithm", default="ec-256",
                            choices=choices(ALGORITHM_LABELS.items()))
    validity_days = WholeNumberField("Validity (days)", validators=[Optional()])
    renew_before_days = WholeNumberField("Renew this many days before expiry",
                                         validators=[Optional(), NumberRange(1, 3650)])
    enabled = BooleanField("Enabled", default=True)

    def values(self) -> dict[str, object]:
        return {"common_name": self.common_name.data,
                "sans": [s.strip() for s in (self.sans.data or "").splitlines() if s.strip()],
                "algorithm": self.algorithm.data, "validity_days": self.validity_days.data}


def field_for(violation: Violation) -> str | None:
    """The form field a service violation belongs to (``paths.key`` → ``path_key``)."""
    name = violation.field or ""
    if name.startswith("paths."):
        return "path_" + name.removeprefix("paths.")
    return {"reload_timeout_seconds": "reload_timeout", "paths": "path_key"}.get(name, name)

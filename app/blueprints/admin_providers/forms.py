"""Provider forms. Secret fields are write-only: never rendered with a value; left empty
on an edit they keep the stored (sealed) secret."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length

from app.blueprints.forms import choices
from app.domain.providers import TSIG_ALGORITHMS


class ProviderNameForm(FlaskForm):
    """The Local PKI: a name and the active switch (it has no other settings)."""

    name = StringField("Name", validators=[
        DataRequired(message="Give the provider a name."),
        Length(max=100, message="Name must be 1 to 100 characters.")])
    active = BooleanField("Active (offered when requesting certificates)", default=True)


class AcmeProviderForm(ProviderNameForm):
    directory_url = StringField("Directory URL", validators=[
        DataRequired(message="Enter the CA's ACME directory URL.")],
        render_kw={"placeholder": "https://acme-v02.api.letsencrypt.org/directory",
                   "spellcheck": "false"})
    account_email = StringField("Account e-mail", render_kw={"placeholder": "pki@example.com"})
    eab_kid = StringField("EAB key id (optional)", render_kw={"spellcheck": "false"})
    eab_hmac_key = PasswordField("EAB HMAC key (base64url)",
                                 render_kw={"autocomplete": "off"})
    challenge = RadioField("Challenge", choices=choices([
        ("http-01", "http-01 — the platform answers at /.well-known/acme-challenge/"),
        ("dns-01", "dns-01 — TXT records by RFC 2136 dynamic update (needed for wildcards)")]),
        default="http-01")
    dns_server = StringField("DNS server (HOST:PORT)",
                             render_kw={"placeholder": "ns1.example.com:53"})
    dns_zone = StringField("DNS zone", render_kw={"placeholder": "example.com"})
    tsig_name = StringField("TSIG key name")
    tsig_algorithm = SelectField("TSIG algorithm", choices=choices((a, a) for a in TSIG_ALGORITHMS),
                                 default="hmac-sha256")
    tsig_secret = PasswordField("TSIG secret (base64)", render_kw={"autocomplete": "off"})
    ca_bundle = TextAreaField("CA bundle (PEM, optional)", render_kw={
        "rows": 4, "spellcheck": "false",
        "placeholder": "Only for a private ACME CA whose TLS certificate public roots do "
                       "not cover."})

    CONFIG_FIELDS = ("directory_url", "account_email", "eab_kid", "challenge", "dns_server",
                     "dns_zone", "tsig_name", "tsig_algorithm", "ca_bundle")
    SECRET_FIELDS = ("eab_hmac_key", "tsig_secret")

    def config(self) -> dict[str, Any]:
        return {name: getattr(self, name).data for name in self.CONFIG_FIELDS}

    def secrets(self) -> dict[str, str]:
        return {name: getattr(self, name).data or "" for name in self.SECRET_FIELDS}


class SecretTextAreaField(TextAreaField):
    """A multi-line secret (a PEM private key): like a password field, never rendered
    back, not even after a refused submission."""

    def _value(self) -> str:
        return ""


class _SettingsForm(ProviderNameForm):
    CONFIG_FIELDS: tuple[str, ...] = ()
    SECRET_FIELDS: tuple[str, ...] = ()

    def config(self) -> dict[str, Any]:
        return {name: getattr(self, name).data for name in self.CONFIG_FIELDS}

    def secrets(self) -> dict[str, str]:
        return {name: getattr(self, name).data or "" for name in self.SECRET_FIELDS}


_CA_BUNDLE_HINT = "Only for a test or private endpoint whose TLS certificate public roots " \
                  "do not cover."


class DigiCertProviderForm(_SettingsForm):
    base_url = StringField("API base URL", render_kw={
        "placeholder": "https://www.digicert.com/services/v2", "spellcheck": "false"})
    organization_id = StringField("Organization id", validators=[
        DataRequired(message="Enter the CertCentral organization id.")],
        render_kw={"inputmode": "numeric"})
    product = StringField("Product", default="ssl_basic",
                          render_kw={"placeholder": "ssl_basic", "spellcheck": "false"})
    api_key = PasswordField("API key", render_kw={"autocomplete": "off"})
    poll_seconds = StringField("Check interval (seconds)", render_kw={
        "placeholder": "60", "inputmode": "numeric"})
    ca_bundle = TextAreaField("CA bundle (PEM, optional)", render_kw={
        "rows": 3, "spellcheck": "false", "placeholder": _CA_BUNDLE_HINT})

    CONFIG_FIELDS = ("base_url", "organization_id", "product", "poll_seconds", "ca_bundle")
    SECRET_FIELDS = ("api_key",)


class GlobalSignProviderForm(_SettingsForm):
    base_url = StringField("API base URL (region)", render_kw={
        "placeholder": "https://emea.api.hvca.globalsign.com:8443/v2", "spellcheck": "false"})
    api_key = PasswordField("API key", render_kw={"autocomplete": "off"})
    api_secret = PasswordField("API secret", render_kw={"autocomplete": "off"})
    client_cert = TextAreaField("Client certificate (PEM)", render_kw={
        "rows": 4, "spellcheck": "false"})
    mtls_key = SecretTextAreaField("Client certificate private key (PEM)", render_kw={
        "rows": 4, "spellcheck": "false", "autocomplete": "off"})
    poll_seconds = StringField("Check interval (seconds)", render_kw={
        "placeholder": "5", "inputmode": "numeric"})
    ca_bundle = TextAreaField("CA bundle (PEM, optional)", render_kw={
        "rows": 3, "spellcheck": "false", "placeholder": _CA_BUNDLE_HINT})

    CONFIG_FIELDS = ("base_url", "client_cert", "poll_seconds", "ca_bundle")
    SECRET_FIELDS = ("api_key", "api_secret", "mtls_key")

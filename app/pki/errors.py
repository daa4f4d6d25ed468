"""Errors raised by the PKI core.

Every error derives from :class:`PkiError`, so callers can catch one type at the edge
(a web form, a background job) and show ``str(error)`` to the user: messages are whole
sentences, never contain key material, and name the offending field where there is one.
"""

from __future__ import annotations


class PkiError(Exception):
    """Root of every error raised by ``app.pki``; the message is fit to show a user."""


class UnsupportedAlgorithm(PkiError):
    """A key algorithm, key type or digest this platform does not offer."""


class InvalidCAParameters(PkiError):
    """A request to create a certificate authority cannot be honoured as given.

    ``field`` names the form field at fault when one is (e.g. ``"country"``), so a form
    can attach the message to it; it is ``None`` for problems with no single field.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidSubject(InvalidCAParameters):
    """A distinguished-name field is missing, too long or badly formed."""


class InvalidKeyMaterial(PkiError):
    """Bytes that should hold a key or certificate could not be parsed."""


class KeyringConfigError(PkiError):
    """The key-encryption keyring specification is malformed."""


class KeyDecryptionError(PkiError):
    """An encrypted private key could not be decrypted (wrong key, tampered or malformed)."""


class WeakPassphrase(PkiError):
    """A passphrase chosen for an exported key is too weak to accept."""

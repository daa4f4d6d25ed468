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


class UnsupportedKey(UnsupportedAlgorithm):
    """A public key to certify is of a type or curve the platform does not accept."""


class WeakKey(UnsupportedKey):
    """A public key to certify is too small to be safe (e.g. RSA below 2048 bits)."""


class InvalidLeafProfile(PkiError):
    """A request to issue an end-entity certificate cannot be honoured as given.

    ``field`` names the profile field at fault (``"key_usage"``, ``"validity_days"``,
    ...) so a form can attach the message to it; ``None`` when no single field is.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidCSR(PkiError):
    """Bytes submitted as a certificate signing request are unreadable or inconsistent."""


class WeakCSRSignature(InvalidCSR):
    """A CSR signed with a broken hash (SHA-1, MD5): its self-signature proves nothing."""


class CSRTooLarge(InvalidCSR):
    """A submitted CSR exceeds the size limit and was refused without being parsed."""


class InvalidChain(PkiError):
    """Certificates handed over as a chain do not link up issuer by issuer."""


class KeyMismatch(PkiError):
    """A private key does not belong to the certificate it is bundled with."""

"""Certificate encodings and fingerprints for download and display."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from app.pki.errors import InvalidKeyMaterial


def certificate_to_pem(certificate: x509.Certificate) -> bytes:
    """Return the certificate as PEM (``-----BEGIN CERTIFICATE-----``), newline-terminated."""
    return certificate.public_bytes(serialization.Encoding.PEM)


def certificate_to_der(certificate: x509.Certificate) -> bytes:
    """Return the certificate's DER encoding, byte for byte as it was signed."""
    return certificate.public_bytes(serialization.Encoding.DER)


def load_certificate_pem(pem: bytes) -> x509.Certificate:
    """Parse the first certificate in PEM data.

    Raises :class:`InvalidKeyMaterial` if the data holds no readable PEM certificate.
    """
    try:
        return x509.load_pem_x509_certificate(pem)
    except (ValueError, TypeError):
        raise InvalidKeyMaterial("The data is not a readable PEM certificate.") from None


def fingerprint_sha256(certificate: x509.Certificate) -> str:
    """Return the SHA-256 fingerprint of the DER certificate as ``"AB:CD:..."``.

    Upper-case, colon-separated hex: the form ``openssl x509 -fingerprint`` and browsers
    show, so users can compare it by eye.
    """
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def crl_to_der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)


def crl_to_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)

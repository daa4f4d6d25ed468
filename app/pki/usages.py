"""Reading a certificate's key usages back, in the names requests use (RFC 5280 spelling).

Used to show what a certificate really carries, whatever was asked for. Never raises for a
certificate without the extensions (empty tuples)."""
from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.pki.leaf import EXTENDED_KEY_USAGES, KEY_USAGES

_CA_KEY_USAGES = {"keyCertSign": "key_cert_sign", "cRLSign": "crl_sign"}
_EKU_NAMES = {oid: name for name, oid in EXTENDED_KEY_USAGES.items()}
_EKU_NAMES[ExtendedKeyUsageOID.OCSP_SIGNING] = "OCSPSigning"


def certificate_usages(certificate: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(key usages, extended key usages); unknown EKU OIDs come back dotted."""
    key_usage: tuple[str, ...] = ()
    extended: tuple[str, ...] = ()
    try:
        ku = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        key_usage = tuple(name for name, attr in {**KEY_USAGES, **_CA_KEY_USAGES}.items()
                          if getattr(ku, attr))
    try:
        eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        extended = tuple(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku)
    return key_usage, extended

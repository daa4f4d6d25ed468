"""Certificate bundles for download: PEM chains, PKCS#7 and password-protected PKCS#12.

Vocabulary, as certbot and most server documentation use it:

* **chain** - the intermediate CA certificates, the leaf's issuer first, each followed
  by its own issuer; never the root;
* **fullchain** - the leaf followed by the chain: what a TLS server sends.

Roots are left out everywhere because a relying party must already trust the root; a
root sent by the server is ignored at best and costs bytes in every handshake. So a
caller may pass the whole path up to the root as ``chain``: a self-signed root at its
end is checked like every other link, then dropped. Every function checks that each
certificate really issued the one before it, so a bundle is never silently out of order.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from app.pki.encoding import certificate_to_pem
from app.pki.errors import InvalidChain, KeyMismatch
from app.pki.export import PBKDF2_ITERATIONS, check_passphrase
from app.pki.keys import PrivateKey, same_public_key
from app.pki.pkcs12_mac import strengthen_mac


def _issued(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _label(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return repr(names[0].value) if names else certificate.subject.rfc4514_string()


def served_chain(
    certificate: x509.Certificate, chain: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    """Return ``chain`` without trailing self-signed roots, after checking its order.

    Guarantees: ``chain[0]`` issued ``certificate`` and each later certificate issued
    the one before it (issuer name and signature both checked), the root included when
    given, so a wrong root is refused rather than silently dropped. An empty result
    (a leaf issued directly by a root) is fine. Raises :class:`InvalidChain` naming the
    first certificate out of place.
    """
    previous = certificate
    for candidate in chain:
        if not _issued(previous, candidate):
            raise InvalidChain(
                f"The chain does not link up: {_label(candidate)} did not issue "
                f"{_label(previous)}. List the issuing CA first, then its issuer, and so on."
            )
        previous = candidate
    served = list(chain)
    while served and _issued(served[-1], served[-1]):
        served.pop()  # a self-signed root: relying parties must already hold it
    return served


def chain_pem(certificate: x509.Certificate, chain: Sequence[x509.Certificate]) -> bytes:
    """Return the intermediates as concatenated PEM, issuer first, without the root.

    ``b""`` when the leaf was issued directly by a root. Raises :class:`InvalidChain`.
    """
    return b"".join(certificate_to_pem(c) for c in served_chain(certificate, chain))


def fullchain_pem(
    certificate: x509.Certificate, chain: Sequence[x509.Certificate]
) -> bytes:
    """Return the leaf then the intermediates as PEM (no root), like certbot's fullchain.pem.

    Raises :class:`InvalidChain` if the chain is out of order.
    """
    return certificate_to_pem(certificate) + chain_pem(certificate, chain)


def pkcs7_bundle(certificate: x509.Certificate, chain: Sequence[x509.Certificate]) -> bytes:
    """Return a certs-only PKCS#7 (``-----BEGIN PKCS7-----``) with the leaf and chain.

    The form Windows and Java tools import as ``.p7b``; the root is left out as for the
    PEM bundles. PKCS#7 stores certificates as a DER ``SET OF``, which is sorted by
    encoding, so the file does not keep the leaf-first order; readers build the path
    from names and key identifiers. Raises :class:`InvalidChain` if the chain given is
    out of order.
    """
    certificates = [certificate, *served_chain(certificate, chain)]
    return pkcs7.serialize_certificates(certificates, serialization.Encoding.PEM)


def pkcs12_bundle(
    private_key: PrivateKey,
    certificate: x509.Certificate,
    chain: Sequence[x509.Certificate],
    passphrase: str,
    friendly_name: str,
) -> bytes:
    """Return a DER PKCS#12 (``.p12``/``.pfx``) with the key, the leaf and the chain.

    Key and certificate bags are encrypted with PBES2 (PBKDF2-HMAC-SHA256,
    :data:`app.pki.export.PBKDF2_ITERATIONS` rounds, AES-256-CBC) and the file is
    authenticated with an HMAC-SHA256 MAC whose key derivation uses as many rounds
    (see :mod:`app.pki.pkcs12_mac`), all under the ``passphrase`` (UTF-8 for the bags,
    BMPString for the MAC, as RFC 7292 and OpenSSL 3 define). Opens with
    OpenSSL 3 (``openssl pkcs12 -info -passin pass:...``), current Windows, macOS and
    Java; legacy readers that only know 3DES/RC2 (Windows before Server 2019, OpenSSL
    1.0) cannot open it, by design. ``friendly_name`` labels the key and certificate in
    key stores (omitted when blank); the root is not included.

    Raises :class:`WeakPassphrase` for a passphrase under 12 characters,
    :class:`KeyMismatch` if the key does not belong to ``certificate``, and
    :class:`InvalidChain` if the chain is out of order.
    """
    check_passphrase(passphrase)
    if not same_public_key(private_key, certificate.public_key()):  # type: ignore[arg-type]
        raise KeyMismatch("The private key does not belong to this certificate.")
    served = served_chain(certificate, chain)
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(PBKDF2_ITERATIONS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase.encode("utf-8"))
    )
    name = friendly_name.strip().encode("utf-8") or None
    pfx = pkcs12.serialize_key_and_certificates(
        name, private_key, certificate, served or None, encryption
    )
    return strengthen_mac(pfx, passphrase, PBKDF2_ITERATIONS)

"""Lint before signing (Boulder's model): before a CA key signs a certificate, CRL or OCSP
response, the same object is signed by a throwaway key of the same type and linted with
pkilint in-process; any finding of WARNING or worse outside the allow-list
(:mod:`app.pki.lint_allowlist`) refuses the signature with :class:`LintRefused`, so the CA
key never signs it.

Certificates get pkilint's RFC 5280 linter (``lint_pkix_cert``), or, for a serverAuth
end-entity certificate, the CA/B Forum TLS linter (``lint_cabf_serverauth_cert``, which
runs the RFC 5280 validators too); CRLs
``lint_crl`` (PKIX profile), OCSP responses ``lint_ocsp_response``. Validators are built
once per process (the console scripts cost ~145 ms each; in-process a leaf costs a few ms).

How often: :func:`configure` with ``every`` (the default) or ``sample:N`` (one signature in
N is linted, for very high volumes), set from the ``LINT_BEFORE_SIGNING`` setting.
"""
from __future__ import annotations

import itertools
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.pki.algorithms import hash_for
from app.pki.errors import PkiError
from app.pki.keys import PrivateKey
from app.pki.lint_allowlist import is_allowed

EVERY: Final[str] = "every"
SEVERITIES: Final[tuple[str, ...]] = ("FATAL", "ERROR", "WARNING")  # what refuses


@dataclass(frozen=True)
class LintFinding:
    severity: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "code": self.code, "message": self.message}


class LintRefused(PkiError):
    """pkilint found something outside the allow-list in what was about to be signed."""

    code = "lint.refused"

    def __init__(self, what: str, findings: list[LintFinding]) -> None:
        self.findings = findings
        listed = "; ".join(f"{f.code} ({f.severity.lower()})"
                           + (f": {f.message}" if f.message else "") for f in findings)
        super().__init__(f"The {what} was not signed: pkilint found {listed}.")


# ---- how often -------------------------------------------------------------------------

@dataclass
class _Mode:
    every: int = 1                       # lint one signature in ``every``
    counter: Any = None

    def due(self) -> bool:
        if self.every <= 1:
            return True
        return next(self.counter) % self.every == 0


_mode = _Mode(1, itertools.count())
_mode_lock = threading.Lock()


def parse_mode(text: str) -> int:
    """``every`` → 1, ``sample:N`` → N (N ≥ 1). Raises ValueError for anything else."""
    value = (text or EVERY).strip().lower()
    if value == EVERY:
        return 1
    kind, _, number = value.partition(":")
    if kind == "sample" and number.isdigit() and int(number) >= 1:
        return int(number)
    raise ValueError(f"LINT_BEFORE_SIGNING must be 'every' or 'sample:N' (N ≥ 1), not "
                     f"{text!r}.")


def configure(text: str) -> None:
    """Set how often signatures are linted in this process (the worker's setting)."""
    every = parse_mode(text)
    with _mode_lock:
        _mode.every, _mode.counter = every, itertools.count()


def current_mode() -> str:
    return EVERY if _mode.every <= 1 else f"sample:{_mode.every}"


# ---- linting ---------------------------------------------------------------------------

def _collect(results: Any, found: dict[tuple[str, str], LintFinding]) -> None:
    for result in results:
        for description in result.finding_descriptions:
            finding = description.finding
            if finding.severity.name in SEVERITIES:
                found.setdefault((finding.severity.name, finding.code), LintFinding(
                    finding.severity.name, finding.code, (description.message or "")[:300]))


def _sorted(found: dict[tuple[str, str], LintFinding]) -> list[LintFinding]:
    return sorted(found.values(), key=lambda f: (SEVERITIES.index(f.severity), f.code))


@cache
def _pkix_certificate_validator() -> Any:
    return with_dispatch_cache(build_pkix_certificate_validator())


def build_pkix_certificate_validator() -> Any:
    """pkilint's RFC 5280 certificate validator, as pkilint builds it."""
    from pkilint.pkix import certificate, extension, name

    return certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(name.ATTRIBUTE_TYPE_MAPPINGS,
                                               extension.EXTENSION_MAPPINGS),
        [certificate.create_issuer_validator_container([]),
         certificate.create_validity_validator_container(),
         certificate.create_subject_validator_container([]),
         certificate.create_extensions_validator_container([]),
         certificate.create_spki_validator_container([])])


@cache
def _serverauth_validator(kind: Any) -> tuple[Any, Any]:
    validator, filters = build_serverauth_validator(kind)
    return with_dispatch_cache(validator), filters


def build_serverauth_validator(kind: Any) -> tuple[Any, Any]:
    """pkilint's CA/B Forum TLS validator for ``kind`` and its finding filters, as
    pkilint builds them."""
    from pkilint.cabf import serverauth
    from pkilint.pkix import certificate

    validator = certificate.create_pkix_certificate_validator_container(
        serverauth.create_decoding_validators(), serverauth.create_validators(kind))
    return validator, serverauth.create_serverauth_finding_filters(kind)


def _is_server_auth_leaf(cert: x509.Certificate) -> bool:
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        pass
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.SERVER_AUTH in usages


def _own_certificate_type(cert: x509.Certificate) -> Any:
    """The BR profile our own leaf is judged under. The platform asserts no policy OID, so
    pkilint's detection would always say DV; a subject with an organisation is an OV-style
    subject and is judged by the OV rules instead (DV forbids O)."""
    from pkilint.cabf.serverauth.serverauth_constants import CertificateType

    if cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME):
        return CertificateType.OV_FINAL_CERTIFICATE
    return CertificateType.DV_FINAL_CERTIFICATE


def lint_certificate(cert: x509.Certificate, *, detect_type: bool = False
                     ) -> list[LintFinding]:
    """pkilint's RFC 5280 findings, or for a serverAuth leaf its CA/B Forum TLS findings
    (RFC 5280 and the BRs), WARNING or worse. ``detect_type``: let pkilint pick the BR
    certificate type from the policy OIDs (a public CA's certificate) instead of from our
    subject."""
    from pkilint import finding_filter
    from pkilint.cabf import serverauth

    found: dict[tuple[str, str], LintFinding] = {}
    doc = _certificate_loader().load_der_document(
        cert.public_bytes(serialization.Encoding.DER), "certificate")
    if not _is_server_auth_leaf(cert):
        _collect(_pkix_certificate_validator().validate(doc.root), found)
        return _sorted(found)
    # The CA/B Forum linter runs RFC 5280's validators too, and filters out the PKIX
    # findings the BRs supersede (RFC 5280 knows no wildcard names, the BRs define them).
    kind = serverauth.determine_certificate_type(doc) if detect_type \
        else _own_certificate_type(cert)
    validator, filters = _serverauth_validator(kind)
    results, _ = finding_filter.filter_results(filters, validator.validate(doc.root))
    _collect(results, found)
    return _sorted(found)


@cache
def _certificate_loader() -> Any:
    """pkilint's DER certificate loader, making documents whose validity times are parsed
    once. pkilint's ``not_before`` and ``not_after`` are plain properties: every validator
    that asks for the validity start (~a dozen CA/B Forum rules, several per DNS name)
    navigates to it and parses the time string again, ~6 % of a leaf's lint. A document is
    not changed by validating it, so the first answer stays right."""
    from pkilint import loader
    from pkilint.pkix.certificate import RFC5280Certificate

    class CertificateWithValidityParsedOnce(RFC5280Certificate):  # type: ignore[misc]
        not_before = cached_property(RFC5280Certificate.not_before.fget)
        not_after = cached_property(RFC5280Certificate.not_after.fget)

    return loader.DocumentLoader(CertificateWithValidityParsedOnce, "CERTIFICATE")


@cache
def _crl_validator() -> Any:
    return with_dispatch_cache(build_crl_validator())


def build_crl_validator() -> Any:
    """pkilint's RFC 5280 CRL validator, as pkilint builds it."""
    from pkilint import pkix
    from pkilint.pkix import crl, extension, name

    return crl.create_pkix_crl_validator_container(
        [pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
         pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS)],
        [crl.create_issuer_validator_container([]),
         crl.create_validity_validator_container([]),
         crl.create_extensions_validator_container([])])


def lint_crl(der: bytes) -> list[LintFinding]:
    """pkilint's RFC 5280 CRL findings (``lint_crl -t CRL -p PKIX``), WARNING or worse."""
    from pkilint import loader

    doc = loader.RFC5280CertificateListDocumentLoader().load_der_document(der, "crl")
    found: dict[tuple[str, str], LintFinding] = {}
    _collect(_crl_validator().validate(doc.root), found)
    return _sorted(found)


@cache
def _ocsp_validator() -> Any:
    return with_dispatch_cache(build_ocsp_validator())


def build_ocsp_validator() -> Any:
    """pkilint's RFC 6960 response validator, as pkilint builds it."""
    from pkilint import pkix
    from pkilint.pkix import extension, name
    from pkilint.pkix import ocsp as pkix_ocsp

    return pkix_ocsp.create_pkix_ocsp_response_validator_container(
        [pkix_ocsp.create_response_decoder(),
         pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
         pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS)], [])


def lint_ocsp_response(der: bytes) -> list[LintFinding]:
    """pkilint's RFC 6960 findings (``lint_ocsp_response``), WARNING or worse."""
    from pkilint import loader

    doc = loader.RFC6960OCSPResponseDocumentLoader().load_der_document(der, "ocsp")
    found: dict[tuple[str, str], LintFinding] = {}
    _collect(_ocsp_validator().validate(doc.root), found)
    return _sorted(found)


# ---- validator dispatch ------------------------------------------------------------------
#
# pkilint walks the decoded document and, at every node, asks every validator of the
# container whether it matches (``NodeVisitor.match``: ~4,300 calls a leaf, ~40 % of a
# lint with the walk). Most validators match by the node's path and PDU class alone, so
# which of them can match a node is the same for every node with that path and class;
# a container remembers it and asks only the others (a predicate, a PDU supertype, or
# their own ``match``) each time — and of those, only where their path and class can
# match (a predicate is asked after them; pkilint's extension-OID matchers ask
# ``NodeVisitor.match`` first). An extension's node is remembered with its extnID too, so
# the extension-OID matchers (~17, each asked at every extension) are decided once per
# extension type. Same validators, same order, same results: checked
# against pkilint's own walk on a corpus of good and bad documents
# (tests/jobs/test_lint_dispatch.py). pkilint is pinned; the cache relies on
# ``ValidatorContainer.validators`` / ``_validate_rec`` and ``NodeVisitor``'s fields.

_DISPATCH_LIMIT = 4096   # dispatch keys a container remembers before starting over


@cache
def _extension_class() -> type:
    from pyasn1_alt_modules import rfc5280

    return rfc5280.Extension  # type: ignore[no-any-return]


def _dispatch_key(node: Any) -> tuple[Any, ...]:
    """What a validator that is decided once per key may look at: the node's path and PDU
    class, and for an extension its extnID."""
    pdu = node.pdu
    if isinstance(pdu, _extension_class()):
        extn_id = node.children.get("extnID")
        if extn_id is not None:
            return node.path, type(pdu), extn_id.pdu.asTuple()
    return node.path, type(pdu)


def _matches_by_dispatch_key(validator: Any) -> bool:
    """Whether ``validator.match`` depends on nothing but :func:`_dispatch_key`: pkilint's
    ``NodeVisitor.match`` without a predicate or supertype, or an extension-OID matcher
    (the criticality checks, a type matcher on ``extnID``) that only extensions pass."""
    from pkilint.document import NodeVisitor
    from pkilint.pkix.extension import ExtensionCriticalityValidator
    from pkilint.validation import TypeMatchingValidator

    if validator._predicate is not None or validator._pdu_supertype is not None:
        return False
    match = type(validator).match
    if match is NodeVisitor.match:
        return True
    only_extensions = validator._pdu_class is not None and \
        issubclass(validator._pdu_class, _extension_class())
    return only_extensions and (match is ExtensionCriticalityValidator.match or (
        match is TypeMatchingValidator.match and validator.type_path == "extnID"))


@cache
def _matches_starting_with_node_visitor() -> frozenset[Any]:
    """``match`` methods that return False whenever ``NodeVisitor.match`` does: pkilint's
    own, its extension-OID matchers, which begin ``if not super().match(node): return
    False`` on a ``NodeVisitor.match``, and the EKU criticality check (``super().match(node)
    and …``). pkilint is pinned; the parity corpus checks."""
    from pkilint.document import NodeVisitor
    from pkilint.pkix.certificate.certificate_extension import (
        ExtendedKeyUsageCriticalityValidator,
    )
    from pkilint.pkix.extension import ExtensionCriticalityValidator
    from pkilint.validation import TypeMatchingValidator

    return frozenset({NodeVisitor.match, ExtensionCriticalityValidator.match,
                      TypeMatchingValidator.match, ExtendedKeyUsageCriticalityValidator.match})


def _can_match_path_and_class(validator: Any, node: Any) -> bool:
    """False when ``validator`` matches no node with ``node``'s path and PDU class: its
    ``match`` begins with ``NodeVisitor.match``, whose path, path pattern and class tests
    (asked before its supertype and predicate) fail here. True when it may match."""
    if type(validator).match not in _matches_starting_with_node_visitor():
        return True
    if validator._path is not None and validator._path != node.path:
        return False
    if validator._path_re is not None and validator._path_re.match(node.path) is None:
        return False
    return validator._pdu_class is None or isinstance(node.pdu, validator._pdu_class)


def _dispatching_validate_rec(self: Any, node: Any, results: list[Any]) -> None:
    key = _dispatch_key(node)
    candidates = self._dispatch.get(key)
    if candidates is None:
        if len(self._dispatch) >= _DISPATCH_LIMIT:
            self._dispatch.clear()
        candidates = []
        for validator in self.validators:
            fixed = _matches_by_dispatch_key(validator)
            if validator.match(node) if fixed else _can_match_path_and_class(validator, node):
                candidates.append((validator, fixed))
        self._dispatch[key] = candidates
    for validator, fixed in candidates:
        if fixed or validator.match(node):
            result = validator.validate_wrapper(node)
            if isinstance(result, list):
                results += result
            else:
                results.append(result)
    for child in node.children.values():
        self._validate_rec(child, results)


def with_dispatch_cache(validator: Any) -> Any:
    """``validator`` (a pkilint validator tree) with every container remembering, per
    node path and PDU class, which of its validators can match (see above), and the
    algorithm-encoding checks remembering the DER of the algorithm identifiers they saw
    (:func:`_remembering_encodings`)."""
    from pkilint.validation import ValidatorContainer

    if isinstance(validator, ValidatorContainer):
        validator._dispatch = {}
        validator._validate_rec = types.MethodType(_dispatching_validate_rec, validator)
        for child in validator.validators:
            with_dispatch_cache(child)
    else:
        _remembering_encodings(validator)
    return validator


_ENCODINGS_LIMIT = 256   # algorithm identifiers remembered before starting over
_encodings: dict[tuple[Any, ...], bytes] = {}


def _algorithm_identifier_der(pdu: Any) -> bytes:
    """pyasn1's DER of an AlgorithmIdentifier, remembered by what determines it: the OID
    and the parameters' own octets (an ANY keeps the octets it was decoded from, and DER
    writes them back unchanged). pkilint's signature- and key-algorithm checks encode the
    identifier again for every certificate (five times a leaf), and pyasn1's OID encoder
    made that ~9 % of a leaf's lint. Anything else (a name compared by the DER-equality
    check) is encoded as pkilint does."""
    from pyasn1.codec.der.encoder import encode

    try:
        if set(pdu.componentType.keys()) != {"algorithm", "parameters"}:
            return encode(pdu)  # type: ignore[no-any-return]
        parameters = pdu["parameters"]
        key = (type(pdu), pdu["algorithm"].asTuple(),
               parameters.asOctets() if parameters.isValue else None)
    except Exception:  # not an AlgorithmIdentifier: no key to remember it by
        return encode(pdu)  # type: ignore[no-any-return]
    found = _encodings.get(key)
    if found is None:
        if len(_encodings) >= _ENCODINGS_LIMIT:
            _encodings.clear()
        found = _encodings[key] = encode(pdu)
    return found


def _remembering_encodings(validator: Any) -> None:
    """pkilint's algorithm-encoding checks (signature and public-key algorithm) and its
    DER-equality check (the signature algorithm inside and outside the signed part) with
    their own ``validate`` — the same finding and message — reading the DER from
    :func:`_algorithm_identifier_der`. A subclass with a ``validate`` of its own is left
    alone."""
    from pkilint.pkix.algorithm import AllowedSignatureAlgorithmEncodingValidator
    from pkilint.pkix.certificate.certificate_key import AllowedPublicKeyAlgorithmEncodingValidator
    from pkilint.validation import DEREqualityValidator

    for stock, validate in ((AllowedSignatureAlgorithmEncodingValidator, _allowed_encoding),
                            (AllowedPublicKeyAlgorithmEncodingValidator, _allowed_encoding),
                            (DEREqualityValidator, _der_equal)):
        if isinstance(validator, stock):
            if type(validator).validate is stock.validate:
                validator.validate = types.MethodType(validate, validator)
            return


def _allowed_encoding(self: Any, node: Any) -> None:
    """pkilint's ``Allowed…AlgorithmEncodingValidator.validate``."""
    import binascii

    from pkilint.validation import ValidationFindingEncountered

    encoded = _algorithm_identifier_der(node.pdu)
    if encoded not in self._allowed_encodings:
        raise ValidationFindingEncountered(
            self._validations[0],
            f"Prohibited encoding: {binascii.hexlify(encoded).decode('us-ascii')}")


def _der_equal(self: Any, node: Any) -> None:
    """pkilint's ``DEREqualityValidator.validate``."""
    from pkilint.validation import ValidationFindingEncountered

    other_node = self._other_node_retriever(node)
    if _algorithm_identifier_der(node.pdu) != _algorithm_identifier_der(other_node.pdu):
        raise ValidationFindingEncountered(
            self.validations[0],
            f"DER encoding of {node.path} and {other_node.path} are not equal")


def warm_up() -> None:
    """Build pkilint's validators now: building them parses the public suffix list and
    takes ~2 s of CPU, which the first linted signature of a new worker process would
    otherwise pay (and a batch of orders wait for). The worker calls this before it
    takes jobs."""
    from pkilint.cabf.serverauth.serverauth_constants import CertificateType

    _pkix_certificate_validator()
    for kind in (CertificateType.DV_FINAL_CERTIFICATE, CertificateType.OV_FINAL_CERTIFICATE):
        _serverauth_validator(kind)
    _crl_validator()
    _ocsp_validator()

# ---- before signing --------------------------------------------------------------------

_throwaway_keys: dict[tuple[str, int], PrivateKey] = {}
_throwaway_lock = threading.Lock()


def _throwaway_key(issuer_key: PrivateKey) -> PrivateKey:
    """A key of the issuer's type and size that never signs anything real; made once per
    process and type (RSA-4096 generation takes ~0.5 s)."""
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        slot = ("rsa", issuer_key.key_size)
    else:
        slot = (issuer_key.curve.name, issuer_key.curve.key_size)
    with _throwaway_lock:
        key = _throwaway_keys.get(slot)
        if key is None:
            key = rsa.generate_private_key(65537, slot[1]) if slot[0] == "rsa" \
                else ec.generate_private_key(type(issuer_key.curve)())
            _throwaway_keys[slot] = key
    return key


Builder = x509.CertificateBuilder | x509.CertificateRevocationListBuilder


def lint_before_signing(builder: Builder, issuer_key: PrivateKey, digest: str, *,
                        without_pointers: bool = False) -> None:
    """Sign ``builder`` with a throwaway key of ``issuer_key``'s type and lint the result;
    raise :class:`LintRefused` for any finding outside the allow-list. Skipped for the
    signatures a ``sample:N`` setting does not pick. The rehearsal is discarded.
    ``without_pointers``: a certificate built with no revocation pointers because none are
    served (``lint_allowlist.WITHOUT_POINTERS``)."""
    if not _mode.due():
        return
    throwaway = _throwaway_key(issuer_key)
    if isinstance(builder, x509.CertificateBuilder):
        what, findings = "certificate", lint_certificate(
            builder.sign(throwaway, hash_for(digest)))
    else:
        what, findings = "CRL", lint_crl(builder.sign(throwaway, hash_for(digest))
                                         .public_bytes(serialization.Encoding.DER))
    refused = [f for f in findings
               if not is_allowed(f.code, without_pointers=without_pointers)]
    if refused:
        raise LintRefused(what, refused)


@lru_cache(maxsize=64)
def _stand_in_responder(responder: x509.Certificate, throwaway: PrivateKey, digest: str
                        ) -> x509.Certificate:
    """The responder's name on the throwaway key: cryptography signs an OCSP response only
    with the key of the certificate it names as responder."""
    return (x509.CertificateBuilder().subject_name(responder.subject)
            .issuer_name(responder.subject).public_key(throwaway.public_key())
            .serial_number(1).not_valid_before(responder.not_valid_before_utc)
            .not_valid_after(responder.not_valid_after_utc)
            .sign(throwaway, hash_for(digest)))


def lint_ocsp_before_signing(make_builder: Callable[[x509.Certificate], ocsp.OCSPResponseBuilder],
                             responder: x509.Certificate, responder_key: PrivateKey,
                             digest: str) -> None:
    """As :func:`lint_before_signing` for an OCSP response: ``make_builder(responder)``
    builds the response; the rehearsal names a stand-in responder on the throwaway key
    (the response itself is the same but for the responder id and the signature)."""
    if not _mode.due():
        return
    throwaway = _throwaway_key(responder_key)
    stand_in = _stand_in_responder(responder, throwaway, digest)
    findings = lint_ocsp_response(make_builder(stand_in).sign(throwaway, hash_for(digest))
                                  .public_bytes(serialization.Encoding.DER))
    refused = [f for f in findings if not is_allowed(f.code)]
    if refused:
        raise LintRefused("OCSP response", refused)

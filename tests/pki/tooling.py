"""Real-tool checks shared by the PKI tests: the openssl CLI and pkilint (in-process)."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from cryptography import x509
from pkilint import finding_filter, loader, validation
from pkilint.bin.lint_pkix_signer_signee_cert_chain import (
    create_decoder_validation_container,
    create_issuer_validation_container,
    create_subject_validation_container,
)
from pkilint.cabf import serverauth
from pkilint.cabf.serverauth.serverauth_constants import CertificateType
from pkilint.pkix import certificate, extension, name

from app.pki.encoding import certificate_to_der, certificate_to_pem

OPENSSL = shutil.which("openssl") or "openssl"

Finding = tuple[str, str, str]  # (severity name, code, message)


def openssl(*args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the openssl CLI and return the completed process (never raises on failure)."""
    return subprocess.run(
        [OPENSSL, *args], capture_output=True, text=True, input=input_text, timeout=60
    )


def write_pem(path: Path, *certificates: x509.Certificate) -> Path:
    path.write_bytes(b"".join(certificate_to_pem(c) for c in certificates))
    return path


@cache
def _pkix_cert_validator() -> validation.ValidatorContainer:
    # The same validator set the `lint_pkix_cert` console script builds in its main().
    return certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(
            name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS
        ),
        [
            certificate.create_issuer_validator_container([]),
            certificate.create_validity_validator_container(),
            certificate.create_subject_validator_container([]),
            certificate.create_extensions_validator_container([]),
            certificate.create_spki_validator_container([]),
        ],
    )


def _findings(
    results: list[validation.ValidationResult],
    threshold: validation.ValidationFindingSeverity,
) -> list[Finding]:
    # Lower enum values are more severe (FATAL=0 ... INFO=4).
    return [
        (fd.finding.severity.name, fd.finding.code, f"{fd.message or ''} @ {r.node.path}")
        for r in results
        for fd in r.finding_descriptions
        if fd.finding.severity <= threshold
    ]


def lint_pkix_cert(
    cert: x509.Certificate,
    threshold: validation.ValidationFindingSeverity = validation.ValidationFindingSeverity.WARNING,
) -> list[Finding]:
    """Return pkilint's RFC 5280 findings at ``threshold`` or more severe."""
    doc = loader.load_der_certificate(certificate_to_der(cert), "certificate")
    return _findings(_pkix_cert_validator().validate(doc.root), threshold)


def lint_pkix_chain(
    issuer: x509.Certificate,
    subject: x509.Certificate,
    threshold: validation.ValidationFindingSeverity = validation.ValidationFindingSeverity.WARNING,
) -> list[Finding]:
    """Return findings of pkilint's issuer/subject pair linter (name chaining, AKI/SKI
    match, signature verification), as `lint_pkix_signer_signee_cert_chain` runs it."""
    docs: dict[str, Any] = {}
    issuer_doc = loader.load_der_certificate(certificate_to_der(issuer), "issuer", "issuer", docs)
    docs["issuer"] = issuer_doc
    subject_doc = loader.load_der_certificate(
        certificate_to_der(subject), "subject", "subject", docs
    )
    docs["subject"] = subject_doc
    decoding = create_decoder_validation_container()
    results = decoding.validate(issuer_doc.root)
    results += decoding.validate(subject_doc.root)
    results += create_issuer_validation_container().validate(issuer_doc.root)
    results += create_subject_validation_container().validate(subject_doc.root)
    return _findings(results, threshold)


def lint_cabf_serverauth_cert(
    cert: x509.Certificate,
    certificate_type: CertificateType | None = None,
    threshold: validation.ValidationFindingSeverity = validation.ValidationFindingSeverity.ERROR,
) -> list[Finding]:
    """Return pkilint's CA/B Forum TLS BR findings, as `lint_cabf_serverauth_cert lint`.

    ``certificate_type=None`` detects the type like the CLI's ``-d`` (a leaf without a
    reserved policy OID is a DV final certificate); PKIX findings the BRs supersede are
    filtered out as the CLI does without ``-r``. The validity period start (which picks
    the BR rules in force, e.g. the 200-day limit from 2026-03-15) is the certificate's
    own notBefore, the CLI's default.
    """
    doc = loader.load_der_certificate(certificate_to_der(cert), "certificate")
    if certificate_type is None:
        certificate_type = serverauth.determine_certificate_type(doc)
    validator = certificate.create_pkix_certificate_validator_container(
        serverauth.create_decoding_validators(),
        serverauth.create_validators(certificate_type),
    )
    results, _ = finding_filter.filter_results(
        serverauth.create_serverauth_finding_filters(certificate_type),
        validator.validate(doc.root),
    )
    return _findings(results, threshold)

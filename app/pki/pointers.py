"""The revocation pointers a certificate carries: CRL distribution point and authority
information access (OCSP responder and the issuer's certificate)."""
from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID


@dataclass(frozen=True)
class RevocationPointers:
    crl_url: str
    ocsp_url: str
    ca_issuers_url: str

    def extensions(self) -> list[x509.ExtensionType]:
        return [
            x509.CRLDistributionPoints([x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(self.crl_url)], relative_name=None,
                reasons=None, crl_issuer=None)]),
            x509.AuthorityInformationAccess([
                x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                       x509.UniformResourceIdentifier(self.ocsp_url)),
                x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                       x509.UniformResourceIdentifier(self.ca_issuers_url)),
            ]),
        ]


def with_pointers(builder: x509.CertificateBuilder,
                  pointers: RevocationPointers | None) -> x509.CertificateBuilder:
    for extension in pointers.extensions() if pointers else []:
        builder = builder.add_extension(extension, critical=False)
    return builder

"""RFC 5280 revocation reason names (as the platform, its API and its audit log spell
them) and their X.509 flags."""
from __future__ import annotations

from typing import Final

from cryptography import x509

UNSPECIFIED: Final[str] = "unspecified"

#: Reasons a certificate can be revoked for (no certificateHold: revocation is final).
CERTIFICATE_REASONS: Final[tuple[str, ...]] = (
    "unspecified", "keyCompromise", "affiliationChanged", "superseded",
    "cessationOfOperation", "privilegeWithdrawn")
#: A CA can also be revoked because its key was compromised.
CA_REASONS: Final[tuple[str, ...]] = (*CERTIFICATE_REASONS[:2], "cACompromise",
                                      *CERTIFICATE_REASONS[2:])

FLAGS: Final[dict[str, x509.ReasonFlags]] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
}

"""The provider contract every CA integration implements."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography import x509

from app.domain.request import CertificateRequest


class ProviderError(Exception):
    """Root of provider errors; ``str()`` is safe to show on the order."""


class ProviderTransientError(ProviderError):
    """Worth retrying later (network trouble, CA 5xx, rate limiting)."""


class ProviderRejectedError(ProviderError):
    """The CA refused the request for good; the order fails with this reason."""


class SubmitStatus(StrEnum):
    ISSUED = "issued"
    PENDING = "pending"


@dataclass(frozen=True)
class SubmitResult:
    status: SubmitStatus
    certificate: x509.Certificate | None = None
    chain: tuple[x509.Certificate, ...] = ()   # issuer first, root excluded
    external_id: str | None = None             # the CA's order id, for polling
    retry_after: int | None = None             # seconds, when pending


class CertificateProvider(ABC):
    """A certificate authority the platform can order from.

    Contract:
    - ``submit`` is given a request that already passed domain and policy checks, and the
      CSR (always: the worker makes the key and the CSR when the requester did not).
      It returns ISSUED with the certificate and its chain, or PENDING with the CA's id.
    - It raises ProviderTransientError when trying again later may succeed, and
      ProviderRejectedError when it will not; any other exception is a bug.
    - It must not block waiting for a CA: an asynchronous CA answers PENDING and the job
      is rescheduled to ``poll``.
    - Implementations hold no global state; configuration comes in the constructor.
    """

    type: str = ""
    display_name: str = ""

    @abstractmethod
    def submit(self, request: CertificateRequest,
               csr: x509.CertificateSigningRequest) -> SubmitResult:
        """Order a certificate for ``request`` with the public key in ``csr``."""

    def poll(self, external_id: str) -> SubmitResult:
        """Check an order that answered PENDING. Synchronous providers never need it."""
        raise ProviderRejectedError(f"{self.display_name} has no pending orders to poll.")


ProviderConfig = dict[str, Any]

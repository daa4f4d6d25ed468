"""The provider contract every CA integration implements, and what the platform offers a
provider in return (``ProviderHost``)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, Protocol

from cryptography import x509

from app.domain.request import CertificateRequest
from app.net.outbound import OutboundPolicy
from app.pki.issuance import IssuerFacts, issuer_facts, resolve_now
from app.pki.keys import PrivateKey
from app.pki.pointers import RevocationPointers


class ProviderError(Exception):
    """Root of provider errors; ``str()`` is safe to show on the order (never a secret).
    ``code`` is stable for scripts."""

    code = "provider.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ProviderTransientError(ProviderError):
    """Worth retrying later (network trouble, CA 5xx, rate limiting). ``retry_after``
    is the CA's requested wait in seconds, when it said."""

    code = "provider.unavailable"

    def __init__(self, message: str, *, retry_after: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ProviderRejectedError(ProviderError):
    """The CA refused the request for good; the order fails with this reason."""

    code = "provider.rejected"


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
    note: str = ""                             # what the CA is doing, for the timeline


@dataclass(frozen=True)
class ConnectionStep:
    name: str
    ok: bool
    message: str


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    steps: tuple[ConnectionStep, ...]

    @property
    def summary(self) -> str:
        failed = [s for s in self.steps if not s.ok]
        return failed[0].message if failed else (self.steps[-1].message if self.steps
                                                 else "")


Progress = Callable[[ConnectionStep], None]


@dataclass(frozen=True)
class ProviderRow:
    """A provider record as plain data (services make it from the model)."""

    id: str
    type: str
    name: str
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IssuingCA:
    certificate: x509.Certificate
    private_key: PrivateKey
    chain: tuple[x509.Certificate, ...]      # the issuer's own issuers (the root excluded)
    pointers: RevocationPointers | None = None   # CRL DP and AIA for what it signs

    @cached_property
    def facts(self) -> IssuerFacts:
        """Its checks and derived values, made once for all it signs in a job (a failed
        check raises and is not kept)."""
        return issuer_facts(self.certificate, self.private_key, resolve_now(None))


@dataclass(frozen=True)
class ProviderAccount:
    """An account a provider registered with its CA (ACME): the key and its URL."""

    key_pem: bytes = field(repr=False)
    url: str


class ProviderHost(Protocol):
    """What the platform offers a provider (implemented in services, in the worker).
    Providers never touch the database or Flask; they ask the host."""

    outbound: OutboundPolicy

    def issuing_ca(self, issuer_id: str | None) -> IssuingCA:
        """The Local PKI intermediate ``issuer_id`` with its decrypted key."""
        ...

    def load_account(self) -> ProviderAccount | None: ...

    def save_account(self, account: ProviderAccount) -> ProviderAccount:
        """Store the account unless another run stored one first; returns the stored one
        (so two first orders running at once end up using one account)."""
        ...

    def publish_http01(self, token: str, key_authorization: str, identifier: str) -> None:
        """Serve ``key_authorization`` at /.well-known/acme-challenge/<token> (committed
        before this returns: the CA may ask at once)."""
        ...

    def withdraw_http01(self, token: str) -> None: ...


class CertificateProvider(ABC):
    """A certificate authority the platform can order from.

    Contract:
    - ``submit`` is given a request that already passed domain and policy checks (with
      the fields this provider does not honour removed), and the CSR (always: the worker
      makes the key and the CSR when the requester did not). It returns ISSUED with the
      certificate and its chain, or PENDING with the CA's id (``external_id``) and when
      to ask again (``retry_after`` seconds).
    - ``poll`` continues a PENDING order: ISSUED, or PENDING again with a new
      ``retry_after``. It must be safe to call again after a crash (the CA holds the
      state). Synchronous providers raise ProviderRejectedError.
    - Neither blocks waiting for a CA: a wait is PENDING, and the platform schedules the
      next ``poll`` (no sleeping in a worker).
    - Both raise ProviderTransientError when trying again later may succeed (with the
      CA's Retry-After when it gave one) and ProviderRejectedError when it will not;
      any other exception is a bug.
    - ``revoke`` asks the CA to revoke a certificate it issued (RFC 5280 reason name).
    - ``test_connection`` checks configuration and reachability step by step, reporting
      each step to ``progress`` as it finishes; it never raises for a CA problem (the
      report says what failed).
    - Implementations hold no global state; configuration and secrets come from
      ``build`` (see ``registry``), and they never log secrets.
    """

    type: str = ""
    display_name: str = ""

    def __init__(self, row: ProviderRow, secrets: Mapping[str, str],
                 host: ProviderHost) -> None:
        self.row = row
        self.secrets = secrets
        self.host = host
        self.display_name = row.name or self.display_name

    @abstractmethod
    def submit(self, request: CertificateRequest,
               csr: x509.CertificateSigningRequest) -> SubmitResult:
        """Order a certificate for ``request`` with the public key in ``csr``."""

    def poll(self, external_id: str, request: CertificateRequest,
             csr: x509.CertificateSigningRequest) -> SubmitResult:
        """Check an order that answered PENDING. Synchronous providers never need it."""
        raise ProviderRejectedError(f"{self.display_name} has no pending orders to poll.")

    @abstractmethod
    def revoke(self, certificate: x509.Certificate, reason: str) -> None:
        """Revoke ``certificate`` at the CA."""

    @abstractmethod
    def test_connection(self, progress: Progress | None = None) -> ConnectionReport:
        """Check that the provider can be used."""


REVOCATION_REASONS: dict[str, int] = {
    "unspecified": 0, "keyCompromise": 1, "cACompromise": 2, "affiliationChanged": 3,
    "superseded": 4, "cessationOfOperation": 5, "certificateHold": 6, "removeFromCRL": 8,
    "privilegeWithdrawn": 9, "aACompromise": 10}


class StepRecorder:
    """Collects connection-test steps and forwards each to ``progress``."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.steps: list[ConnectionStep] = []

    def step(self, name: str, ok: bool, message: str) -> bool:
        step = ConnectionStep(name, ok, message)
        self.steps.append(step)
        if self.progress is not None:
            self.progress(step)
        return ok

    def report(self) -> ConnectionReport:
        return ConnectionReport(ok=all(s.ok for s in self.steps) and bool(self.steps),
                                steps=tuple(self.steps))

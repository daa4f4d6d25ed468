"""The provider contract (``app/providers/base.py``), held for every provider by the same
tests: issue; pending → poll → issued; permanent refusal; transient error with
Retry-After; revoke; test connection.

Each provider is built the way the worker builds it (``provider_runtime.build_provider``:
its record, its opened secrets, the platform host) and talks to a real CA: the Local PKI
to its intermediate, the ACME provider to Debian's pebble (interop, PostgreSQL only) and,
for the transient case, to a stand-in HTTPS server answering 503 with Retry-After;
DigiCert and GlobalSign to their stand-ins (``tests/standins``: their published APIs
over HTTPS, GlobalSign's with mutual TLS). Their error cases are in
``test_digicert.py`` / ``test_globalsign.py``.

Cases a provider cannot have are stated, not skipped: the Local PKI is synchronous (it
never answers PENDING, and ``poll`` refuses), and it has no network, so no transient
error — ``test_local_pki_has_no_transient_state`` holds that instead."""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from flask import Flask

from app.domain.providers import (
    DIGICERT_DECIDES,
    GLOBALSIGN_DECIDES,
    fit_request,
    profile_for,
)
from app.domain.request import CertificateRequest
from app.extensions import db
from app.models import Provider
from app.pki.csr import build_csr
from app.pki.keys import generate_private_key, same_public_key
from app.providers.base import (
    CertificateProvider,
    ProviderRejectedError,
    ProviderTransientError,
    SubmitResult,
    SubmitStatus,
)
from app.services.issuers import with_default_provider
from app.services.provider_runtime import build_provider
from tests.builders import LOCAL_PKI_ID, add_domain, issuing_ca
from tests.conftest import make_user
from tests.interop.fixtures import create_acme_provider
from tests.interop.standin import Reply, StandIn
from tests.standins.fixtures import create_digicert_provider, create_globalsign_provider


@dataclass
class Harness:
    """One provider under the contract, and how to make each case happen with it."""

    kind: str
    provider_id: str
    synchronous: bool
    refused_names: tuple[str, ...] = ()        # a request this CA refuses for good
    refused_issuer: str | None = None
    decides: tuple[str, ...] = ()              # request fields the CA sets itself
    revoked_again: str = "alreadyRevoked"      # what the CA says to a second revocation

    def build(self) -> CertificateProvider:
        return build_provider(db.session.get(Provider, uuid.UUID(self.provider_id)))

    def request(self, *names: str, issuer: str | None = None) -> CertificateRequest:
        request = CertificateRequest(common_name=names[0], dns_names=names[1:],
                                     algorithm="ec-256", provider_id=self.provider_id,
                                     issuer_id=issuer, digest="sha256", validity_days=30,
                                     key_usage=("digitalSignature",),
                                     extended_key_usage=("serverAuth",))
        if self.kind == "acme":
            request = request.replace(digest=None, validity_days=None, key_usage=(),
                                      extended_key_usage=())
        if self.decides:
            request = fit_request(request, profile_for(self.kind))
        return with_default_provider(request)


def _csr(request: CertificateRequest) -> tuple[object, x509.CertificateSigningRequest]:
    key = generate_private_key("ec-256")
    return key, build_csr(key, request.common_name, request.all_dns_names(), (), ())


def _until_issued(harness: Harness, first: SubmitResult, request: CertificateRequest,
                  csr: x509.CertificateSigningRequest) -> SubmitResult:
    result, deadline = first, time.monotonic() + 60
    while result.status == SubmitStatus.PENDING:
        assert time.monotonic() < deadline, "the CA did not issue in time"
        time.sleep(min(result.retry_after or 0, 1))
        result = harness.build().poll(result.external_id or "", request, csr)
    return result


@pytest.fixture(params=["local_pki", pytest.param("acme", marks=pytest.mark.interop),
                        "digicert", "globalsign"])
def harness(request: pytest.FixtureRequest, app: Flask, jobs, worker_key: None
            ) -> Iterator[Harness]:
    make_user(app)
    add_domain(app, "example.test")
    if request.param == "local_pki":
        intermediate = issuing_ca(app, jobs)
        with app.app_context():
            from app.models import CertificateAuthority
            root = db.session.get(CertificateAuthority, uuid.UUID(intermediate)).parent_id
        built = Harness("local_pki", str(LOCAL_PKI_ID), synchronous=True,
                        refused_issuer=str(root))
    elif request.param == "digicert":
        server = request.getfixturevalue("digicert")
        built = Harness("digicert", create_digicert_provider(app, server), synchronous=False,
                        refused_names=("refused.example.test",), decides=DIGICERT_DECIDES,
                        revoked_again="already revoked")
    elif request.param == "globalsign":
        server = request.getfixturevalue("globalsign")
        built = Harness("globalsign", create_globalsign_provider(app, server),
                        synchronous=False, refused_names=("refused.example.test",),
                        decides=GLOBALSIGN_DECIDES, revoked_again="already revoked")
    else:
        pebble = request.getfixturevalue("pebble")
        challtestsrv = request.getfixturevalue("challtestsrv")
        challtestsrv.add_a("refused.example.test", ["127.0.0.2"])   # unreachable
        built = Harness("acme", create_acme_provider(app, pebble), synchronous=False,
                        refused_names=("refused.example.test",))
        built.pebble = pebble  # type: ignore[attr-defined]
    with app.app_context():
        yield built
        db.session.remove()


def test_issue(harness: Harness) -> None:
    request = harness.request("www.example.test", "api.example.test")
    key, csr = _csr(request)
    result = _until_issued(harness, harness.build().submit(request, csr), request, csr)
    assert result.status == SubmitStatus.ISSUED and result.certificate is not None
    assert same_public_key(result.certificate.public_key(), key)   # type: ignore[arg-type]
    names = result.certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sorted(names) == ["api.example.test", "www.example.test"]
    assert result.chain and result.chain[0].subject == result.certificate.issuer
    assert all(c.subject != c.issuer for c in result.chain), "no root in the chain"


def test_pending_then_poll_then_issued(harness: Harness) -> None:
    request = harness.request("poll.example.test")
    _, csr = _csr(request)
    first = harness.build().submit(request, csr)
    if harness.synchronous:
        assert first.status == SubmitStatus.ISSUED
        with pytest.raises(ProviderRejectedError):
            harness.build().poll("anything", request, csr)
        return
    assert first.status == SubmitStatus.PENDING
    assert first.external_id and isinstance(first.retry_after, int) and first.retry_after >= 0
    second = harness.build().poll(first.external_id, request, csr)
    assert second.status in (SubmitStatus.PENDING, SubmitStatus.ISSUED)
    assert _until_issued(harness, second, request, csr).status == SubmitStatus.ISSUED


def test_permanent_refusal(harness: Harness) -> None:
    if harness.refused_issuer:        # Local PKI: an issuer that cannot sign (a root)
        request = harness.request("refused.example.test", issuer=harness.refused_issuer)
    else:
        request = harness.request(*harness.refused_names)
    _, csr = _csr(request)
    with pytest.raises(ProviderRejectedError) as refused:
        _until_issued(harness, harness.build().submit(request, csr), request, csr)
    assert str(refused.value)


def test_revoke(harness: Harness) -> None:
    request = harness.request("revoke.example.test")
    _, csr = _csr(request)
    issued = _until_issued(harness, harness.build().submit(request, csr), request, csr)
    assert issued.certificate is not None
    harness.build().revoke(issued.certificate, "superseded")
    if not harness.synchronous:   # the CA recorded it: a second revocation is refused
        with pytest.raises(ProviderRejectedError, match=harness.revoked_again):
            harness.build().revoke(issued.certificate, "superseded")


def test_test_connection_reports_each_step(harness: Harness) -> None:
    seen = []
    report = harness.build().test_connection(seen.append)
    assert report.ok, report.steps
    assert list(report.steps) == seen and seen and all(s.ok for s in seen)


# ---- the cases one provider cannot have, and failures of the connection test ----------------

def test_local_pki_has_no_transient_state(app: Flask, worker_key: None) -> None:
    """Without an intermediate the Local PKI refuses (permanently) and its connection test
    says why; nothing it does waits on a network."""
    with app.app_context():
        provider = build_provider(db.session.get(Provider, LOCAL_PKI_ID))
        report = provider.test_connection()
        assert not report.ok and "can no longer sign" in report.summary
        request = CertificateRequest(common_name="x.example.test", algorithm="ec-256")
        with pytest.raises(ProviderRejectedError):
            provider.submit(request, _csr(request)[1])


@pytest.fixture
def unavailable_ca(app: Flask, tmp_path: Path, worker_key: None) -> Iterator[tuple[str, StandIn]]:
    """An ACME CA under maintenance: every request answers 503 with Retry-After: 7."""
    server = StandIn(tmp_path / "tls")
    server.routes["/dir"] = lambda _: Reply(503, headers={
        "Retry-After": "7", "Content-Type": "application/problem+json"},
        body=b'{"type": "urn:ietf:params:acme:error:serverInternal", '
             b'"detail": "down for maintenance"}')
    with app.app_context():
        from app.services import providers

        provider = providers.create_provider("acme", "Down", {
            "directory_url": server.url("/dir"), "challenge": "http-01",
            "ca_bundle": server.tls.ca_pem}, {})
        provider_id = str(provider.id)
        db.session.remove()
    yield provider_id, server
    server.stop()


def test_acme_transient_error_carries_the_ca_retry_after(
        app: Flask, unavailable_ca: tuple[str, StandIn]) -> None:
    provider_id, server = unavailable_ca
    request = CertificateRequest(common_name="down.example.test", algorithm="ec-256",
                                 provider_id=provider_id)
    with app.app_context():
        provider = build_provider(db.session.get(Provider, uuid.UUID(provider_id)))
        with pytest.raises(ProviderTransientError) as transient:
            provider.submit(request, _csr(request)[1])
        assert transient.value.retry_after == 7
        assert "down for maintenance" in str(transient.value)
        report = build_provider(db.session.get(Provider, uuid.UUID(provider_id))
                                ).test_connection()
    assert not report.ok and "down for maintenance" in report.summary
    assert server.hits and all(h == "GET /dir" for h in server.hits)


def test_acme_ca_that_is_not_listening_is_transient(app: Flask, worker_key: None) -> None:
    from tests.interop.servers import free_port

    with app.app_context():
        from app.services import providers

        row = providers.create_provider("acme", "Gone", {
            "directory_url": f"https://127.0.0.1:{free_port()}/dir",
            "challenge": "http-01"}, {})
        request = CertificateRequest(common_name="gone.example.test", algorithm="ec-256")
        with pytest.raises(ProviderTransientError) as transient:
            build_provider(row).submit(request, _csr(request)[1])
        assert transient.value.retry_after is None
        assert "could not be reached" in str(transient.value)

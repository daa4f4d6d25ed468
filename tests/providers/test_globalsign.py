"""GlobalSign Atlas against its stand-in (real HTTPS with mutual TLS, the HVCA v2
subset): what the client sends, the bearer token's life, mutual TLS refused without the
account's client certificate, and every error case with Atlas's own words. The contract
cases are in ``test_contract.py``; the order pipeline cases in
``test_commercial_orders.py``."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask

from app.providers.base import ProviderRejectedError, ProviderTransientError, SubmitStatus
from app.providers.rest import MalformedAnswer
from tests.providers.commercial_helpers import ask, impatient_provider, provider
from tests.standins.ca import ClientCA
from tests.standins.fixtures import create_globalsign_provider
from tests.standins.globalsign import GlobalSignStandIn
from tests.standins.server import Answer


@pytest.fixture
def gs(app: Flask, worker_key: None, globalsign: GlobalSignStandIn) -> str:
    with app.app_context():
        yield create_globalsign_provider(app, globalsign)


def test_request_sends_the_documented_fields_over_mutual_tls(
        app: Flask, gs: str, globalsign: GlobalSignStandIn) -> None:
    with app.app_context():
        asked = ask("www.example.test", "api.example.test", ips=("192.0.2.10",),
                    digest="sha384", validity_days=30, organization="Example Ltd",
                    country="DE")
        result = provider(gs).submit(asked.request, asked.csr)
    assert result.status == SubmitStatus.ISSUED
    login, = globalsign.calls("POST", "/login")
    assert login.body == {"api_key": globalsign.api_key, "api_secret": globalsign.api_secret}
    assert login.client_subject and "account-1" in login.client_subject   # mutual TLS
    (call,) = globalsign.calls("POST", "/certificates")
    assert call.headers["Authorization"].startswith("Bearer ")
    body = call.body
    assert body["subject_dn"] == {"common_name": "www.example.test",
                                  "organization": "Example Ltd", "country": "DE"}
    assert body["san"] == {"dns_names": ["www.example.test", "api.example.test"],
                           "ip_addresses": ["192.0.2.10"]}
    assert body["signature"] == {"hash_algorithm": "SHA-384"}
    assert body["validity"]["not_after"] - body["validity"]["not_before"] == 30 * 86400
    assert body["public_key"] == asked.csr.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert result.chain == (globalsign.ca.issuing,)     # from /trustchain, root left out
    assert globalsign.calls("GET", "/trustchain")


def test_without_the_account_client_certificate_the_tls_handshake_fails(
        app: Flask, worker_key: None, globalsign: GlobalSignStandIn) -> None:
    stranger = ClientCA("Someone else").client()
    other = create_globalsign_provider(app, globalsign, name="Wrong client cert",
                                       identity=stranger)
    with app.app_context():
        asked = ask("www.example.test")
        with pytest.raises(ProviderRejectedError) as refused:
            provider(other).submit(asked.request, asked.csr)
        report = provider(other).test_connection()
    assert refused.value.code == "provider.tls"
    assert "the TLS connection to GlobalSign Atlas failed" in str(refused.value)
    assert not report.ok and report.steps[0].name == "login"
    assert not globalsign.calls("POST", "/login")      # never got past the handshake


def test_wrong_api_secret_is_refused_in_plain_words(app: Flask, worker_key: None,
                                                    globalsign: GlobalSignStandIn) -> None:
    bad = create_globalsign_provider(app, globalsign, name="Bad secret", api_secret="nope")
    with app.app_context():
        asked = ask("www.example.test")
        with pytest.raises(ProviderRejectedError) as refused:
            provider(bad).submit(asked.request, asked.csr)
    assert refused.value.code == "provider.auth"
    assert "refused the credentials (HTTP 401): Invalid API key or secret." \
        in str(refused.value)


def test_token_is_reused_renewed_before_expiry_and_after_the_ca_expires_it(
        app: Flask, gs: str, globalsign: GlobalSignStandIn) -> None:
    with app.app_context():
        client = provider(gs)
        asked = ask("www.example.test")
        client.submit(asked.request, asked.csr)          # login, request, get, trustchain
        logins = len(globalsign.calls("POST", "/login"))
        assert logins == 1
        client._token_at -= 600                           # ten minutes later
        client.submit(asked.request, asked.csr)
        assert len(globalsign.calls("POST", "/login")) == 2   # renewed before use
        globalsign.token_uses = 1                          # the CA expires tokens early
        client._token = None
        client.submit(asked.request, asked.csr)
    assert len(globalsign.calls("POST", "/login")) >= 4   # renewed when told it expired
    assert len(globalsign.calls("POST", "/certificates")) == 3   # each request sent once


def test_rate_limit_is_transient_with_the_ca_retry_after(app: Flask, gs: str) -> None:
    with app.app_context():
        asked = ask("ratelimited.example.test")
        with pytest.raises(ProviderTransientError) as transient:
            provider(gs).submit(asked.request, asked.csr)
    assert transient.value.retry_after == 17
    assert "(HTTP 429): Rate limit exceeded." in str(transient.value)


def test_server_error_is_transient(app: Flask, gs: str) -> None:
    with app.app_context():
        asked = ask("unavailable.example.test")
        with pytest.raises(ProviderTransientError, match="HTTP 503"):
            provider(gs).submit(asked.request, asked.csr)


def test_policy_rejection_is_permanent_with_the_ca_message(app: Flask, gs: str) -> None:
    with app.app_context():
        asked = ask("rejected.example.test")
        with pytest.raises(ProviderRejectedError) as rejected:
            provider(gs).submit(asked.request, asked.csr)
    assert "(HTTP 422): subject_dn.common_name 'rejected.example.test' is not allowed by " \
           "the validation policy." in str(rejected.value)


def test_malformed_answers_are_asked_again(app: Flask, gs: str,
                                           globalsign: GlobalSignStandIn) -> None:
    """The request was accepted (201 + Location), so its serial is known: an unreadable
    certificate answer is a wait, never a second request."""
    with app.app_context():
        asked = ask("malformed.example.test")
        first = provider(gs).submit(asked.request, asked.csr)
        assert first.status == SubmitStatus.PENDING and first.external_id
        with pytest.raises(ProviderTransientError, match="not JSON"):
            provider(gs).poll(first.external_id, asked.request, asked.csr)
        globalsign.outage = Answer(200, b"[1, 2")
        report = provider(gs).test_connection()
        with pytest.raises(MalformedAnswer, match="not JSON"):
            provider(gs)._login()
    assert not report.ok and "not JSON" in report.summary
    assert len(globalsign.calls("POST", "/certificates")) == 1


def test_pending_then_issued(app: Flask, gs: str, globalsign: GlobalSignStandIn) -> None:
    with app.app_context():
        asked = ask("pending.example.test")
        first = provider(gs).submit(asked.request, asked.csr)   # looked once: pending
        assert first.status == SubmitStatus.PENDING and first.retry_after == 1
        second = provider(gs).poll(first.external_id or "", asked.request, asked.csr)
        assert second.status == SubmitStatus.PENDING
        third = provider(gs).poll(first.external_id or "", asked.request, asked.csr)
    assert third.status == SubmitStatus.ISSUED
    assert len(globalsign.calls("POST", "/certificates")) == 1


def test_timeouts(app: Flask, gs: str, globalsign: GlobalSignStandIn) -> None:
    with app.app_context():
        asked = ask("pending.example.test")
        first = provider(gs).submit(asked.request, asked.csr)
        slow = impatient_provider(gs)
        slow._login()
        globalsign.outage = Answer(202, {"status": "PENDING"}, delay=1.5)
        with pytest.raises(ProviderTransientError, match="did not answer in time"):
            slow.poll(first.external_id or "", asked.request, asked.csr)
        with pytest.raises(ProviderRejectedError, match="not sent again automatically"):
            slow.submit(asked.request, asked.csr)


def test_revoke_with_reason(app: Flask, gs: str, globalsign: GlobalSignStandIn) -> None:
    with app.app_context():
        asked = ask("www.example.test")
        issued = provider(gs).submit(asked.request, asked.csr)
        provider(gs).revoke(issued.certificate, "keyCompromise")
    (call,) = globalsign.calls("PATCH", "/certificates/")
    assert int(call.path.rsplit("/", 1)[-1], 16) == issued.certificate.serial_number
    assert call.body["revocation_reason"] == "keyCompromise"
    assert isinstance(call.body["revocation_time"], int)
    assert issued.certificate.serial_number in globalsign.revoked_serials()


def test_connection_test_steps(app: Flask, gs: str) -> None:
    with app.app_context():
        seen = []
        report = provider(gs).test_connection(seen.append)
    assert report.ok and [s.name for s in seen] == ["login", "policy", "trustchain"]
    assert "GlobalSign Stand-in Test Issuing CA" in seen[-1].message

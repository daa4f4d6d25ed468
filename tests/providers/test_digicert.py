"""DigiCert CertCentral against its stand-in (real HTTPS, the Services API v2 subset):
what the client sends, and every error case reaching the caller as the right kind of
error with DigiCert's own words. The contract cases are in ``test_contract.py``; the
order pipeline cases in ``test_commercial_orders.py``."""
from __future__ import annotations

import pytest
from flask import Flask

from app.pki.keys import same_public_key
from app.providers.base import (
    ProviderRejectedError,
    ProviderTransientError,
    SubmitStatus,
)
from app.providers.rest import MalformedAnswer
from tests.providers.commercial_helpers import ask, impatient_provider, provider
from tests.standins.digicert import DigiCertStandIn
from tests.standins.fixtures import create_digicert_provider
from tests.standins.server import Answer


@pytest.fixture
def dc(app: Flask, worker_key: None, digicert: DigiCertStandIn) -> str:
    with app.app_context():
        yield create_digicert_provider(app, digicert)


def test_order_sends_the_documented_fields(app: Flask, dc: str,
                                           digicert: DigiCertStandIn) -> None:
    with app.app_context():
        asked = ask("www.example.test", "api.example.test", digest="sha384",
                    validity_days=90)
        result = provider(dc).submit(asked.request, asked.csr)
    assert result.status == SubmitStatus.ISSUED and result.external_id
    (call,) = digicert.calls("POST", "/order/certificate/")
    assert call.path == "/services/v2/order/certificate/ssl_basic"
    assert call.headers["X-DC-DEVKEY"] == digicert.api_key
    body = call.body
    assert body["organization"] == {"id": digicert.organization_id}
    assert body["certificate"]["common_name"] == "www.example.test"
    assert body["certificate"]["dns_names"] == ["api.example.test"]
    assert body["certificate"]["signature_hash"] == "sha384"
    assert body["certificate"]["csr"].startswith("-----BEGIN CERTIFICATE REQUEST-----")
    assert body["order_validity"] == {"days": 90}
    assert same_public_key(result.certificate.public_key(), asked.key)  # type: ignore


def test_wrong_api_key_is_refused_in_plain_words(app: Flask, worker_key: None,
                                                 digicert: DigiCertStandIn) -> None:
    bad = create_digicert_provider(app, digicert, name="Bad key", api_key="not-the-key")
    with app.app_context():
        asked = ask("www.example.test")
        with pytest.raises(ProviderRejectedError) as refused:
            provider(bad).submit(asked.request, asked.csr)
        report = provider(bad).test_connection()
    assert refused.value.code == "provider.auth"
    assert "refused the credentials (HTTP 401): You are not authorized to perform this " \
           "action (invalid API key)." in str(refused.value)
    assert not report.ok and "invalid API key" in report.summary
    assert [s.name for s in report.steps] == ["credentials"]


def test_rate_limit_is_transient_with_the_ca_retry_after(app: Flask, dc: str) -> None:
    with app.app_context():
        asked = ask("ratelimited.example.test")
        with pytest.raises(ProviderTransientError) as transient:
            provider(dc).submit(asked.request, asked.csr)
    assert transient.value.retry_after == 17
    assert "rate limiting (HTTP 429): Too many requests; slow down." in str(transient.value)


def test_server_error_is_transient(app: Flask, dc: str) -> None:
    with app.app_context():
        asked = ask("unavailable.example.test")
        with pytest.raises(ProviderTransientError) as transient:
            provider(dc).submit(asked.request, asked.csr)
    assert "server error (HTTP 503): CertCentral is down for maintenance." \
        in str(transient.value)
    assert transient.value.retry_after is None


def test_malformed_answer_to_an_order_is_permanent_but_to_a_check_transient(
        app: Flask, dc: str, digicert: DigiCertStandIn) -> None:
    """An order whose answer cannot be read is not sent again (it may exist at DigiCert);
    a check is simply asked again later."""
    with app.app_context():
        asked = ask("malformed.example.test")
        with pytest.raises(MalformedAnswer, match="not JSON"):
            provider(dc).submit(asked.request, asked.csr)
        pending = ask("pending.example.test")
        first = provider(dc).submit(pending.request, pending.csr)
        assert first.status == SubmitStatus.PENDING and first.retry_after == 1
        digicert.outage = Answer(200, b"<html>maintenance</html>", {"Content-Type": "text/html"})
        with pytest.raises(ProviderTransientError, match="not JSON"):
            provider(dc).poll(first.external_id or "", pending.request, pending.csr)


def test_rejected_after_validation_carries_the_reason(app: Flask, dc: str) -> None:
    with app.app_context():
        asked = ask("rejected.example.test")
        first = provider(dc).submit(asked.request, asked.csr)
        assert first.status == SubmitStatus.PENDING
        with pytest.raises(ProviderRejectedError) as rejected:
            provider(dc).poll(first.external_id or "", asked.request, asked.csr)
    assert str(rejected.value) == (f"DigiCert rejected order {first.external_id}: Domain "
                                   "control validation failed for rejected.example.test.")


def test_invalid_product_is_a_permanent_refusal(app: Flask, worker_key: None,
                                                digicert: DigiCertStandIn) -> None:
    from app.extensions import db
    from app.services import providers
    from tests.standins.fixtures import digicert_config

    with app.app_context():
        row = providers.create_provider("digicert", "Wrong product", digicert_config(
            digicert, product="ssl_nonexistent"), {"api_key": digicert.api_key})
        asked = ask("www.example.test")
        with pytest.raises(ProviderRejectedError, match="Product 'ssl_nonexistent' is not "
                                                        "available on this account"):
            provider(str(row.id)).submit(asked.request, asked.csr)
        db.session.remove()


def test_timeouts(app: Flask, dc: str, digicert: DigiCertStandIn) -> None:
    """A check that times out is transient; an order whose answer never came is NOT
    retried (DigiCert may have it: sending it again could order twice)."""
    with app.app_context():
        asked = ask("pending.example.test")
        first = provider(dc).submit(asked.request, asked.csr)
        digicert.outage = Answer(200, {"status": "pending"}, delay=1.5)
        with pytest.raises(ProviderTransientError, match="did not answer in time"):
            impatient_provider(dc).poll(first.external_id or "", asked.request, asked.csr)
        with pytest.raises(ProviderRejectedError, match="not sent again automatically") as once:
            impatient_provider(dc).submit(asked.request, asked.csr)
    assert once.value.code == "provider.unknown_outcome"


def test_connection_test_steps(app: Flask, dc: str, worker_key: None,
                               digicert: DigiCertStandIn) -> None:
    with app.app_context():
        report = provider(dc).test_connection()
    assert report.ok
    assert [s.name for s in report.steps] == ["credentials", "organization"]
    assert "Example Test Ltd" in report.steps[1].message
    assert digicert.calls("GET", "/user/me") and digicert.calls("GET", "/organization/")


def test_revoke_by_serial(app: Flask, dc: str, digicert: DigiCertStandIn) -> None:
    with app.app_context():
        asked = ask("www.example.test")
        issued = provider(dc).submit(asked.request, asked.csr)
        provider(dc).revoke(issued.certificate, "keyCompromise")
    (call,) = digicert.calls("PUT", "/revoke")
    assert call.path.startswith("/services/v2/certificate/") and call.path.endswith("/revoke")
    assert int(call.path.split("/")[-2], 16) == issued.certificate.serial_number
    assert call.body["skip_approval"] is True and "key compromise" in call.body["comments"]
    assert issued.certificate.serial_number in digicert.revoked_serials()

"""The ACME provider end to end against Debian's pebble (a real RFC 8555 CA), through the
real pipeline: submit → worker jobs (each wait a scheduled job) → complete.

- http-01 validated for real: pebble asks the live test server, which answers from the
  database (every name resolves to 127.0.0.1 through pebble-challtestsrv);
- dns-01 through a real bind9: TSIG-signed RFC 2136 updates, validated by a second
  pebble whose resolver is that bind9, records removed afterwards;
- EAB required by every pebble here; missing or wrong EAB is a clear refusal;
- nonce rejection (PEBBLE_WFE_NONCEREJECT=30) survived by the platform's own retries;
- a validation the CA cannot complete fails the order with the CA's reason;
- an order whose check job was lost is re-checked by the sweeper, never re-ordered.
The issued chain verifies against pebble's root from its management interface."""
from __future__ import annotations

import uuid
from datetime import timedelta

import dns.message
import dns.query
import dns.rdatatype
import pytest
from flask import Flask
from rq import Queue
from sqlalchemy import func, select

from app.extensions import db
from app.jobs.queue import redis_connection
from app.models import Order, OrderEvent, Provider, ProviderChallenge
from app.models.base import utcnow
from app.providers.base import SubmitStatus
from app.services import providers as provider_service
from app.services.provider_runtime import build_provider, run_connection_test
from app.services.sweeper import sweep
from tests.builders import add_domain
from tests.conftest import make_user
from tests.interop.fixtures import create_acme_provider
from tests.interop.servers import Bind9, ChallTestSrv, Pebble
from tests.providers.acme_helpers import (
    certificate_of,
    events,
    settle,
    submit,
    verify_chain,
)

pytestmark = pytest.mark.interop


@pytest.fixture
def setup(app: Flask, worker_key: None) -> None:
    make_user(app)
    add_domain(app, "example.test")
    add_domain(app, "dns01.test")


def test_http01_order_completes_with_real_validation(app: Flask, setup: None, pebble: Pebble,
                                                      tmp_path) -> None:
    provider_id = create_acme_provider(app, pebble)
    order_id = submit(app, provider_id, ["www.example.test", "api.example.test"],
                      organization="Ignored Org", validity_days="30")
    order = settle(app, order_id)
    assert order.status == "complete", order.error
    assert order.type == "acme" and order.external_id.startswith(pebble.directory_url[:-3])
    assert order.pending_key_encrypted is None and order.next_check_at is None
    timeline = events(app, order_id)
    assert any(m.startswith("Waiting for the CA") for m in timeline), timeline
    assert sum(m == "A worker started issuing" for m in timeline) == 1   # submitted once
    cert = certificate_of(app, order_id)
    assert sorted(cert.sans) == ["api.example.test", "www.example.test"]
    assert cert.provider == "Pebble" and str(cert.provider_id) == provider_id
    assert cert.encrypted_private_key and cert.issuer_ca_id is None
    assert "OK" in verify_chain(cert, pebble.root_pem(), tmp_path)
    # The CA decides the subject: the ignored O never reached the certificate.
    assert "Ignored Org" not in cert.issuer_dn and "O=" not in cert.certificate_pem
    assert isinstance(order.lint_findings, list)   # recorded, not blocking
    with app.app_context():   # the http-01 answers were withdrawn
        assert db.session.scalar(select(func.count()).select_from(ProviderChallenge)) == 0


def test_dns01_wildcard_through_bind9(app: Flask, setup: None, pebble_dns: Pebble,
                                      bind9: Bind9, tmp_path) -> None:
    provider_id = create_acme_provider(app, pebble_dns, name="Pebble dns-01",
                                       challenge="dns-01", bind9=bind9)
    order_id = submit(app, provider_id, ["dns01.test", "*.dns01.test"])
    order = settle(app, order_id)
    assert order.status == "complete", order.error
    cert = certificate_of(app, order_id)
    assert sorted(cert.sans) == ["*.dns01.test", "dns01.test"]
    verify_chain(cert, pebble_dns.root_pem(), tmp_path)
    assert any("DNS record" in m or "validating" in m for m in events(app, order_id))
    # The TXT records were removed after issuance.
    query = dns.message.make_query("_acme-challenge.dns01.test", dns.rdatatype.TXT)
    answer = dns.query.udp(query, "127.0.0.1", port=bind9.port, timeout=5)
    assert answer.answer == []


def test_a_dns01_provider_refuses_names_outside_its_zone(app: Flask, setup: None,
                                                         pebble_dns: Pebble,
                                                         bind9: Bind9) -> None:
    from app.services.orders import PolicyRejected

    provider_id = create_acme_provider(app, pebble_dns, name="Zone-bound",
                                       challenge="dns-01", bind9=bind9)
    with pytest.raises(PolicyRejected) as refused:
        submit(app, provider_id, ["www.example.test"])
    assert [v.code for v in refused.value.violations] == ["provider.outside_dns_zone"]


def test_a_ca_requiring_eab_refuses_an_account_without_it(app: Flask, setup: None,
                                                          pebble: Pebble) -> None:
    provider_id = create_acme_provider(app, pebble, name="No EAB", eab=False)
    with app.app_context():
        assert run_connection_test(provider_id) == "failed"
        provider = db.session.get(Provider, uuid.UUID(provider_id))
        assert "requires external account binding" in provider.test_steps[-1]["message"]
        assert provider.account_url is None
    order = settle(app, submit(app, provider_id, ["eab.example.test"]))
    assert order.status == "failed" and "external account binding" in order.error


def test_a_wrong_eab_key_is_refused_by_the_ca(app: Flask, setup: None, pebble: Pebble) -> None:
    provider_id = create_acme_provider(app, pebble, name="Wrong EAB",
                                       eab_hmac_key="d3JvbmctaG1hYy1rZXktZm9yLXRoZS10ZXN0")
    with app.app_context():
        assert run_connection_test(provider_id) == "failed"
        message = db.session.get(Provider, uuid.UUID(provider_id)).test_steps[-1]["message"]
    assert "Registering the ACME account: the CA refused" in message


def test_connection_test_registers_the_account_once(app: Flask, setup: None,
                                                    pebble: Pebble) -> None:
    provider_id = create_acme_provider(app, pebble, name="Once")
    with app.app_context():
        assert run_connection_test(provider_id) == "ok"
        first = db.session.get(Provider, uuid.UUID(provider_id))
        url, wrapped = first.account_url, first.account_key_encrypted
        assert url and wrapped and "BEGIN" not in wrapped   # wrapped under the KEK
        steps = [s["name"] for s in first.test_steps]
        assert steps == ["directory", "account", "http-01"]
        db.session.remove()
        assert run_connection_test(provider_id) == "ok"
        again = db.session.get(Provider, uuid.UUID(provider_id))
        assert again.account_url == url and "is registered" in again.test_steps[1]["message"]


def test_bad_nonces_are_retried_until_the_order_is_issued(app: Flask, setup: None,
                                                          pebble_nonce: Pebble) -> None:
    """With 30 % of nonces rejected, the ~20 signed requests of one issuance would fail
    with the acme library's single retry most of the time."""
    from app.pki.csr import build_csr
    from app.pki.keys import generate_private_key
    from app.services.intake import request_from_values
    from app.services.issuers import with_default_provider

    provider_id = create_acme_provider(app, pebble_nonce, name="Nonce rejecting")
    retries = 0
    with app.app_context():
        request, _ = request_from_values({"common_name": "nonce.example.test",
                                          "sans": ["nonce2.example.test"],
                                          "algorithm": "ec-256", "provider_id": provider_id})
        request = with_default_provider(request)
        key = generate_private_key("ec-256")
        csr = build_csr(key, request.common_name, request.all_dns_names(), (), ())
        row = db.session.get(Provider, uuid.UUID(provider_id))
        provider = build_provider(row)
        result = provider.submit(request, csr)
        retries += provider.net.bad_nonce_retries
        for _ in range(40):
            if result.status == SubmitStatus.ISSUED:
                break
            provider = build_provider(row)   # a new job: a new client
            result = provider.poll(result.external_id, request, csr)
            retries += provider.net.bad_nonce_retries
            __import__("time").sleep(min(result.retry_after or 0, 1))
        assert result.status == SubmitStatus.ISSUED
    assert retries > 0, "pebble rejected no nonce: the test proved nothing"
    assert "badNonce" in pebble_nonce.log_text() or retries > 0


def test_a_name_the_ca_cannot_validate_fails_the_order(app: Flask, setup: None, pebble: Pebble,
                                                      challtestsrv: ChallTestSrv) -> None:
    challtestsrv.add_a("unreachable.example.test", ["127.0.0.2"])   # nothing listens there
    provider_id = create_acme_provider(app, pebble, name="Refusing")
    order = settle(app, submit(app, provider_id, ["unreachable.example.test"]))
    assert order.status == "failed"
    assert "could not validate unreachable.example.test" in order.error, order.error


def test_sweeper_rechecks_an_order_whose_check_was_lost_and_never_resubmits(
        app: Flask, setup: None, pebble: Pebble) -> None:
    """The worker dies while the order waits on the CA: its scheduled check is gone from
    Redis. The sweeper (here with no grace) re-enqueues the *check*; the order completes
    with the ACME order it already had."""
    from app.jobs.worker import build_worker

    provider_id = create_acme_provider(app, pebble, name="Sweeper")
    order_id = submit(app, provider_id, ["sweep.example.test"])
    build_worker(app, name=f"test-{uuid.uuid4().hex[:8]}").work(burst=True)  # no scheduler
    with app.app_context():
        waiting = db.session.get(Order, order_id)
        assert waiting.status == "processing" and waiting.external_id
        assert waiting.next_check_at is not None
        external_id = waiting.external_id
        # Time passes: the check was due a minute ago (its job is about to be lost).
        waiting.next_check_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        db.session.remove()
    with app.app_context():
        connection = redis_connection()
        Queue(app.config["RQ_QUEUE"], connection=connection).empty()
        for pattern in (f"rq:*{app.config['RQ_QUEUE']}*", f"rq:job:order-{order_id}-*"):
            for key in connection.scan_iter(pattern):
                connection.delete(key)   # the scheduled check is lost with the worker
        report = sweep(pending_grace=0, processing_timeout=0)
        assert report.checks_requeued == [str(order_id)]
        assert report.recovered == [] and report.requeued == []
        assert db.session.get(Order, order_id).status == "processing"
        db.session.remove()
    order = settle(app, order_id)
    assert order.status == "complete", order.error
    assert order.external_id == external_id
    assert sum(m == "A worker started issuing" for m in events(app, order_id)) == 1


def test_a_deactivated_provider_is_not_offered_and_refuses_new_orders(
        app: Flask, setup: None, pebble: Pebble) -> None:
    from app.services.issuers import provider_choices
    from app.services.orders import PolicyRejected

    provider_id = create_acme_provider(app, pebble, name="Paused")
    with app.app_context():
        provider_service.set_active(db.session.get(Provider, uuid.UUID(provider_id)), False)
        assert provider_id not in [c.id for c in provider_choices()]
        db.session.remove()
    with pytest.raises(PolicyRejected) as refused:
        submit(app, provider_id, ["paused.example.test"])
    assert refused.value.violations[0].code == "provider.unavailable"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OrderEvent)) == 0

"""``POST /api/v1/courier/certificates:batch`` end to end: real database, real Redis, the
real worker. Every item is answered as the single endpoint answers the same body — the
same status, the same body and codes, the same rows (none for a refused item)."""
from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ApiIdempotencyKey, AuditEvent, CertificateAlert, Order, OrderEvent
from tests.api.conftest import (
    API,
    bearer,
    csr_with_bad_signature,
    make_courier,
    make_csr,
    row_counts,
    token_for,
)
from tests.api.test_openapi import Contract
from tests.builders import add_policy, count

BATCH = f"{API}/certificates:batch"


def _batch(client, token, requests: Any, **headers: str):
    return client.post(BATCH, json={"requests": requests}, headers=bearer(token, **headers))


def _single(client, token, body: Any, key: str | None = None):
    headers = bearer(token, **({"Idempotency-Key": key} if key else {}))
    return client.post(f"{API}/certificates", data=json.dumps(body),
                       content_type="application/json", headers=headers)


def _without_ids(body: dict[str, Any]) -> dict[str, Any]:
    """An accepted body with its order's own id left out (two orders never share one)."""
    if "order_id" not in body:
        return body
    assert body["status_url"] == f"{API}/orders/{body['order_id']}"
    return {k: v for k, v in body.items() if k not in ("order_id", "status_url")}


def _audit_submits(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "order.submit"))


def _queued_jobs(app) -> set[str]:
    from rq import Queue

    from app.jobs.queue import redis_connection

    with app.app_context():
        return set(Queue(app.config["RQ_QUEUE"], connection=redis_connection()).job_ids)


# ---- each item as the single endpoint would answer it -------------------------------------

def _mixed_bodies() -> list[Any]:
    return [
        {"common_name": "one.example.com", "algorithm": "ec-256", "validity_days": 90},
        {"csr": make_csr("csr.example.com", ("csr.example.com",))},
        {"common_name": "www.example.org"},                       # not registered
        {"common_name": "svc.example.net"},                       # not this courier's
        {"common_name": 5, "ttl": 1},                             # shape
        "not an object",                                          # shape
        {"csr": make_csr(), "algorithm": "ec-256"},               # request.not_with_csr
        {"csr": csr_with_bad_signature()},                        # csr.invalid
        {"csr": make_csr("a.example.com", ("a.example.com",)),
         "common_name": "b.example.com"},                         # csr.names_mismatch
        {"common_name": "two.example.com", "digest": "sha256"},   # soft warning
        {"common_name": "hard.example.com", "validity_days": 400},  # hard policy
        {"common_name": "three.example.com", "validity_days": 0},   # validity
    ]


def _policies(app) -> None:
    add_policy(app, "Prefer long digests", ["two.example.com"], [
        {"action": "enforce_digest", "fail": "soft", "values": {"digest": "sha512"}}])
    add_policy(app, "Short lives", ["hard.example.com"], [
        {"action": "enforce_max_validity", "fail": "hard", "values": {"max_days": 365}}])


def test_each_result_is_what_the_single_endpoint_answers(app, client, courier,
                                                         token) -> None:
    _policies(app)
    bodies = _mixed_bodies()
    start = row_counts(app)
    singles = [_single(client, token, body) for body in bodies]
    after_singles = row_counts(app)
    audit_singles = _audit_submits(app)

    response = _batch(client, token, bodies)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    results = answer["results"]
    assert len(results) == len(bodies)
    for index, (single, result) in enumerate(zip(singles, results, strict=True)):
        assert result["status"] == single.status_code, (index, result, single.get_json())
        assert _without_ids(result["body"]) == _without_ids(single.get_json()), index
        assert result["replayed"] is False
    statuses = [r["status"] for r in results]
    assert statuses == [202, 202, 422, 422, 422, 422, 422, 422, 422, 202, 422, 422]
    codes = [r["body"].get("error", {}).get("code") for r in results]
    assert codes[2:9] == ["request.rejected", "request.rejected", "request.invalid",
                          "request.invalid", "request.invalid", "request.rejected",
                          "request.rejected"]
    assert [d["code"] for d in results[4]["body"]["error"]["details"]] == \
        ["request.unknown_field", "request.invalid_type"]
    assert results[7]["body"]["error"]["details"][0]["code"] == "csr.invalid"
    assert results[10]["body"]["error"]["details"][0]["policy"] == "Short lives"
    assert results[9]["body"]["warnings"][0]["code"] == "policy.enforce_digest"
    assert (answer["accepted"], answer["refused"]) == (3, 9)

    # The same rows as the twelve single requests: three orders with their first timeline
    # entries and audit events, the policy alerts — and nothing for a refused item.
    after_batch = row_counts(app)
    assert {k: after_batch[k] - after_singles[k] for k in start} == \
        {k: after_singles[k] - start[k] for k in start}
    assert after_batch["Order"] - after_singles["Order"] == 3
    assert _audit_submits(app) - audit_singles == audit_singles == 3
    ids = [results[i]["body"]["order_id"] for i in (0, 1, 9)]
    with app.app_context():
        orders = {str(o.id): o for o in db.session.scalars(
            select(Order).where(Order.id.in_([uuid.UUID(i) for i in ids])))}
        assert {o.status for o in orders.values()} == {"pending"}
        assert {o.pathway for o in orders.values()} == {"courier"}
        assert {o.requested_by_label for o in orders.values()} == {"edge-proxy"}
        assert orders[ids[1]].csr_pem and orders[ids[0]].csr_pem is None
        events = db.session.scalars(select(OrderEvent).where(
            OrderEvent.order_id.in_([uuid.UUID(i) for i in ids]))).all()
        assert sorted(str(e.order_id) for e in events) == sorted(ids)
        soft = db.session.scalar(select(CertificateAlert).where(
            CertificateAlert.order_id == uuid.UUID(ids[2])))
        assert soft.type == "policy_soft_fail" and soft.requester_label == "Courier edge-proxy"
        hard = db.session.scalars(select(CertificateAlert).where(
            CertificateAlert.common_name == "hard.example.com")).all()
        assert [a.type for a in hard] == ["policy_hard_fail"] * 2  # single + batch
    # The orders' issuance was queued (one Redis round trip for the batch): Local PKI
    # orders in one batch job, which each order's own job id stands for (the sweeper's
    # liveness check reads the alias).
    batch_jobs = {job_id for job_id in _queued_jobs(app) if job_id.startswith("orders-batch-")}
    assert len(batch_jobs) == 1
    (batch_job,) = batch_jobs
    with app.app_context():
        from rq.job import Job

        from app.jobs.allowlist import SERIALIZER
        from app.jobs.queue import job_alias, redis_connection

        job = Job.fetch(batch_job, connection=redis_connection(), serializer=SERIALIZER)
        assert job.func_name == "app.jobs.orders.issue_orders"
        assert list(job.args) == ids
        assert {job_alias(f"order-{i}-issue") for i in ids} == {batch_job}


def test_the_batchs_orders_are_issued_by_the_worker(app, client, jobs, courier, token,
                                                    tmp_path) -> None:
    from tests.api.test_courier_api import _verify_chain

    response = _batch(client, token, [
        {"csr": make_csr("w1.example.com", ("w1.example.com",)), "validity_days": 30},
        {"common_name": "w2.example.com", "algorithm": "rsa-2048"},
        {"common_name": "w3.example.com", "sans": ["w3.example.com", "w4.example.com"]},
    ])
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == [202, 202, 202]
    jobs()
    for result in results:
        order = client.get(result["body"]["status_url"], headers=bearer(token)).get_json()
        assert order["status"] == "complete", order
        _verify_chain(tmp_path, app, order["certificate_pem"], order["chain_pem"])
    platform = client.get(results[1]["body"]["status_url"], headers=bearer(token)).get_json()
    assert platform["key_status"] == "delivered"  # the loop above took the JWE once
    first = client.get(results[0]["body"]["status_url"], headers=bearer(token)).get_json()
    assert first["key_source"] == "csr"


def test_a_courier_without_an_encryption_key_gets_the_same_refusal(app, client, pki) -> None:
    creds = make_courier(app, "keyless", key=None)
    token = token_for(client, creds)
    single = _single(client, token, {"common_name": "k.example.com"})
    batch = _batch(client, token, [{"common_name": "k.example.com"},
                                   {"csr": make_csr("k.example.com", ("k.example.com",))}])
    results = batch.get_json()["results"]
    assert single.status_code == results[0]["status"] == 422
    assert results[0]["body"] == single.get_json()
    assert results[0]["body"]["error"]["details"][0]["code"] == "courier.no_encryption_key"
    assert results[1]["status"] == 202


def test_a_batch_costs_the_same_statements_whatever_its_size(app, client, courier,
                                                             token) -> None:
    """The per-batch reads do not grow with the batch (the configuration and domain reads
    are shared, nothing is read back after the commit), and on PostgreSQL neither do the
    writes (multi-row INSERTs; SQLAlchemy writes the rows whose ids it must read back one
    by one on SQLite)."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_: Any) -> None:
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    def cost(size: int, tag: str) -> tuple[int, int]:
        statements.clear()
        response = _batch(client, token, [{"common_name": f"{tag}{i}.example.com"}
                                          for i in range(size)])
        assert response.get_json()["accepted"] == size
        return statements.count("SELECT"), len(statements)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        cost(2, "warm")
        (small_reads, small_all), (large_reads, large_all) = cost(2, "s"), cost(40, "l")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert small_reads == large_reads <= 8
    if engine.dialect.name == "postgresql":
        assert small_all == large_all <= 11


# ---- refused whole: nothing written ---------------------------------------------------------

@pytest.mark.parametrize(("body", "status", "code"), [
    ({"requests": [{"common_name": f"n{i}.example.com"} for i in range(101)]}, 422,
     "batch.too_large"),
    ({"requests": []}, 422, "batch.empty"),
    ({}, 422, "request.invalid"),
    ({"requests": {"common_name": "a.example.com"}}, 422, "request.invalid"),
    ({"requests": "a.example.com"}, 422, "request.invalid"),
    ({"requests": [{"common_name": "a.example.com"}], "extra": 1}, 422, "request.invalid"),
    ([{"common_name": "a.example.com"}], 422, "request.invalid"),
    ({"requests": [{"common_name": "a.example.com", "idempotency_key": "k"},
                   {"common_name": "b.example.com", "idempotency_key": "k"}]}, 422,
     "batch.duplicate_idempotency_key"),
])
def test_a_malformed_batch_is_refused_whole(app, client, courier, token, body, status,
                                            code) -> None:
    before = row_counts(app)
    response = client.post(BATCH, json=body, headers=bearer(token))
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert row_counts(app) == before
    assert _audit_submits(app) == 0 and not _queued_jobs(app)


def test_types_are_checked_at_both_levels(app, client, courier, token) -> None:
    response = client.post(BATCH, json={"requests": 5}, headers=bearer(token))
    details = response.get_json()["error"]["details"]
    assert response.status_code == 422
    assert [(d["field"], d["code"]) for d in details] == [("requests",
                                                           "request.invalid_type")]
    mixed = _batch(client, token, [None, 7, [], {"sans": "x"}, {"common_name": "ok.example.com"}])
    assert [r["status"] for r in mixed.get_json()["results"]] == [422, 422, 422, 422, 202]
    assert count(app, Order) == 1


def test_a_body_that_is_not_json_is_refused(app, client, courier, token) -> None:
    cases = [(client.post(BATCH, data="{", content_type="application/json",
                          headers=bearer(token)), 400, "request.bad_request"),
             (client.post(BATCH, data="{}", content_type="text/plain",
                          headers=bearer(token)), 415, "request.unsupported_media_type"),
             (client.post(BATCH, data='{"requests": [NaN]}', content_type="application/json",
                          headers=bearer(token)), 400, "request.bad_request"),
             (client.post(BATCH, data="[" + " " * (2 * 1024 * 1024) + "]",
                          content_type="application/json", headers=bearer(token)), 413,
              "request.too_large")]
    for response, status, code in cases:
        assert response.status_code == status
        assert response.get_json()["error"]["code"] == code
    assert count(app, Order) == 0


@pytest.mark.parametrize(("headers", "code"), [
    ({}, "auth.missing_token"),
    ({"Authorization": "Bearer forged"}, "auth.invalid_token"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "auth.missing_token"),
])
def test_no_or_a_bad_token_is_401(app, client, courier, headers, code) -> None:
    response = client.post(BATCH, json={"requests": [{"common_name": "a.example.com"}]},
                           headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(app, Order) == 0


def test_a_revoked_token_is_401(app, client, courier, token) -> None:
    from app.services import couriers

    with app.app_context():
        couriers.rotate_secret(couriers.get_courier(courier.id))
    response = _batch(client, token, [{"common_name": "a.example.com"}])
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "auth.revoked"


# ---- idempotency per item -----------------------------------------------------------------

def test_idempotency_keys_work_per_item(app, client, courier, token) -> None:
    items = [{"common_name": "i1.example.com", "idempotency_key": "batch-1"},
             {"common_name": "i2.example.com", "idempotency_key": "batch-2"},
             {"common_name": "i3.example.com"}]
    first = _batch(client, token, items).get_json()["results"]
    assert [r["status"] for r in first] == [202, 202, 202]
    assert count(app, ApiIdempotencyKey) == 2 and count(app, Order) == 3

    # The same batch again: the keyed items are replays, the unkeyed one is a new order.
    again = _batch(client, token, items).get_json()["results"]
    assert [r["replayed"] for r in again] == [True, True, False]
    assert [r["body"] for r in again[:2]] == [r["body"] for r in first[:2]]
    assert again[2]["body"]["order_id"] != first[2]["body"]["order_id"]
    assert count(app, Order) == 4 and count(app, ApiIdempotencyKey) == 2

    # A key reused with another body: that item is refused as alone, the others go on.
    before = row_counts(app)
    reused = _batch(client, token, [
        {"common_name": "other.example.com", "idempotency_key": "batch-1"},
        {"common_name": "fresh.example.com", "idempotency_key": "batch-3"}]).get_json()
    alone = _single(client, token, {"common_name": "other.example.com"}, key="batch-1")
    assert reused["results"][0] == {"status": 422, "replayed": False, "body": alone.get_json()}
    assert alone.get_json()["error"]["code"] == "idempotency.key_reused"
    assert reused["results"][1]["status"] == 202
    assert count(app, Order) == before["Order"] + 1

    # One key space with the single endpoint, in both directions.
    single = _single(client, token, {"common_name": "s.example.com"}, key="shared-1")
    from_batch = _batch(client, token, [{"common_name": "s.example.com",
                                         "idempotency_key": "shared-1"}]).get_json()
    assert from_batch["results"][0]["replayed"] is True
    assert from_batch["results"][0]["body"] == single.get_json()
    replay = _single(client, token, {"common_name": "fresh.example.com"}, key="batch-3")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == reused["results"][1]["body"]


def test_a_refused_item_does_not_use_up_its_key(app, client, courier, token) -> None:
    refused = _batch(client, token, [{"common_name": "www.not-ours.org",
                                      "idempotency_key": "retry-me"}]).get_json()
    assert refused["results"][0]["status"] == 422
    fixed = _batch(client, token, [{"common_name": "www.example.com",
                                    "idempotency_key": "retry-me"}]).get_json()
    assert fixed["results"][0]["status"] == 202 and fixed["results"][0]["replayed"] is False


def test_a_keyed_retry_links_the_alerts_of_its_refused_attempt(app, client, courier,
                                                               token) -> None:
    add_policy(app, "Thirty days", ["*.example.com"], [
        {"action": "enforce_max_validity", "fail": "hard", "values": {"max_days": 30}}])
    refused = _batch(client, token, [
        {"common_name": "l.example.com", "validity_days": 90, "idempotency_key": "lk"},
        {"common_name": "m.example.com", "validity_days": 90}]).get_json()["results"]
    assert [r["status"] for r in refused] == [422, 422]
    fixed = _batch(client, token, [
        {"common_name": "l.example.com", "validity_days": 30, "idempotency_key": "lk"},
        {"common_name": "m.example.com", "validity_days": 30}]).get_json()["results"]
    assert [r["status"] for r in fixed] == [202, 202]
    with app.app_context():
        linked = {a.common_name: a.order_id for a in db.session.scalars(
            select(CertificateAlert))}
    # With a key the retry is the same request (its earlier alert now belongs to the
    # order); without one every attempt is a request of its own, as with single POSTs.
    assert str(linked["l.example.com"]) == fixed[0]["body"]["order_id"]
    assert linked["m.example.com"] is None


def test_a_malformed_item_key_is_that_items_400(app, client, courier, token) -> None:
    single = client.post(f"{API}/certificates", json={"common_name": "a.example.com"},
                         headers=bearer(token, **{"Idempotency-Key": "has space"}))
    response = _batch(client, token, [
        {"common_name": "a.example.com", "idempotency_key": "has space"},
        {"common_name": "a.example.com", "idempotency_key": 5},
        {"common_name": "a.example.com", "idempotency_key": "x" * 256},
        {"common_name": "b.example.com", "idempotency_key": "fine"}])
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == [400, 400, 400, 202]
    assert single.status_code == 400
    assert {r["body"]["error"]["code"] for r in results[:3]} == \
        {single.get_json()["error"]["code"]} == {"idempotency.invalid_key"}
    header = _batch(client, token, [{"common_name": "c.example.com"}],
                    **{"Idempotency-Key": "whole-batch"})
    assert header.status_code == 400
    assert header.get_json()["error"]["code"] == "idempotency.batch_header"
    assert count(app, Order) == 1


def test_concurrent_batches_with_one_key_make_one_order_for_it(app, courier, token) -> None:
    """Each batch passes the key look-up before any commits; the unique key decides, and
    the loser's batch runs again, answering that item as the winner's replay."""
    barrier = threading.Barrier(3)
    answers: list[dict[str, Any]] = []

    def send(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = _batch(client, token, [
            {"common_name": "race.example.com", "idempotency_key": "race"},
            {"common_name": f"own-{n}.example.com"}])
        answers.append(response.get_json())

    threads = [threading.Thread(target=send, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 3
    assert all([r["status"] for r in a["results"]] == [202, 202] for a in answers), answers
    assert len({a["results"][0]["body"]["order_id"] for a in answers}) == 1
    assert sorted(a["results"][0]["replayed"] for a in answers) == [False, True, True]
    assert count(app, Order) == 4 and count(app, ApiIdempotencyKey) == 1


# ---- the rate limit counts each request -----------------------------------------------------

@pytest.fixture
def limit_of_five(app):
    saved = app.config["COURIER_RATE_LIMIT_PER_MINUTE"]
    app.config["COURIER_RATE_LIMIT_PER_MINUTE"] = 5
    yield 5
    app.config["COURIER_RATE_LIMIT_PER_MINUTE"] = saved


def test_a_batch_larger_than_the_budget_is_429_whole(app, client, courier, token,
                                                     limit_of_five) -> None:
    response = _batch(client, token, [{"common_name": f"r{i}.example.com"} for i in range(6)])
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert count(app, Order) == 0


def test_each_request_of_a_batch_counts_against_the_limit(app, client, courier, token,
                                                          limit_of_five) -> None:
    for _ in range(2):  # a minute boundary between the two calls resets the window once
        full = _batch(client, token, [{"common_name": f"l{i}-{uuid.uuid4().hex[:6]}"
                                                      ".example.com"} for i in range(5)])
        assert full.status_code == 200 and full.get_json()["accepted"] == 5
        assert full.headers["X-RateLimit-Remaining"] == "0"
        after = client.get(f"{API}/orders/{uuid.uuid4()}", headers=bearer(token))
        if after.status_code == 429:
            break
    assert after.status_code == 429
    # An unreadable batch counts as one call, like any other refused call.
    other = make_courier(app, "other")
    other_token = token_for(client, other)
    bad = client.post(BATCH, data="{", content_type="application/json",
                      headers=bearer(other_token))
    assert bad.status_code == 400 and bad.headers["X-RateLimit-Remaining"] in {"3", "4"}


# ---- the OpenAPI document tells the truth about it ------------------------------------------

def test_batch_responses_match_the_document(app, client, courier, token) -> None:
    contract = Contract(client.get("/api/v1/openapi.json").get_json())
    path = "/api/v1/courier/certificates:batch"
    _policies(app)
    contract.check(path, "post", _batch(client, token, _mixed_bodies()))
    contract.check(path, "post", _batch(client, token, [
        {"common_name": "x.example.com", "idempotency_key": "doc"},
        {"common_name": "x.example.com", "idempotency_key": "bad key"}]))
    contract.check(path, "post", _batch(client, token, []))
    contract.check(path, "post", client.post(BATCH, data="{", content_type="application/json",
                                             headers=bearer(token)))
    contract.check(path, "post", client.post(BATCH, data="{}", content_type="text/plain",
                                             headers=bearer(token)))
    contract.check(path, "post", client.post(BATCH, json={"requests": []}))
    request_schema = contract.request_validator(path, "post")
    assert request_schema.is_valid({"requests": [{"common_name": "a.example.com",
                                                  "idempotency_key": "k-1"}]})
    for body in ({"requests": []}, {"requests": [{"common_name": 1}]},
                 {"requests": [{"common_name": "a"}] * 101}, {"requests": [], "x": 1}):
        assert not request_schema.is_valid(body), body
    saved = app.config["COURIER_RATE_LIMIT_PER_MINUTE"]
    app.config["COURIER_RATE_LIMIT_PER_MINUTE"] = 1
    try:
        limited = make_courier(app, "limited")
        contract.check(path, "post", _batch(client, token_for(client, limited),
                                            [{"common_name": "a.example.com"}] * 2))
    finally:
        app.config["COURIER_RATE_LIMIT_PER_MINUTE"] = saved
    assert {s for _, _, s in contract.seen} >= {"200", "400", "401", "415", "422", "429"}

"""Which orders a batch issuance job may take (``domain.orders.issued_in_batch``)."""
from __future__ import annotations

import uuid

import pytest

from app.domain.orders import issued_in_batch
from app.domain.providers import BUILTIN

RENEWED = uuid.uuid4()


@pytest.mark.parametrize(("provider_type", "profile", "revokes", "renews", "expected"), [
    (BUILTIN, None, False, None, True),            # a plain Local PKI order
    (BUILTIN, None, False, RENEWED, True),         # a renewal that keeps its predecessor
    (BUILTIN, None, True, None, True),             # "revoke" asked but nothing renewed
    (BUILTIN, None, True, RENEWED, False),         # revokes its predecessor after storing
    (BUILTIN, uuid.uuid4(), False, None, False),   # a certificate profile's: deploys
    ("acme", None, False, None, False),            # waits on its CA
    ("digicert", None, False, None, False),        # waits on its CA and bills
])
def test_only_local_pki_orders_with_nothing_to_do_after_storing_go_in_batches(
        provider_type, profile, revokes, renews, expected) -> None:
    assert issued_in_batch(provider_type, profile, revokes, renews) is expected

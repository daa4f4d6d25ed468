"""Readable builders for test data, going through the real services."""
from __future__ import annotations

import uuid
from typing import Any

from flask import Flask

from app.extensions import db

#: The Local PKI provider row migration 0008 seeds.
LOCAL_PKI_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def add_domain(app: Flask, name: str, enabled: bool = True) -> int:
    from app.services import domains

    with app.app_context():
        return domains.add_domain(name, enabled=enabled).id


def issuing_ca(app: Flask, run_jobs, validity_days: int = 730,
               algorithm: str = "ec-256") -> str:
    """A root and an intermediate made by the real worker; returns the intermediate id.
    The default validity outlives the requests' default (365 days), so requests are not
    cut at the intermediate's notAfter (``validity.clamped_to_issuer``) unless a test
    asks for it. ``algorithm`` is the intermediate's: an ECDSA one signs leaves with its
    curve's hash only (P-384: SHA-384)."""
    from app.services import pki

    with app.app_context():
        root = pki.request_root(pki.CAParameters(common_name="Test Root", algorithm="ec-256",
                                                 organization="Test Org", country="DE"))
        root_id = root.id
    _until_it_signs(app, run_jobs, root_id)
    with app.app_context():
        inter = pki.request_intermediate(
            pki.CAParameters(common_name="Test Issuing", algorithm=algorithm,
                             organization="Test Org", country="DE",
                             # Every purpose, so tests of other rules are not refused by
                             # the intermediate's EKU (the default is serverAuth+clientAuth).
                             extended_key_usage=("serverAuth", "clientAuth", "codeSigning",
                                                 "emailProtection", "timeStamping"),
                             validity_days=validity_days), root_id)
        inter_id = str(inter.id)
    _until_it_signs(app, run_jobs, inter_id)
    return inter_id


def owned_leaf(app: Flask, run_jobs, owner: str = "owner@example.com",
               domain: str = "example.com") -> tuple[str, str]:
    """``domain`` registered, a user ``owner`` allowed it, a root and an intermediate, and
    a certificate issued to ``owner`` by the real worker; returns (intermediate id,
    certificate id)."""
    from tests.conftest import make_user
    from tests.web.test_certificates import issue

    add_domain(app, domain)
    make_user(app, owner, role="user", domains=(domain,))
    inter_id = issuing_ca(app, run_jobs)
    return inter_id, issue(app, run_jobs, inter_id, owner)


def _until_it_signs(app: Flask, run_jobs, ca_id: object, timeout: float = 60.0) -> None:
    """Run the jobs until the CA can sign. A worker process of the browser tests may
    listen on the same queue and take the generation job while ``run_jobs`` finds the
    queue empty, so the CA's state, not the drained queue, says when it is ready."""
    import time

    from app.services import pki

    deadline = time.monotonic() + timeout
    while True:
        run_jobs()
        with app.app_context():
            ready = pki.get_ca(ca_id).can_sign
            db.session.remove()
        if ready:
            return
        assert time.monotonic() < deadline, f"CA {ca_id} was not generated in {timeout} s"
        time.sleep(0.05)


def add_policy(app: Flask, name: str, domains: list[str], rules: list[dict[str, Any]],
               description: str = "", actions: list[str] | None = None,
               enabled: bool = True) -> str:
    from app.services import policies

    document = {"name": name, "description": description or f"{name} description",
                "enabled": enabled,
                "matching_criteria": {"actions": actions or ["certificate.generate",
                                                             "certificate.renew"],
                                      "domains": domains},
                "rules": rules}
    with app.app_context():
        return str(policies.create_policy(document).id)


def count(app: Flask, model: type) -> int:
    from sqlalchemy import func, select

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))

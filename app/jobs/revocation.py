"""The revocation jobs: thin (an id in, one service call; see ``services/revocation`` and
``services/revocation_publishing``)."""
from __future__ import annotations

from typing import Any

from rq.job import Job

from app.services import revocation, revocation_publishing


def issue_crl(ca_id: str) -> str:
    """Sign a new CRL for the CA now."""
    return revocation_publishing.issue_crl(ca_id)


def sign_certificate_ocsp(certificate_id: str) -> str:
    """Sign the certificate's OCSP response now."""
    return revocation_publishing.sign_certificate_ocsp(certificate_id)


def sign_intermediate_ocsp(ca_id: str) -> str:
    """Sign the root's OCSP response about an intermediate now."""
    return revocation_publishing.sign_intermediate_ocsp(ca_id)


def revoke_at_provider(certificate_id: str) -> str:
    """Ask an external CA to revoke a certificate (retried on transient errors)."""
    return revocation.revoke_at_provider(certificate_id)


def on_revoke_failure(job: Job, connection: Any, exc_type: type, exc: BaseException,
                      tb: Any) -> None:
    """RQ calls this after every failed attempt; only the last one gives up."""
    if job.retries_left:
        return
    revocation.give_up_at_provider(job.args[0], exc)

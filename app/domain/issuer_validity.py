"""A requested validity that runs past the issuing CA's own notAfter: the certificate is
cut at the issuer's notAfter (a certificate cannot outlive its issuer), and the requester
is told so with the real end date, as a soft warning.

Code: ``validity.clamped_to_issuer`` (soft, field ``validity_days``).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from app.domain.choices import MAX_VALIDITY_DAYS, MIN_VALIDITY_DAYS
from app.domain.policy import Violation

__all__ = ["BACKDATE", "clamped_end", "validity_clamp_warning"]

#: How far the PKI core backdates notBefore (``app.pki.issuance.validity_window``).
BACKDATE = timedelta(minutes=1)
_ONE_SECOND = timedelta(seconds=1)


def clamped_end(validity_days: int, issuer_not_after: datetime, now: datetime) -> datetime | None:
    """The certificate's notAfter when ``validity_days`` from ``now`` would pass the issuer's
    notAfter (then it is the issuer's); None when the requested period fits."""
    wanted = now - BACKDATE + timedelta(days=validity_days) - _ONE_SECOND
    return issuer_not_after if wanted > issuer_not_after else None


def validity_clamp_warning(validity_days: int | None, issuer_label: str,
                           issuer_not_after: datetime | None,
                           now: datetime) -> Violation | None:
    """The soft warning for a clamped validity, or None. Naive datetimes are not accepted.
    A validity outside the allowed range is the values check's ``validity.out_of_range``,
    not a clamp (and a huge number must not overflow the date arithmetic)."""
    if validity_days is None or issuer_not_after is None or isinstance(validity_days, bool):
        return None
    if not MIN_VALIDITY_DAYS <= validity_days <= MAX_VALIDITY_DAYS:
        return None
    end = clamped_end(validity_days, issuer_not_after, now)
    if end is None:
        return None
    days = max(0, (end - now).days)
    when = end.strftime("%Y-%m-%d %H:%M UTC")
    return Violation(
        code="validity.clamped_to_issuer", field="validity_days", severity="soft",
        expected=end.isoformat(), actual=str(validity_days),
        message=f"The issuing CA {issuer_label} expires on {when}, and a certificate cannot "
                f"outlive its issuer: this certificate will end on {when} (about {days} "
                f"days), not after the {validity_days} days requested.")

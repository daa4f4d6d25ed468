from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.issuer_validity import clamped_end, validity_clamp_warning

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def test_a_validity_that_fits_is_not_clamped() -> None:
    assert clamped_end(30, NOW + timedelta(days=31), NOW) is None
    assert validity_clamp_warning(30, "'CA'", NOW + timedelta(days=31), NOW) is None


def test_a_validity_past_the_issuer_ends_with_the_issuer() -> None:
    issuer_end = NOW + timedelta(days=100, hours=3)
    assert clamped_end(365, issuer_end, NOW) == issuer_end
    warning = validity_clamp_warning(365, "'Issuing CA'", issuer_end, NOW)
    assert warning is not None and warning.severity == "soft"
    assert warning.code == "validity.clamped_to_issuer" and warning.field == "validity_days"
    assert "2026-04-20 15:00 UTC" in warning.message and "365 days" in warning.message
    assert warning.expected == issuer_end.isoformat()


def test_nothing_to_judge_without_a_validity_or_an_issuer_end() -> None:
    assert validity_clamp_warning(None, "'CA'", NOW, NOW) is None
    assert validity_clamp_warning(30, "'CA'", None, NOW) is None


def test_an_out_of_range_validity_is_not_a_clamp_and_never_overflows() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 1, tzinfo=UTC)
    for days in (0, -5, 3651, 10**20):
        assert validity_clamp_warning(days, "'CA'", now + timedelta(days=30), now) is None

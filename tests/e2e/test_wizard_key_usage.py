"""Wizard step 2 in a real browser: the default key usages follow the algorithm (RSA:
digitalSignature + keyEncipherment, EC: digitalSignature) until the user changes them; a
validity past the issuing CA's notAfter is announced beside the field as it is typed."""
from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.e2e.rq_worker import WorkerProcess
from tests.e2e.test_admin_pki_flow import is_htmx_post, log_in
from tests.e2e.test_wizard_flow import (
    USER,
    active_local_pki,
    continue_to,
    draft_id,
    expect_step,
    htmx_settled,
    open_wizard,
    user_with_one_domain,
)

pytestmark = pytest.mark.e2e


def usage(page: Page, name: str):
    return page.locator(f'#wizard-step input[name=key_usage][value="{name}"]')


def choose_algorithm(page: Page, draft: str, label: str) -> None:
    with page.expect_response(is_htmx_post(f"/request/{draft}/crypto")) as answer:
        page.get_by_label("Algorithm").select_option(label=label)
    assert answer.value.status == 200
    htmx_settled(page)


def test_key_usages_follow_the_algorithm_until_the_user_changes_them(
        app: Flask, page: Page, worker_process: WorkerProcess) -> None:
    user_with_one_domain(app)
    active_local_pki(app, worker_process)
    log_in(page, USER)
    open_wizard(page)
    draft = draft_id(page)
    page.get_by_label("Common name (CN)").fill("www.example.com")
    continue_to(page, "names", draft)
    expect_step(page, "subject")
    continue_to(page, "subject", draft)
    expect_step(page, "crypto")

    # EC (the default algorithm): digitalSignature only; keyEncipherment is not possible.
    expect(usage(page, "digitalSignature")).to_be_checked()
    expect(usage(page, "keyEncipherment")).not_to_be_checked()
    expect(usage(page, "keyEncipherment")).to_be_disabled()

    choose_algorithm(page, draft, "RSA 2048-bit")
    expect(usage(page, "digitalSignature")).to_be_checked()
    expect(usage(page, "keyEncipherment")).to_be_checked()
    expect(usage(page, "keyEncipherment")).to_be_enabled()

    choose_algorithm(page, draft, "ECDSA P-384")
    expect(usage(page, "digitalSignature")).to_be_checked()
    expect(usage(page, "keyEncipherment")).not_to_be_checked()

    # Once the user has chosen, a change of algorithm keeps the choice.
    # (digitalSignature alone: nonRepudiation is refused for a TLS server certificate.)
    choose_algorithm(page, draft, "RSA 3072-bit")
    expect(usage(page, "keyEncipherment")).to_be_checked()
    usage(page, "keyEncipherment").uncheck()
    choose_algorithm(page, draft, "RSA 4096-bit")
    expect(usage(page, "digitalSignature")).to_be_checked()
    expect(usage(page, "keyEncipherment")).not_to_be_checked()

    continue_to(page, "crypto", draft)
    expect_step(page, "review")
    review = page.locator("#wizard-step")
    expect(review).to_contain_text("digitalSignature")
    expect(review).not_to_contain_text("keyEncipherment")


def test_validity_past_the_issuer_is_announced_at_the_crypto_step(
        app: Flask, page: Page, worker_process: WorkerProcess) -> None:
    user_with_one_domain(app)
    active_local_pki(app, worker_process)  # an intermediate valid for 730 days
    log_in(page, USER)
    open_wizard(page)
    draft = draft_id(page)
    page.get_by_label("Common name (CN)").fill("www.example.com")
    continue_to(page, "names", draft)
    expect_step(page, "subject")
    continue_to(page, "subject", draft)
    expect_step(page, "crypto")
    warning = page.locator('#wizard-step small.warning[data-code="validity.clamped_to_issuer"]')
    expect(warning).to_have_count(0)
    with page.expect_response(is_htmx_post(f"/request/{draft}/crypto")):
        page.get_by_label("Validity (days)").fill("1000")
        page.get_by_label("Validity (days)").press("Tab")
    htmx_settled(page)
    expect(warning).to_contain_text("Wizard Issuing CA")
    expect(warning).to_contain_text("1000 days")
    continue_to(page, "crypto", draft)
    expect_step(page, "review")
    expect(page.locator('#wizard-step [data-code="validity.clamped_to_issuer"]')).to_be_visible()

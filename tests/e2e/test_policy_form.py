"""An administrator creates a policy with several rules through the structured form, then
edits only its description: the rules come back unchanged (as `flask policies export` sees
them), and "+ Add rule" / "Remove" keep what was typed."""
from __future__ import annotations

import json

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.conftest import make_user
from tests.e2e.test_admin_pki_flow import log_in, open_admin_menu

pytestmark = pytest.mark.e2e

RULES = [
    ("enforce_digest", "hard", '{"digest": "sha384"}'),
    ("enforce_max_validity", "soft", '{"max_days": 397}'),
    ("enforce_values", "hard", '{"organization": "Acme Ltd", "country": "GB"}'),
    ("disable_wildcard", "soft", "{}"),
]


def exported(app: Flask) -> list[dict]:
    result = app.test_cli_runner().invoke(args=["policies", "export"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def rule_row(page: Page, position: int):
    return page.locator(".rule-row").nth(position)


def fill_rule(page: Page, position: int, action: str, fail: str, values: str) -> None:
    row = rule_row(page, position)
    row.get_by_label(f"Rule {position + 1} action").select_option(action)
    row.get_by_label(f"Rule {position + 1} failure mode").select_option(fail)
    row.get_by_label(f"Rule {position + 1} values (JSON)").fill(values)


def test_policy_created_with_the_form_saves_unchanged_after_editing_the_description(
        app: Flask, page: Page) -> None:
    make_user(app)
    log_in(page, "admin@example.com")
    open_admin_menu(page, "Policies")
    page.get_by_role("button", name="New policy").click()

    page.get_by_label("Name", exact=True).fill("Prod TLS")
    page.get_by_label("Description").fill("Production TLS rules")
    page.get_by_label("Domain patterns, one per line").fill("*.prod.example.com\nexample.com")
    # Each "+ Add rule" is a round trip that re-renders the form: typed rows must survive,
    # including a values box that is not valid JSON yet.
    fill_rule(page, 0, *RULES[0])
    page.get_by_role("button", name="+ Add rule").click()
    rule_row(page, 1).get_by_label("Rule 2 values (JSON)").fill('{"max_days": ')
    page.get_by_role("button", name="+ Add rule").click()
    expect(rule_row(page, 0).get_by_label("Rule 1 values (JSON)")).to_have_value(RULES[0][2])
    expect(rule_row(page, 1).get_by_label("Rule 2 values (JSON)")).to_have_value('{"max_days": ')
    expect(page.get_by_label("Name", exact=True)).to_have_value("Prod TLS")
    fill_rule(page, 1, *RULES[1])
    fill_rule(page, 2, *RULES[2])
    page.get_by_role("button", name="+ Add rule").click()
    fill_rule(page, 3, *RULES[3])
    # A spare row added and removed again leaves the others as typed.
    page.get_by_role("button", name="+ Add rule").click()
    expect(page.locator(".rule-row")).to_have_count(5)
    rule_row(page, 4).get_by_role("button", name="Remove").click()
    expect(page.locator(".rule-row")).to_have_count(4)
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("Saved policy 'Prod TLS'.")).to_be_visible()

    (created,) = exported(app)
    assert [(r["action"], r["fail"], r["values"]) for r in created["rules"]] == [
        (action, fail, json.loads(values)) for action, fail, values in RULES]
    assert created["matching_criteria"]["domains"] == ["*.prod.example.com", "example.com"]

    page.get_by_role("link", name="Prod TLS").click()
    expect(page.get_by_role("heading", name="Edit policy Prod TLS")).to_be_visible()
    for position, (_, _, values) in enumerate(RULES):
        box = rule_row(page, position).get_by_label(f"Rule {position + 1} values (JSON)")
        assert json.loads(box.input_value()) == json.loads(values)
    page.get_by_label("Description").fill("Production TLS rules, reviewed")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("Saved policy 'Prod TLS'.")).to_be_visible()

    (edited,) = exported(app)
    assert edited == {**created, "description": "Production TLS rules, reviewed"}

    # Saving again without touching anything changes nothing at all.
    page.get_by_role("link", name="Prod TLS").click()
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("Saved policy 'Prod TLS'.")).to_be_visible()
    assert exported(app) == [edited]


def test_policy_form_error_keeps_what_was_typed(app: Flask, page: Page) -> None:
    make_user(app)
    log_in(page, "admin@example.com")
    page.goto("/admin/policies/new")
    page.get_by_label("Name", exact=True).fill("Broken")
    page.get_by_label("Domain patterns, one per line").fill("example.com")
    fill_rule(page, 0, "enforce_digest", "hard", '{"digest": "sha384"')
    page.get_by_role("button", name="Save policy").click()
    expect(page.locator("#policy-errors")).to_contain_text("not valid JSON")
    expect(rule_row(page, 0).get_by_label("Rule 1 values (JSON)")).to_have_value(
        '{"digest": "sha384"')
    assert exported(app) == []

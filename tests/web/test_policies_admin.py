"""Admin → Policies: the structured form, View raw, and policy as code."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import PolicyRecord
from tests.builders import add_policy, count
from tests.conftest import post

GOOD_FORM = {
    "name": "Prod TLS", "description": "Production TLS rules", "enabled": "y",
    "actions": ["certificate.generate", "certificate.renew"],
    "domains": "*.prod.example.com\nexample.com",
    "rule_action": ["enforce_digest", "enforce_max_validity"],
    "rule_fail": ["hard", "soft"],
    "rule_values": ['{"digest": "sha384"}', '{"max_days": 397}'],
}


def _records(app) -> list[dict]:
    with app.app_context():
        return [r.document() for r in db.session.scalars(select(PolicyRecord))]


def test_create_with_the_form_then_view_raw(app, admin_client) -> None:
    response = post(admin_client, "/admin/policies/new", GOOD_FORM)
    assert response.status_code == 302, response.get_data(as_text=True)
    (document,) = _records(app)
    assert document["matching_criteria"]["domains"] == ["*.prod.example.com", "example.com"]
    assert document["rules"][1] == {"action": "enforce_max_validity", "fail": "soft",
                                    "values": {"max_days": 397}}
    with app.app_context():
        policy_id = db.session.scalar(select(PolicyRecord.id))
    raw = admin_client.get(f"/admin/policies/{policy_id}/raw").get_data(as_text=True)
    assert "&#34;enforce_digest&#34;" in raw or '"enforce_digest"' in raw


@pytest.mark.parametrize(("change", "message"), [
    ({"rule_action": ["enforce_colour", "enforce_max_validity"]}, "unknown rule action"),
    ({"rule_values": ['{"digest": "md5"}', '{"max_days": 397}']}, "md5"),
    ({"rule_values": ['{"digest": "sha384"}', '{"max_days": 99999}']}, "max_days"),
    ({"rule_values": ['{"digest": ', '{"max_days": 397}']}, "not valid JSON"),
    ({"rule_fail": ["maybe", "soft"]}, "fail"),
    ({"domains": ""}, "domains"),
    ({"domains": "*.*.example.com"}, "not a valid pattern"),
    ({"name": ""}, "name"),
    ({"actions": []}, "actions"),
])
def test_bad_policy_form_input_gets_a_message_and_writes_nothing(app, admin_client, change,
                                                                 message) -> None:
    response = post(admin_client, "/admin/policies/new", {**GOOD_FORM, **change})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _records(app) == []


def test_duplicate_name_is_refused(app, admin_client) -> None:
    add_policy(app, "Prod TLS", ["example.com"], [])
    response = post(admin_client, "/admin/policies/new", GOOD_FORM)
    assert response.status_code == 422 and "already exists" in response.get_data(as_text=True)
    assert count(app, PolicyRecord) == 1


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "Malformed JSON at line 1"),
    ('{"name": "X", "rules": []}', "matching_criteria"),
    ('{"name": "Base", "description": "", "enabled": true, "matching_criteria": '
     '{"actions": ["certificate.generate"], "domains": ["example.com"]}, "rules": '
     '[{"action": "block_ca_flag", "fail": "hard", "values": {"extra": 1}}], "colour": 1}',
     "colour"),
])
def test_raw_editor_refuses_bad_json_and_changes_nothing(app, admin_client, text,
                                                         message) -> None:
    policy_id = add_policy(app, "Base", ["example.com"], [
        {"action": "disable_wildcard", "fail": "hard"}])
    before = _records(app)
    response = post(admin_client, f"/admin/policies/{policy_id}/raw", {"document": text})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _records(app) == before


def test_raw_editor_saves_valid_json(app, admin_client) -> None:
    policy_id = add_policy(app, "Base", ["example.com"], [])
    document = {"name": "Base", "description": "now with a rule", "enabled": False,
                "matching_criteria": {"actions": ["certificate.renew"],
                                      "domains": ["*.example.com"]},
                "rules": [{"action": "block_ip_in_san", "fail": "soft", "values": {}}]}
    response = post(admin_client, f"/admin/policies/{policy_id}/raw",
                    {"document": json.dumps(document)})
    assert response.status_code == 302
    (saved,) = _records(app)
    assert saved == document


def test_enable_disable_delete(app, admin_client) -> None:
    policy_id = add_policy(app, "Base", ["example.com"], [])
    post(admin_client, f"/admin/policies/{policy_id}/enabled", {"enabled": "0"})
    assert _records(app)[0]["enabled"] is False
    post(admin_client, f"/admin/policies/{policy_id}/delete")
    assert _records(app) == []


def test_policy_test_page_evaluates_and_records_nothing(app, admin_client) -> None:
    from app.models import AuditEvent, CertificateAlert
    from tests.builders import add_domain

    add_domain(app, "example.com")
    add_policy(app, "Digest", ["*.example.com"], [
        {"action": "enforce_digest", "fail": "hard", "values": {"digest": "sha384"}},
        {"action": "enforce_values", "fail": "soft", "values": {"organization": "Acme"}}])
    audits = count(app, AuditEvent)
    response = post(admin_client, "/policy-test/", {
        "action": "certificate.generate", "common_name": "www.example.com",
        "digest": "sha256", "sans": "x.other.org"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "policy.enforce_digest" in body and "name.not_registered" in body
    assert "Acme" in body and "Blocked" in body
    assert count(app, CertificateAlert) == 0 and count(app, AuditEvent) == audits


def test_cli_export_and_import(app, tmp_path) -> None:
    add_policy(app, "Base", ["example.com"], [{"action": "disable_wildcard", "fail": "hard"}])
    runner = app.test_cli_runner()
    exported = runner.invoke(args=["policies", "export"])
    assert exported.exit_code == 0
    documents = json.loads(exported.output)
    assert [d["name"] for d in documents] == ["Base"]
    documents[0]["description"] = "changed"
    documents.append({**documents[0], "name": "Second"})
    (tmp_path / "policies.json").write_text(json.dumps(documents))
    result = runner.invoke(args=["policies", "import", str(tmp_path / "policies.json"),
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"created": ["Second"], "updated": ["Base"]}
    assert {d["description"] for d in _records(app)} == {"changed"}


def test_cli_import_changes_nothing_on_any_error(app, tmp_path) -> None:
    add_policy(app, "Base", ["example.com"], [])
    before = _records(app)
    good = {**before[0], "description": "changed"}
    bad = {**before[0], "name": "Broken", "rules": [{"action": "nope", "fail": "hard"}]}
    (tmp_path / "p.json").write_text(json.dumps([good, bad]))
    result = app.test_cli_runner().invoke(args=["policies", "import", str(tmp_path / "p.json")])
    assert result.exit_code != 0
    assert "unknown rule action" in result.output
    assert _records(app) == before
    (tmp_path / "q.json").write_text("[{")
    result = app.test_cli_runner().invoke(args=["policies", "import", str(tmp_path / "q.json")])
    assert result.exit_code != 0 and "Malformed JSON" in result.output


def test_policy_names_cannot_break_out_of_the_delete_confirmation(app, admin_client) -> None:
    """The prompt is a data-confirm attribute read by app.js (the CSP allows no inline
    handlers): the name is plain, HTML-escaped attribute text, never script."""
    from html.parser import HTMLParser

    name = "x'); alert(1); (\"<b>"
    add_policy(app, name, ["example.com"], [])
    body = admin_client.get("/admin/policies/").get_data(as_text=True)
    assert "onsubmit" not in body

    class Prompts(HTMLParser):
        found: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.found += [v for k, v in attrs if k == "data-confirm"]

    parser = Prompts()
    parser.feed(body)
    assert parser.found == [f"Delete policy {name}?"]


def test_edit_form_shows_each_rules_values_and_saves_unchanged(app, admin_client) -> None:
    response = post(admin_client, "/admin/policies/new", GOOD_FORM)
    assert response.status_code == 302
    (before,) = _records(app)
    with app.app_context():
        policy_id = db.session.scalar(select(PolicyRecord.id))
    html = admin_client.get(f"/admin/policies/{policy_id}").get_data(as_text=True)
    assert "built-in method" not in html
    assert 'value="{&#34;digest&#34;: &#34;sha384&#34;}"' in html
    edited = {**GOOD_FORM, "description": "changed"}
    assert post(admin_client, f"/admin/policies/{policy_id}", edited).status_code == 302
    assert _records(app) == [{**before, "description": "changed"}]


def test_add_rule_keeps_typed_values_even_when_not_json_yet(app, admin_client) -> None:
    form = {**GOOD_FORM, "rule_values": ['{"digest": "sha384"}', '{"max_days": '],
            "nav": "add_rule"}
    html = post(admin_client, "/admin/policies/new", form).get_data(as_text=True)
    assert 'value="{&#34;max_days&#34;: "' in html
    assert html.count('name="rule_values"') == 3
    assert _records(app) == []

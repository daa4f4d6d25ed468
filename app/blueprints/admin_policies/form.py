"""The structured policy form ⇄ the policy JSON document ("View raw" format)."""
from __future__ import annotations

import json
from typing import Any

from werkzeug.datastructures import MultiDict

from app.domain.choices import ACTIONS

MAX_RULE_ROWS = 50

# What each rule's `values` holds, shown beside the form.
RULE_VALUE_HINTS: dict[str, str] = {
    "enforce_values": '{"organization": "Acme Ltd", "country": "GB"}',
    "enforce_key_usage": '{"key_usage": ["digitalSignature"], "extended_key_usage": '
                         '["serverAuth"]}',
    "enforce_algorithm": '{"algorithm": "ecdsa"}  or  {"algorithm": "ec-384"}',
    "enforce_minimum_key_size": '{"minimum_bits": 3072, "minimum_ec_bits": 256}',
    "enforce_digest": '{"digest": "sha384"}',
    "enforce_max_validity": '{"max_days": 397}',
    "enforce_min_validity": '{"min_days": 30}',
    "disable_wildcard": "{}",
    "block_subdomains": "{}",
    "enforce_domain_suffix": '{"suffix": "prod.example.com"}',
    "block_ip_in_san": "{}",
    "block_email_in_san": "{}",
    "require_san": "{}",
    "enforce_max_san_count": '{"max_count": 10}',
    "block_ca_flag": "{}",
}


def document_from_form(form: MultiDict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Build the JSON document from the form. Syntax problems the form itself can detect
    (a values box that is not JSON) are returned; everything else is left to the schema."""
    errors: list[str] = []
    rules = []
    actions, fails, values = (form.getlist("rule_action"), form.getlist("rule_fail"),
                              form.getlist("rule_values"))
    for i, (action, fail, raw) in enumerate(zip(actions, fails, values, strict=False)):
        if not action and raw.strip() in ("", "{}"):
            continue  # an untouched empty row (e.g. left by "+ Add rule")
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            errors.append(f"rules[{i}].values: not valid JSON ({exc.msg} at column {exc.colno}).")
            parsed = {}
        rules.append({"action": action, "fail": fail, "values": parsed})
    document = {
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip(),
        "enabled": form.get("enabled") == "y",
        "matching_criteria": {
            "actions": [a for a in form.getlist("actions") if a],
            "domains": [line.strip() for line in form.get("domains", "").splitlines()
                        if line.strip()],
        },
        "rules": rules,
    }
    return document, errors


def form_rows(document: dict[str, Any]) -> dict[str, Any]:
    """Values for rendering the form from a saved (or new) document."""
    criteria = document.get("matching_criteria") or {}
    rules = document.get("rules") or []
    return {
        "name": document.get("name", ""),
        "description": document.get("description", ""),
        "enabled": document.get("enabled", True),
        "actions": criteria.get("actions", list(ACTIONS)),
        "domains": "\n".join(criteria.get("domains", [])),
        "rules": [_rule_row(r.get("action", ""), r.get("fail", "hard"),
                            json.dumps(r.get("values") or {})) for r in rules]
        or [_rule_row()],
    }


def rows_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """Values for re-rendering the form exactly as posted: each rule's values box keeps the
    text that was typed (even when it is not JSON yet), so "+ Add rule", "Remove" and an
    error page never replace what the admin wrote."""
    rules = [_rule_row(action, fail, raw) for action, fail, raw in
             zip(form.getlist("rule_action"), form.getlist("rule_fail"),
                 form.getlist("rule_values"), strict=False)]
    return {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "enabled": form.get("enabled") == "y",
        "actions": [a for a in form.getlist("actions") if a],
        "domains": form.get("domains", ""),
        "rules": rules or [_rule_row()],
    }


def _rule_row(action: str = "", fail: str = "hard", values_text: str = "{}") -> dict[str, str]:
    # `values_text`, not `values`: Jinja's `r.values` would find the dict method first.
    return {"action": action, "fail": fail, "values_text": values_text}

"""Admin → Policies: list, structured form, View raw JSON, enable/disable, delete."""
from __future__ import annotations

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.admin_policies.form import (
    MAX_RULE_ROWS,
    RULE_VALUE_HINTS,
    document_from_form,
    form_rows,
    rows_from_form,
)
from app.domain.choices import ACTIONS
from app.domain.policy import RULE_ACTIONS
from app.domain.roles import Permission
from app.models import PolicyRecord
from app.services import policies
from app.services.errors import ServiceError
from app.services.policies import PolicyInvalid
from app.web.access import require

bp = Blueprint("admin_policies", __name__, url_prefix="/admin/policies")
NEW_DOCUMENT = {"name": "", "description": "", "enabled": True,
                "matching_criteria": {"actions": list(ACTIONS), "domains": []}, "rules": []}


def _get(policy_id: str) -> PolicyRecord:
    return policies.get_policy(policy_id)


def _render_form(rows: dict, record: PolicyRecord | None, errors: list[str],
                 status: int = 200) -> tuple[str, int]:
    return render_template("admin_policies/form.html", rows=rows, record=record,
                           errors=errors, rule_actions=RULE_ACTIONS, hints=RULE_VALUE_HINTS,
                           all_actions=ACTIONS), status


@bp.get("/")
@require(Permission.MANAGE_POLICIES)
def index() -> str:
    return render_template("admin_policies/index.html", records=policies.list_policies())


@bp.route("/new", methods=["GET", "POST"])
@require(Permission.MANAGE_POLICIES)
def create() -> Response | tuple[str, int]:
    return _save(None)


@bp.route("/<policy_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_POLICIES)
def edit(policy_id: str) -> Response | tuple[str, int]:
    return _save(_get(policy_id))


def _save(record: PolicyRecord | None) -> Response | tuple[str, int]:
    if request.method == "GET":
        return _render_form(form_rows(record.document() if record else NEW_DOCUMENT), record, [])
    rows = rows_from_form(request.form)
    nav = request.form.get("nav", "save")
    if nav == "add_rule":
        if len(rows["rules"]) < MAX_RULE_ROWS:
            rows["rules"].append({"action": "", "fail": "hard", "values_text": "{}"})
        return _render_form(rows, record, [])
    if nav.startswith("remove_rule:") and nav.split(":", 1)[1].isdigit():
        position = int(nav.split(":", 1)[1])
        if position < len(rows["rules"]):
            rows["rules"].pop(position)
        rows["rules"] = rows["rules"] or [{"action": "", "fail": "hard", "values_text": "{}"}]
        return _render_form(rows, record, [])
    document, errors = document_from_form(request.form)
    if errors:
        return _render_form(rows, record, errors, 422)
    try:
        if record is None:
            record = policies.create_policy(document, actor=current_user)
        else:
            policies.update_policy(record, document, actor=current_user)
    except PolicyInvalid as exc:
        return _render_form(rows, record if record and record.id else None, exc.errors, 422)
    except ServiceError as exc:
        return _render_form(rows, record, [exc.message], 422)
    flash(f"Saved policy '{record.name}'.", "success")
    return redirect(url_for("admin_policies.index"))


@bp.route("/<policy_id>/raw", methods=["GET", "POST"])
@require(Permission.MANAGE_POLICIES)
def raw(policy_id: str) -> Response | tuple[str, int]:
    record = _get(policy_id)
    text = json.dumps(record.document(), indent=2)
    errors: list[str] = []
    if request.method == "POST":
        text = request.form.get("document", "")
        try:
            policies.update_policy(record, policies.parse_json_text(text), actor=current_user)
        except PolicyInvalid as exc:
            errors = exc.errors
        except ServiceError as exc:
            errors = [exc.message]
        else:
            flash(f"Saved policy '{record.name}' from JSON.", "success")
            return redirect(url_for("admin_policies.raw", policy_id=record.id))
    return render_template("admin_policies/raw.html", record=record, text=text,
                           errors=errors), 422 if errors else 200


@bp.post("/<policy_id>/enabled")
@require(Permission.MANAGE_POLICIES)
def set_enabled(policy_id: str) -> Response:
    record = _get(policy_id)
    policies.set_enabled(record, request.form.get("enabled") == "1", actor=current_user)
    return redirect(url_for("admin_policies.index"))


@bp.post("/<policy_id>/delete")
@require(Permission.MANAGE_POLICIES)
def delete(policy_id: str) -> Response:
    record = _get(policy_id)
    name = record.name
    policies.delete_policy(record, actor=current_user)
    flash(f"Deleted policy '{name}'.", "success")
    return redirect(url_for("admin_policies.index"))

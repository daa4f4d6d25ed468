"""Policy test: evaluate a hypothetical request with the real rules; nothing is recorded."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from app.domain.choices import ACTIONS, ALGORITHMS, DIGESTS, EXTENDED_KEY_USAGES, KEY_USAGES
from app.services.intake import assess, request_from_values
from app.services.requesters import requester_for_user

bp = Blueprint("policy_test", __name__, url_prefix="/policy-test")
FIELDS = ("common_name", "organization", "organizational_unit", "country", "state",
          "locality", "algorithm", "digest", "validity_days")


@bp.route("/", methods=["GET", "POST"])
@login_required
def index() -> str:
    values: dict = {"key_usage": [], "extended_key_usage": [], "sans": []}
    assessment = None
    action = request.form.get("action", ACTIONS[0])
    if request.method == "POST":
        values.update({k: request.form.get(k, "").strip() for k in FIELDS})
        values["sans"] = [s.strip() for s in request.form.get("sans", "").splitlines()
                          if s.strip()][:100]
        values["key_usage"] = request.form.getlist("key_usage")
        values["extended_key_usage"] = request.form.getlist("extended_key_usage")
        parsed, problems = request_from_values(
            values, action=action if action in ACTIONS else ACTIONS[0])
        assessment = assess(parsed, requester_for_user(current_user), problems)
    return render_template("policy_test/index.html", values=values, assessment=assessment,
                           action=action, actions=ACTIONS, algorithms=ALGORITHMS,
                           digests=DIGESTS, key_usages=KEY_USAGES,
                           extended_key_usages=EXTENDED_KEY_USAGES)

"""What each wizard step shows: field values, locks, allowed options and messages.
Templates only branch on what this module prepares."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from werkzeug.datastructures import MultiDict

from app.domain.choices import (
    ALGORITHMS,
    EC_FORBIDDEN_KEY_USAGES,
    EXTENDED_KEY_USAGES,
    KEY_USAGES,
    algorithm_family,
)
from app.domain.defaults import (
    default_algorithm,
    default_digest,
    default_extended_key_usage,
    default_key_usage,
    default_validity,
)
from app.domain.issuer_fit import issuer_digest
from app.domain.issuer_validity import validity_clamp_warning
from app.domain.policy import Enforced, Violation
from app.domain.validation import parse_names
from app.services.intake import Assessment
from app.services.issuers import IssuerChoice, ProviderChoice, issuer_choices, provider_choices
from app.services.wizard import LIST_FIELDS, STEP_FIELDS, STEPS
from app.standards.tls_profile import digest_reason

STEP_TITLES = {"names": "Domain names", "subject": "Subject information",
               "crypto": "Cryptographic options", "review": "Review and submit"}
MAX_SAN_ROWS = 100


def _name_spellings(raw: str) -> set[str]:
    """A SAN as typed and as the platform normalises it (IDNs, IP text, e-mail domain)."""
    text = raw.strip().lower()
    if not text:
        return set()
    _, dns, ips, emails, _ = parse_names("", [text])
    return {text, *dns, *ips, *emails}


def values_from_form(step: str, form: MultiDict[str, str]) -> dict[str, Any]:
    """The step's fields from a POSTed form (lists for repeated fields, blank SAN rows kept
    so the user's row layout survives a re-render)."""
    values: dict[str, Any] = {}
    for key in STEP_FIELDS[step]:
        if key == "sans":
            values[key] = [s.strip() for s in form.getlist("sans")][:MAX_SAN_ROWS]
        elif key in LIST_FIELDS:
            values[key] = [v for v in form.getlist(key) if v]
        elif key in form:
            values[key] = form.get(key, "").strip()
    if step == "crypto":
        _usages_follow_algorithm(values, form)
    return values


def _usages_follow_algorithm(values: dict[str, Any], form: MultiDict[str, str]) -> None:
    """When the algorithm changed and the key usages are still the defaults the page showed
    for the previous one (``usages_default`` / ``usages_for``), derive them again for the
    new algorithm (``app.domain.defaults``). Usages the user changed are kept."""
    algorithm, shown_for = values.get("algorithm", ""), form.get("usages_for", "")
    if algorithm not in ALGORITHMS or not shown_for or algorithm == shown_for:
        return
    if set(values.get("key_usage", [])) == set(form.getlist("usages_default")):
        values["key_usage"] = list(default_key_usage(algorithm_family(algorithm) == "ecdsa"))


@dataclass
class StepView:
    step: str
    values: dict[str, Any]
    assessment: Assessment | None
    issuers: list[IssuerChoice] = field(default_factory=list)
    providers: list[ProviderChoice] = field(default_factory=list)

    @property
    def index(self) -> int:
        return STEPS.index(self.step)

    @property
    def steps(self) -> list[tuple[int, str, str]]:
        return [(i, s, STEP_TITLES[s]) for i, s in enumerate(STEPS)]

    @property
    def enforced(self) -> dict[str, Enforced]:
        return dict(self.assessment.evaluation.enforced) if self.assessment else {}

    def lock(self, name: str) -> Enforced | None:
        return self.enforced.get(name)

    def value(self, name: str, default: Any = "") -> Any:
        locked = self.lock(name)
        if locked is not None and name not in LIST_FIELDS:
            return locked.value
        return self.values.get(name, default) or default

    def errors(self, name: str) -> list[Violation]:
        if not self.assessment:
            return []
        return [v for v in self.assessment.violations if v.field == name and v.severity == "hard"]

    @property
    def general_errors(self) -> list[Violation]:
        if not self.assessment:
            return []
        shown = set(STEP_FIELDS[self.step])
        return [v for v in self.assessment.hard if v.field not in shown]

    @property
    def warnings(self) -> list[Violation]:
        return list(self.assessment.soft) if self.assessment else []

    @property
    def policy_notes(self) -> list[tuple[str, str]]:
        """(policy, description) once per policy with a problem on this page: the
        description explains the policy, so it is not repeated after every violation."""
        if not self.assessment:
            return []
        notes: dict[str, str] = {}
        for v in self.assessment.violations:
            if v.policy and v.description and v.policy not in notes:
                notes[v.policy] = v.description
        return list(notes.items())

    @property
    def blocked(self) -> bool:
        return bool(self.assessment and self.assessment.blocked)

    # ---- step 0 -----------------------------------------------------------------------
    @property
    def san_rows(self) -> list[str]:
        rows = list(self.values.get("sans") or [])
        return rows or [""]

    def san_errors(self, row: int) -> list[Violation]:
        """The SAN problems shown under this row: those naming it, under the first row
        they name (a message about two names appears once, both rows highlighted)."""
        return self._san_placement[0].get(row, [])

    def san_invalid(self, row: int) -> bool:
        return row in self._san_placement[1]

    @property
    def san_general_errors(self) -> list[Violation]:
        """SAN problems about no row in particular (too many, none given, …)."""
        return self._san_placement[2]

    @cached_property
    def _san_placement(self) -> tuple[dict[int, list[Violation]], set[int], list[Violation]]:
        # Violations name the names at fault in ``actual`` (comma-separated, as typed or
        # normalised); each row is matched on both spellings.
        keys = [_name_spellings(raw) for raw in self.san_rows]
        under: dict[int, list[Violation]] = {}
        flagged: set[int] = set()
        general: list[Violation] = []
        for v in self.errors("sans"):
            named = {n.strip().lower() for n in (v.actual or "").split(",") if n.strip()}
            rows = [i for i, spellings in enumerate(keys) if spellings & named]
            if rows:
                under.setdefault(rows[0], []).append(v)
                flagged.update(rows)
            else:
                general.append(v)
        return under, flagged, general

    # ---- step 2 -----------------------------------------------------------------------
    @property
    def allowed(self):
        return self.assessment.evaluation.allowed if self.assessment else None

    @property
    def algorithms(self) -> list[str]:
        return list(self.allowed.algorithms) if self.allowed else []

    @property
    def digests(self) -> list[str]:
        return list(self.allowed.digests) if self.allowed else []

    @property
    def algorithm(self) -> str:
        chosen = self.value("algorithm")
        if chosen:
            return chosen
        return default_algorithm(self.allowed)

    @property
    def digest(self) -> str:
        if self.issuer_digest and not self.lock("digest"):
            return self.issuer_digest
        chosen = self.value("digest")
        return chosen or default_digest(self.allowed)

    @property
    def issuer_digest(self) -> str | None:
        """The only digest the chosen issuing CA signs with (an ECDSA issuer), else None."""
        choice = next((c for c in self.issuers if c.issuer_id == self.issuer_id), None)
        return issuer_digest(choice.algorithm) if choice else None

    @property
    def issuer_digest_reason(self) -> str:
        choice = next((c for c in self.issuers if c.issuer_id == self.issuer_id), None)
        bits = int((choice.algorithm or "-0").split("-")[1]) if choice else 0
        return digest_reason(bits) if self.issuer_digest else ""

    @property
    def validity(self) -> Any:
        chosen = self.value("validity_days")
        if chosen not in ("", None):
            return chosen
        return default_validity(self.allowed)

    @property
    def algorithm_notes(self) -> list[tuple[str, str]]:
        """(policy, reason) for each policy rule that took algorithms off the list, unless
        a policy locks one exact algorithm (the lock note says that already)."""
        if not self.allowed or self.lock("algorithm"):
            return []
        return list(self.allowed.algorithm_limits)

    @property
    def is_ec(self) -> bool:
        return (self.algorithm in self.algorithms and algorithm_family(self.algorithm) == "ecdsa") \
            or self.algorithm.startswith("ec-")

    def usage_rows(self, kind: str, defaults: bool = False) -> list[dict[str, Any]]:
        """Checkbox rows for key usage / extended key usage with lock and EC state
        (``defaults``: as they would be if the user had not chosen any)."""
        names = KEY_USAGES if kind == "key_usage" else EXTENDED_KEY_USAGES
        required = set(self.lock(kind).value) if self.lock(kind) else set()
        chosen = None if defaults else self.values.get(kind)
        if chosen is None:
            chosen = self._default_usages(kind)
        rows = []
        for name in names:
            ec_blocked = kind == "key_usage" and self.is_ec and name in EC_FORBIDDEN_KEY_USAGES
            rows.append({"name": name, "checked": (name in chosen or name in required)
                         and not ec_blocked, "locked": name in required,
                         "ec_blocked": ec_blocked,
                         "policy": self.lock(kind).policy if name in required else None})
        return rows

    @property
    def default_key_usage_shown(self) -> list[str]:
        """The key usages the page would tick by default for the algorithm shown (locked
        ones included): posted back, they tell an untouched default from a choice."""
        return [row["name"] for row in self.usage_rows("key_usage", defaults=True)
                if row["checked"]]

    def _default_usages(self, kind: str) -> list[str]:
        if kind == "extended_key_usage":
            return list(default_extended_key_usage())
        return list(default_key_usage(self.is_ec))

    @property
    def validity_warning(self) -> Violation | None:
        """``validity.clamped_to_issuer`` for the issuer and validity shown now, beside the
        validity field (unless the step's messages already carry it)."""
        if any(v.code == "validity.clamped_to_issuer" for v in self.warnings):
            return None
        choice = next((c for c in self.issuers if c.issuer_id == self.issuer_id), None)
        try:
            days = int(str(self.validity).strip())
        except ValueError:
            return None
        if choice is None:
            return None
        return validity_clamp_warning(days, f"'{choice.name}'", choice.not_after,
                                      datetime.now(UTC))

    @property
    def provider(self) -> ProviderChoice | None:
        """The chosen active provider, else the first offered (the Local PKI)."""
        chosen = self.values.get("provider_id") or (self.request.provider_id
                                                    if self.request else None)
        for choice in self.providers:
            if choice.id == chosen:
                return choice
        return self.providers[0] if self.providers else None

    def honours(self, name: str) -> bool:
        """Whether the chosen provider takes ``name`` from the request (an ACME CA
        decides subject, digest, validity and usages itself)."""
        return self.provider is None or self.provider.profile.honours(name)

    @property
    def issuer_id(self) -> str:
        chosen = self.values.get("issuer_id")
        ids = [c.issuer_id for c in self.issuers]
        return chosen if chosen in ids else (ids[0] if ids else "")

    # ---- step 3 -----------------------------------------------------------------------
    @property
    def request(self):
        return self.assessment.request if self.assessment else None

    def issuer_label(self, issuer_id: str | None) -> str:
        for choice in self.issuers or issuer_choices():
            if choice.issuer_id == issuer_id:
                return choice.label
        return "—"

    def provider_label(self, provider_id: str | None, issuer_id: str | None) -> str:
        for choice in self.providers or provider_choices():
            if choice.id == provider_id:
                return f"{choice.name} — {self.issuer_label(issuer_id)}" \
                    if choice.is_builtin else choice.name
        return "—"

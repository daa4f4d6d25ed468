"""What each wizard step shows: field values, locks, allowed options and messages.
Templates only branch on what this module prepares."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from app.domain.choices import (
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
from app.domain.policy import Enforced, Violation
from app.services.intake import Assessment
from app.services.issuers import IssuerChoice, ProviderChoice, issuer_choices, provider_choices
from app.services.wizard import LIST_FIELDS, STEP_FIELDS, STEPS

STEP_TITLES = {"names": "Domain names", "subject": "Subject information",
               "crypto": "Cryptographic options", "review": "Review and submit"}
MAX_SAN_ROWS = 100


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
    return values


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
    def blocked(self) -> bool:
        return bool(self.assessment and self.assessment.blocked)

    # ---- step 0 -----------------------------------------------------------------------
    @property
    def san_rows(self) -> list[str]:
        rows = list(self.values.get("sans") or [])
        return rows or [""]

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
        chosen = self.value("digest")
        return chosen or default_digest(self.allowed)

    @property
    def validity(self) -> Any:
        chosen = self.value("validity_days")
        if chosen not in ("", None):
            return chosen
        return default_validity(self.allowed)

    @property
    def is_ec(self) -> bool:
        return (self.algorithm in self.algorithms and algorithm_family(self.algorithm) == "ecdsa") \
            or self.algorithm.startswith("ec-")

    def usage_rows(self, kind: str) -> list[dict[str, Any]]:
        """Checkbox rows for key usage / extended key usage with lock and EC state."""
        names = KEY_USAGES if kind == "key_usage" else EXTENDED_KEY_USAGES
        required = set(self.lock(kind).value) if self.lock(kind) else set()
        chosen = self.values.get(kind)
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

    def _default_usages(self, kind: str) -> list[str]:
        if kind == "extended_key_usage":
            return list(default_extended_key_usage())
        return list(default_key_usage(self.is_ec))

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

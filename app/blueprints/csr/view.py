"""What the CSR upload page shows. It reuses the wizard's StepView for the certificate
options (locks, allowed values, usage rows), with the algorithm fixed by the CSR's key."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.blueprints.wizard.view import StepView
from app.domain.choices import algorithm_for_key
from app.domain.policy import Violation
from app.models import Certificate
from app.services.intake import SUBJECT_FIELDS, Assessment, ParsedCSR
from app.services.issuers import issuer_choices

# Fields whose problems are shown next to their control in the options form.
INLINE_FIELDS = ("issuer_id", "digest", "validity_days", "key_usage", "extended_key_usage")
SUBJECT_LABELS = {"organization": "Organisation (O)",
                  "organizational_unit": "Organisational unit (OU)", "country": "Country (C)",
                  "state": "State or province (ST)", "locality": "Locality (L)"}
CURVE_LABELS = {256: "P-256", 384: "P-384", 521: "P-521"}


@dataclass
class CsrView(StepView):
    parsed: ParsedCSR | None = None
    input_errors: list[Violation] = field(default_factory=list)
    echo: str = ""                       # pasted text shown again after a refusal
    renewal: Certificate | None = None   # the certificate this CSR renews, if any

    @classmethod
    def blank(cls, errors: list[Violation] | None = None, echo: str = "",
              renewal: Certificate | None = None) -> CsrView:
        return cls("csr", {}, None, parsed=None, input_errors=list(errors or []), echo=echo,
                   renewal=renewal)

    @classmethod
    def checked(cls, parsed: ParsedCSR, options: dict[str, Any] | None,
                assessment: Assessment, renewal: Certificate | None = None) -> CsrView:
        return cls("csr", dict(options or {}), assessment, issuer_choices(), parsed=parsed,
                   renewal=renewal)

    def default_options(self) -> dict[str, Any]:
        """The options the form offers before the user chose any (policy-aware)."""
        return {"issuer_id": self.issuer_id, "digest": self.digest,
                "validity_days": str(self.validity),
                **{kind: [row["name"] for row in self.usage_rows(kind) if row["checked"]]
                   for kind in ("key_usage", "extended_key_usage")}}

    # ---- the key is the CSR's --------------------------------------------------------
    @property
    def algorithm(self) -> str:
        if self.parsed is None:
            return ""
        return algorithm_for_key(self.parsed.key_family, self.parsed.key_bits) or ""

    @property
    def key_label(self) -> str:
        p = self.parsed
        if p is None:
            return ""
        if p.key_family == "ecdsa":
            return f"ECDSA {CURVE_LABELS.get(p.key_bits, f'{p.key_bits}-bit')} ({p.curve})"
        return f"{p.key_family.upper()} {p.key_bits}-bit"

    # ---- what was read ---------------------------------------------------------------
    @property
    def common_name(self) -> str:
        return self.parsed.subject.get("common_name", "") if self.parsed else ""

    def subject_rows(self) -> list[dict[str, Any]]:
        """Each subject field: the value the certificate gets (an enforced value replaces
        the CSR's), the CSR's own value, and the lock."""
        rows = []
        for name in SUBJECT_FIELDS:
            asked = self.parsed.subject.get(name) if self.parsed else None
            lock = self.lock(name)
            value = lock.value if lock else (getattr(self.request, name, None)
                                             if self.request else asked)
            rows.append({"name": name, "label": SUBJECT_LABELS[name], "value": value,
                         "asked": asked, "lock": lock,
                         "replaced": bool(lock and asked and asked != lock.value)})
        return rows

    # ---- messages --------------------------------------------------------------------
    @property
    def general_errors(self) -> list[Violation]:
        shown = set(INLINE_FIELDS)
        hard = [v for v in self.assessment.hard if v.field not in shown] \
            if self.assessment else []
        return [*self.input_errors, *hard]

"""Domain-pattern matching for policies' ``matching_criteria`` (SPEC 3).

The semantics are documented in :mod:`app.domain.policy` ("Pattern
semantics"), which re-exports :func:`pattern_base` and :func:`pattern_matches`.
The private helpers are shared with the rule handlers and the policy index.
"""

from __future__ import annotations

__all__ = ["pattern_base", "pattern_matches"]


def _canon(name: str) -> str:
    # Names and patterns are normalised upstream; folding case and one
    # trailing dot here costs nothing and keeps the oracle and index agreeing.
    return name.lower().removesuffix(".")


def _under(name: str, base: str) -> bool:
    return bool(base) and (name == base or name.endswith("." + base))


def _parent(name: str) -> str:
    return name.partition(".")[2]


def pattern_base(pattern: str) -> str:
    """The domain a pattern is about: ``*.example.com`` and ``example.com`` → ``example.com``."""
    return _canon(pattern).removeprefix("*.")


def pattern_matches(pattern: str, name: str) -> bool:
    """True when the requested DNS ``name`` falls under ``pattern`` (see
    :mod:`app.domain.policy` docs).

    Both are expected normalised; IP literals and e-mail addresses never match
    a pattern in practice because patterns are DNS names.  Never raises.
    """
    p, n = _canon(pattern), _canon(name)
    if not p or not n or p == "*." or n == "*.":
        return False
    if n.startswith("*."):
        base = n[2:]
        if p.startswith("*."):
            return _under(base, p[2:]) or _parent(p[2:]) == base
        return _parent(p) == base
    if p.startswith("*."):
        return _under(n, p[2:])
    return n == p

"""Domain-layer errors.

Every rule violation detected by ``app.domain`` is raised as a subclass of
:class:`DomainError`.  Each error carries:

* ``message`` -- a complete, human-readable sentence that can be shown to the
  user as-is (``str(err)`` returns it too);
* ``code`` -- a stable, dotted machine identifier (``"name.too_long"``) that
  callers, APIs and tests match on.  Codes are part of the public contract:
  never rename one, only add new ones.

Adding an error: subclass :class:`DomainError` (or a more specific class),
take whatever context you need in ``__init__``, call
``super().__init__(message, code=code)`` and then set ``self.args`` to the
positional arguments of your ``__init__`` so that the exception survives
pickling (background jobs may pickle exceptions across processes).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["DomainError", "InvalidName", "PolicyDocumentError"]


class DomainError(Exception):
    """Root of every business-rule violation raised by ``app.domain``.

    Catch this at the web/API boundary to turn any domain failure into a
    user-facing message (``err.message``) plus machine code (``err.code``).
    """

    #: Code used when a subclass or caller does not supply a specific one.
    default_code: ClassVar[str] = "domain.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message: str = message
        self.code: str = code if code is not None else self.default_code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidName(DomainError):
    """A domain name, requested certificate name or IP network was refused.

    ``name`` is the raw input exactly as received (before stripping or
    normalisation), so callers can re-display the user's own text next to the
    message.  ``code`` is always one of :attr:`CODES`.
    """

    default_code: ClassVar[str] = "name.invalid_label"

    #: Every code this error may carry.  Closed on purpose: a typo in a code
    #: would silently break callers that match on it, so unknown codes are
    #: rejected at construction time.
    CODES: ClassVar[frozenset[str]] = frozenset(
        {
            # DNS names (domain entries and requested certificate names)
            "name.empty",  # nothing but whitespace
            "name.empty_label",  # "a..b", ".example.com"
            "name.invalid_label",  # character outside letters/digits/hyphen
            "name.invalid_hyphen",  # leading/trailing hyphen, reserved "ab--"
            "name.invalid_idn",  # IDNA refused the label (bad punycode, ...)
            "name.label_too_long",  # a label over 63 octets in A-label form
            "name.too_long",  # whole name over 253 octets in A-label form
            "name.single_label",  # "localhost"
            "name.numeric_tld",  # last label all digits ("a.123")
            "name.ip_address",  # an IP literal where a DNS name is expected
            "name.wildcard_not_allowed",  # any "*" in a domain entry
            "name.wildcard_misplaced",  # "f*o.example.com", "a.*.example.com"
            "name.wildcard_too_broad",  # "*", "*.com"
            # IP network entries
            "network.empty",
            "network.invalid",
            "network.host_bits_set",
        }
    )

    def __init__(self, name: str, message: str, code: str) -> None:
        if code not in self.CODES:
            raise ValueError(f"unknown InvalidName code: {code!r}")
        super().__init__(message, code=code)
        self.name: str = name
        # Keep args aligned with __init__'s signature so pickle can rebuild us.
        self.args = (name, message, code)


class PolicyDocumentError(DomainError):
    """A policy JSON document (or a file of them) was refused.

    ``errors`` lists *every* problem found, each a sentence starting with the
    JSON path at fault (``"rules[2].action: unknown rule action ..."``), so an
    admin can fix a document in one round.  ``message`` summarises them.
    """

    default_code: ClassVar[str] = "policy.invalid_document"

    def __init__(self, errors: list[str]) -> None:
        errors = list(errors) or ["the policy document is not valid"]
        count = len(errors)
        summary = f"The policy document has {count} problem{'s' if count > 1 else ''}: "
        super().__init__(summary + "; ".join(errors) + ".")
        self.errors: list[str] = errors
        self.args = (errors,)

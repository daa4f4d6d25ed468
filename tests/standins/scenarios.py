"""What a stand-in CA does with an order, chosen by the first label of its common name
(``pending.example.test`` waits a few polls), so one server serves every case at once:

- ``issued`` (any other label): issued at once;
- ``pending`` / ``poll``: pending validation for ``pending_polls`` checks, then issued;
- ``rejected`` / ``refused``: the CA rejects it (DigiCert: after validation; GlobalSign:
  on the request, as Atlas validates against its policy at once);
- ``ratelimited``: 429 with ``Retry-After: 17``; ``unavailable``: 503;
- ``malformed``: 2xx with a body that is not JSON;
- ``wrongkey``: a certificate for another key; ``wrongnames``: one with a name added.

A wrong API key gets 401 (the CA's own error shape). ``outage`` set on the server answers
every request with it (a CA down for maintenance) until cleared.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509

SCENARIOS = ("issued", "pending", "rejected", "ratelimited", "unavailable", "malformed",
             "wrongkey", "wrongnames")
EXTRA_NAME = "unrequested.example.test"
ALIASES = {"poll": "pending", "refused": "rejected"}
RETRY_AFTER = "17"


def scenario_of(common_name: str) -> str:
    label = (common_name or "").split(".", 1)[0].lower()
    label = ALIASES.get(label, label)
    return label if label in SCENARIOS else "issued"


@dataclass
class StoredOrder:
    id: int
    scenario: str
    common_name: str
    dns_names: list[str]
    ip_addresses: list[str]
    public_key: object
    days: int
    polls_left: int = 0
    certificate: x509.Certificate | None = None
    revoked: bool = False
    revoke_reason: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

"""What each key wrapped under the key-encryption key is bound to (authenticated as
associated data): a wrapped key copied into another row does not decrypt there."""
from __future__ import annotations

import uuid


def ca_key_binding(ca_id: uuid.UUID) -> bytes:
    return f"ca:{ca_id}".encode()


def certificate_key_binding(certificate_id: uuid.UUID) -> bytes:
    return f"certificate:{certificate_id}".encode()


def pending_key_binding(order_id: uuid.UUID) -> bytes:
    """A platform-made key kept on an order while it waits on an external CA."""
    return f"order:{order_id}:key".encode()


def account_key_binding(provider_id: uuid.UUID) -> bytes:
    """A provider's CA account key (ACME)."""
    return f"provider:{provider_id}:account-key".encode()

"""How a network endpoint is written for people."""
from __future__ import annotations


def endpoint_of(host: str, port: int) -> str:
    """``host:port`` as people write it (an IPv6 address in brackets)."""
    return f"{f'[{host}]' if ':' in host else host}:{port}"

"""Discovery jobs: thin (an id in, one service call; see ``services/discovery_scan``)."""
from __future__ import annotations

from app.services import discovery_scan


def run_discovery_scan(scan_id: str) -> str:
    """Probe a scan's endpoints and record what they serve (safe to run twice)."""
    return discovery_scan.run_scan(scan_id)

"""Small helpers shared by browser tests."""
from __future__ import annotations

from playwright.sync_api import Page


def csp_refusals(page: Page) -> list[str]:
    """Everything the browser refuses under the Content-Security-Policy (reported on the
    console) and every script error, from now on."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text)
            if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: found.append(f"script error: {e}"))
    return found

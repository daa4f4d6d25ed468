"""Where tests find external programs: next to the running interpreter (the console
scripts of whatever environment runs the tests), then on PATH. Never a fixed venv path."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def find_tool(name: str) -> str:
    """The path of the program ``name``; fails the calling test clearly when it is missing."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name} is neither next to {sys.executable} nor on PATH")
    return found

"""Import direction (docs/architecture.md): the pure packages import nothing of the web."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
RULES = {
    "domain": ("flask", "sqlalchemy", "app.models", "app.services", "app.blueprints",
               "app.pki", "app.providers", "app.jobs", "app.web", "werkzeug", "rq", "redis"),
    "pki": ("flask", "sqlalchemy", "app.models", "app.services", "app.blueprints",
            "app.domain", "app.providers", "app.jobs", "app.web", "werkzeug", "rq", "redis"),
    # Standards data shared by domain and pki: imports nothing of the application.
    "standards": ("flask", "sqlalchemy", "app"),
    "providers": ("flask", "app.models", "app.services", "app.blueprints", "app.web"),
    "services": ("app.blueprints", "app.web"),
    "models": ("app.services", "app.blueprints", "app.web", "app.jobs"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_imports_follow_the_dependency_rule(package: str) -> None:
    offenders = []
    for path in sorted((APP / package).rglob("*.py")):
        for name in _imports(path):
            if any(name == banned or name.startswith(banned + ".") for banned in RULES[package]):
                offenders.append(f"{path.relative_to(APP)} imports {name}")
    assert offenders == []


def test_only_the_keyring_module_reads_the_key_encryption_key() -> None:
    readers = [str(p.relative_to(APP)) for p in APP.rglob("*.py")
               if "KEY_ENCRYPTION_KEYS" in p.read_text()]
    assert readers == ["services/keyring.py"]


def test_no_create_all_outside_tests() -> None:
    assert not [p for p in APP.rglob("*.py") if "create_all(" in p.read_text()]

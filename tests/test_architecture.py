"""Import direction (docs/architecture.md), held for every package, every import — also
those inside functions, which is where an import cycle hides.

    blueprints ─┐
    cli ────────┼─> services ─> domain, pki, providers, net, models
    jobs ───────┘      │
                       └─> jobs.enqueue / jobs.queue only (work is handed over by name)
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"
WEB = ("flask", "werkzeug", "flask_login", "flask_wtf", "wtforms")
RULES = {
    "domain": (*WEB, "sqlalchemy", "app.models", "app.services", "app.blueprints",
               "app.pki", "app.providers", "app.net", "app.jobs", "app.web", "app.extensions",
               "rq", "redis", "requests"),
    "pki": (*WEB, "sqlalchemy", "app.models", "app.services", "app.blueprints",
            "app.domain", "app.providers", "app.net", "app.jobs", "app.web", "app.extensions",
            "rq", "redis", "requests"),
    "net": (*WEB, "sqlalchemy", "app.models", "app.services", "app.blueprints",
            "app.domain", "app.pki", "app.providers", "app.jobs", "app.web", "app.extensions",
            "rq", "redis"),
    "providers": (*WEB, "sqlalchemy", "app.models", "app.services", "app.blueprints",
                  "app.web", "app.jobs", "app.extensions", "rq", "redis"),
    "models": ("app.services", "app.blueprints", "app.web", "app.jobs", "app.providers",
               "app.net"),
    # Views neither query nor commit nor touch keys: they call services.
    "blueprints": ("app.extensions", "app.pki", "sqlalchemy", "app.jobs", "app.providers",
                   "app.net", "rq", "redis"),
    "web": ("app.pki", "sqlalchemy", "app.jobs", "app.providers", "app.net", "app.blueprints"),
    # Jobs are thin: an id in, one service call.
    "jobs": ("app.models", "app.extensions", "sqlalchemy", "app.pki", "app.providers",
             "app.net", "app.domain", "app.blueprints", "app.web", "app.cli"),
    "cli": ("sqlalchemy", "app.pki", "app.providers", "app.net", "app.jobs", "app.blueprints",
            "app.web"),
    # Standards data shared by domain and pki: imports nothing of the application.
    "standards": (*WEB, "sqlalchemy", "app"),
    "services": ("app.blueprints", "app.web", "app.cli"),
}
#: The only modules of ``app.jobs`` a service may import: both import no service.
SERVICE_JOB_MODULES = {"app.jobs.enqueue", "app.jobs.queue"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names
                         if node.module == "app.jobs")
    return names


def _banned(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == banned or name.startswith(banned + ".") for banned in prefixes)


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_imports_follow_the_dependency_rule(package: str) -> None:
    offenders = []
    for path in sorted((APP / package).rglob("*.py")):
        for name in _imports(path):
            if _banned(name, RULES[package]):
                offenders.append(f"{path.relative_to(APP)} imports {name}")
    assert offenders == []


def test_services_hand_work_to_jobs_only_by_name() -> None:
    offenders = [f"{path.relative_to(APP)} imports {name}"
                 for path in sorted((APP / "services").rglob("*.py"))
                 for name in _imports(path)
                 if _banned(name, ("app.jobs",)) and name not in SERVICE_JOB_MODULES]
    assert offenders == []


def test_the_enqueue_module_imports_no_service_and_names_every_job() -> None:
    from app.jobs import enqueue

    assert not [n for n in _imports(APP / "jobs" / "enqueue.py") if _banned(n, ("app.services",))]
    assert not [n for n in _imports(APP / "jobs" / "queue.py") if _banned(n, ("app.services",))]
    import importlib

    for dotted in (*enqueue.JOBS.values(), *enqueue.CALLBACKS.values()):
        module, _, function = dotted.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function)), dotted


def test_job_functions_are_thin() -> None:
    """Every job function's body is one service call (plus its docstring and, for the
    failure callback, the retry check)."""
    fat = []
    for path in sorted((APP / "jobs").glob("*.py")):
        if path.name in ("__init__.py", "queue.py", "enqueue.py", "worker.py",
                         "scheduler_thread.py"):
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef):
                statements = [s for s in node.body if not (
                    isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
                if len(statements) > 3:
                    fat.append(f"{path.name}:{node.name}")
    assert fat == []


def test_only_the_keyring_module_reads_the_key_encryption_key() -> None:
    readers = [str(p.relative_to(APP)) for p in APP.rglob("*.py")
               if "KEY_ENCRYPTION_KEYS" in p.read_text()]
    assert readers == ["services/keyring.py"]


def test_no_create_all_outside_tests() -> None:
    assert not [p for p in APP.rglob("*.py") if "create_all(" in p.read_text()]


def test_outbound_http_goes_through_the_guarded_session() -> None:
    """No module calls ``requests`` directly except the guarded session itself (and the
    ACME network layer, which plugs that session into the acme library, and the REST
    client of the commercial CAs, which sends through that session and reads requests'
    exception types)."""
    allowed = {"net/outbound.py", "providers/acme_net.py", "providers/rest.py"}
    direct = [str(p.relative_to(APP)) for p in APP.rglob("*.py")
              if str(p.relative_to(APP)) not in allowed
              and any(_banned(n, ("requests", "urllib3", "httpx")) for n in _imports(p))]
    assert direct == []

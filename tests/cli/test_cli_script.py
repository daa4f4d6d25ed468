"""The operator CLI as a provisioning script uses it.

On a fresh database (a new PostgreSQL database when ``TEST_DATABASE_URL`` names a
PostgreSQL server, else a new SQLite file), real ``flask`` subprocesses run
``db upgrade``, ``users create-admin``, ``domains add``, ``pki create-root`` and
``create-intermediate`` (with a real ``worker.py`` running) and print JSON; each command
refuses bad input with exit code 2, a clear message on stderr, and writes nothing.

The tests below are the steps of one script and run in file order on one module-scoped
database, Redis queue and worker.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql
from redis import Redis
from sqlalchemy import MetaData, Table, create_engine, func, inspect, select
from sqlalchemy.engine import make_url

from app.pki.key_encryption import KeyEncryptionKeyring
from tests.e2e.rq_worker import ROOT, WorkerProcess
from tests.tools import find_tool

FLASK = [find_tool("flask")]  # the console script an operator runs
ADMIN_PASSWORD = "ops-password-long-enough"
CLI_FAILURE = 2  # app/cli: a refused command exits with 2


# ---- fixtures: a fresh database, the environment a script would set, a worker ------------

@pytest.fixture(scope="module")
def fresh_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database nobody has touched: no schema until ``flask db upgrade`` makes it."""
    server = os.environ.get("TEST_DATABASE_URL", "")
    if not server.startswith("postgres"):
        yield f"sqlite:///{tmp_path_factory.mktemp('cli-db') / 'cli.db'}"
        return
    url = make_url(server)
    name = f"cli_{uuid.uuid4().hex[:12]}"
    maintenance = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(drivername="postgresql+psycopg", database=name) \
            .render_as_string(hide_password=False)
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(name)))


@dataclass(frozen=True)
class Refusal:
    """A ``--json`` command that must be refused: exit 2, nothing on stdout, and a JSON
    error on stderr with a stable ``code`` and a message containing ``message``."""

    args: tuple[str, ...]
    code: str
    message: str
    stdin: str | None = None


@dataclass
class Cli:
    env: dict[str, str]

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*FLASK, *args], cwd=ROOT, env=self.env, input=stdin,
                              capture_output=True, text=True, timeout=120, check=False)

    def json(self, *args: str, stdin: str | None = None) -> Any:
        """Run a command that must succeed and print JSON; return the parsed JSON."""
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, _describe(args, result)
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"stdout is not JSON\n{_describe(args, result)}")

    def assert_refused(self, *refusals: Refusal) -> None:
        """Run the refusals (concurrently: each is a separate process start of ~1 s) and
        check each one, then that the database is exactly as before."""
        before = self.row_counts()
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as pool:
            results = list(pool.map(
                lambda r: self.run(*r.args, "--json", stdin=r.stdin), refusals))
        for refusal, result in zip(refusals, results, strict=True):
            described = _describe(refusal.args, result)
            assert result.returncode == CLI_FAILURE, described
            assert result.stdout == "", described
            error = json.loads(result.stderr.strip().splitlines()[-1])["error"]
            assert error["code"] == refusal.code, described
            assert refusal.message in error["message"], described
        assert self.row_counts() == before, "a refused command wrote to the database"

    def row_counts(self) -> dict[str, int]:
        """Rows per table (users, domains, CAs, audit events, ...), read directly; without
        the tables the running worker's scheduler writes on its own schedule."""
        engine = create_engine(self.env["DATABASE_URL"])
        try:
            with engine.connect() as conn:
                return {table: conn.execute(select(func.count()).select_from(
                            Table(table, MetaData(), autoload_with=conn))).scalar_one()
                        for table in inspect(conn).get_table_names()
                        if table not in SCHEDULER_TABLES}
        finally:
            engine.dispose()


#: Written by the worker's periodic tasks (services/scheduler.py), not by commands.
SCHEDULER_TABLES = frozenset({"task_runs", "crls", "ocsp_responses"})


def _describe(args: tuple[str, ...], result: subprocess.CompletedProcess[str]) -> str:
    return (f"flask {' '.join(args)} -> exit {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr[-3000:]}")


@pytest.fixture(scope="module")
def cli(fresh_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    instance = tmp_path_factory.mktemp("cli") / "instance"
    instance.mkdir()
    env = {**os.environ,
           "FLASK_APP": "app",
           "DATABASE_URL": fresh_database_url,
           "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
           "RQ_QUEUE": f"cli-{uuid.uuid4().hex[:12]}",
           "SECRET_KEY": secrets.token_urlsafe(48),
           "KEY_ENCRYPTION_KEYS": KeyEncryptionKeyring.generate_spec("clikek"),
           "INSTANCE_PATH": str(instance)}
    yield Cli(env)
    with Redis.from_url(env["REDIS_URL"]) as redis:
        keys = list(redis.scan_iter(match=f"*{env['RQ_QUEUE']}*"))
        if keys:
            redis.delete(*keys)


@pytest.fixture(scope="module")
def worker(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    process = WorkerProcess(cli.env, tmp_path_factory.mktemp("cli-worker") / "worker.log")
    process.start()
    yield process
    process.stop()


# ---- the script, step by step -------------------------------------------------------------

def test_db_upgrade_builds_the_schema_on_a_fresh_database(cli: Cli) -> None:
    assert cli.row_counts() == {}, "the database should be fresh"
    upgrade = cli.run("db", "upgrade")
    assert upgrade.returncode == 0, _describe(("db", "upgrade"), upgrade)
    assert "Running upgrade" in upgrade.stderr
    tables = cli.row_counts()
    assert {"alembic_version", "users", "domains", "certificate_authorities"} <= set(tables)
    # A fresh database holds only the migration's version and the seeded Local PKI provider.
    assert {t: n for t, n in tables.items() if n} == {"alembic_version": 1,
                                                       "certificate_providers": 1}
    assert cli.json("users", "list", "--json") == []


def test_create_admin_reads_the_password_from_stdin(cli: Cli) -> None:
    admin = cli.json("users", "create-admin", "--email", "ops@example.com",
                     "--password-stdin", "--json", stdin=ADMIN_PASSWORD + "\n")
    assert admin["email"] == "ops@example.com"
    assert admin["role"] == "super_admin"
    assert admin["enabled"] is True
    assert "one_time_password" not in admin  # the script chose the password


def test_create_admin_refuses_bad_input(cli: Cli) -> None:
    password = ADMIN_PASSWORD + "\n"
    cli.assert_refused(
        Refusal(("users", "create-admin", "--email", "ops2@example.com", "--password-stdin"),
                "password.too_short", "Password must be at least 12 characters",
                stdin="too-short\n"),
        Refusal(("users", "create-admin", "--email", "not-an-address", "--password-stdin"),
                "email.invalid", "Not a valid e-mail address", stdin=password),
        Refusal(("users", "create-admin", "--email", "OPS@example.com", "--password-stdin"),
                "user.duplicate", "A user with e-mail ops@example.com already exists",
                stdin=password),
    )


def test_domains_add_normalises_names_and_networks(cli: Cli) -> None:
    domain = cli.json("domains", "add", "Example.COM.", "--json")
    assert domain["name"] == "example.com"
    assert domain["kind"] == "dns"
    assert domain["enabled"] is True
    network = cli.json("domains", "add", "10.1.0.0/16", "--json")
    assert network["name"] == "10.1.0.0/16"
    assert network["kind"] == "network"


def test_domains_disable_enable_and_list(cli: Cli) -> None:
    assert cli.json("domains", "disable", "example.com", "--json")["enabled"] is False
    assert cli.json("domains", "enable", "example.com", "--json")["enabled"] is True
    listed = {d["name"]: d for d in cli.json("domains", "list", "--json")}
    assert set(listed) == {"example.com", "10.1.0.0/16"}
    assert listed["example.com"]["kind"] == "dns"
    assert listed["example.com"]["enabled"] is True
    assert listed["10.1.0.0/16"]["kind"] == "network"


def test_domains_refuse_bad_input(cli: Cli) -> None:
    cli.assert_refused(
        Refusal(("domains", "add", "bad_name.com"), "name.invalid_label",
                "'bad_name.com' is not a valid domain name"),
        Refusal(("domains", "add", "*.example.com"), "name.wildcard_not_allowed",
                "Wildcard entries are not allowed: register 'example.com'"),
        Refusal(("domains", "add", "10.0.0.5/24"), "network.host_bits_set",
                "has host bits set; did you mean 10.0.0.0/24?"),
        Refusal(("domains", "add", "EXAMPLE.com"), "domain.duplicate",
                "example.com is already registered"),
        Refusal(("domains", "enable", "nosuch.example"), "domain.unknown",
                "Domain 'nosuch.example' is not registered"),
    )
    # Without --json, a person gets the same message as one "Error:" line.
    human = cli.run("domains", "add", "bad_name.com")
    assert human.returncode == CLI_FAILURE and human.stdout == ""
    assert human.stderr.startswith("Error: 'bad_name.com' is not a valid domain name")


def test_pki_create_root_waits_for_the_worker(cli: Cli, worker: WorkerProcess) -> None:
    root = cli.json("pki", "create-root", "--cn", "CLI Root", "--org", "CLI Org",
                    "--country", "DE", "--timeout", "60", "--json")
    assert root["status"] == "active", root
    assert root["kind"] == "root"
    assert root["common_name"] == "CLI Root"
    assert root["parent_id"] is None
    assert root["error"] is None
    assert root["serial"] and root["fingerprint_sha256"] and root["not_after"]


def test_pki_create_intermediate_under_the_root(cli: Cli, worker: WorkerProcess) -> None:
    issuing = cli.json("pki", "create-intermediate", "--root", "CLI Root", "--cn",
                       "CLI Issuing", "--algorithm", "rsa-2048", "--digest", "sha384",
                       "--org", "CLI Org", "--country", "DE",
                       "--timeout", "60", "--json")
    assert issuing["status"] == "active", issuing
    assert issuing["kind"] == "intermediate"
    assert issuing["common_name"] == "CLI Issuing"
    assert (issuing["algorithm"], issuing["digest"]) == ("rsa-2048", "sha384")
    assert issuing["error"] is None
    assert issuing["serial"] and issuing["fingerprint_sha256"]


def test_pki_list_shows_both(cli: Cli) -> None:
    listed = {ca["common_name"]: ca for ca in cli.json("pki", "list", "--json")}
    assert set(listed) == {"CLI Root", "CLI Issuing"}
    root, issuing = listed["CLI Root"], listed["CLI Issuing"]
    assert (root["kind"], issuing["kind"]) == ("root", "intermediate")
    assert root["status"] == issuing["status"] == "active"
    assert issuing["parent_id"] == root["id"]
    assert issuing["not_after"] <= root["not_after"]


def test_pki_refuses_bad_input(cli: Cli, worker: WorkerProcess) -> None:
    cli.assert_refused(
        Refusal(("pki", "create-root", "--cn", "X"), "ca.common_name_length",
                "Common name must be 3 to 64 characters"),
        Refusal(("pki", "create-root", "--cn", "CLI Root 2", "--country", "GBR"),
                "ca.subject", "Country must be an ISO 3166-1 two-letter code"),
        Refusal(("pki", "create-root", "--cn", "CLI Root 2", "--validity-days", "0"),
                "ca.validity", "Validity must be 1 to 9125 days"),
        Refusal(("pki", "create-root", "--cn", "cli root"), "ca.duplicate",
                "A CA named 'cli root' already exists"),
        Refusal(("pki", "create-intermediate", "--root", "No Such Root", "--cn", "Orphan CA"),
                "ca.parent_unknown", "No root CA 'No Such Root'"),
        Refusal(("pki", "create-root", "--cn", "CLI Root 3"), "ca.subject_required",
                "An organisation (O) is required for a CA"),
        Refusal(("pki", "create-root", "--cn", "CLI Root 3", "--org", "O", "--country", "DE",
                 "--algorithm", "ec-256", "--digest", "sha384"), "ca.digest_curve",
                "A root of ECDSA P-256 signs with SHA-256"),
    )


def test_users_create_with_a_domain_prints_a_one_time_password(cli: Cli) -> None:
    user = cli.json("users", "create", "--email", "u@example.com", "--role", "user",
                    "--domain", "example.com", "--json")
    assert user["email"] == "u@example.com"
    assert user["role"] == "user"
    assert user["domains"] == ["example.com"]
    assert isinstance(user["one_time_password"], str) and len(user["one_time_password"]) >= 12


def test_users_create_refuses_an_unknown_role(cli: Cli) -> None:
    cli.assert_refused(
        Refusal(("users", "create", "--email", "w@example.com", "--role", "wizard"),
                "role.unknown", "Unknown role 'wizard'. Choose one of: user, super_admin"),
    )

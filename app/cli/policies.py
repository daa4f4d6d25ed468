from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from app.cli.output import emit, fail, json_option
from app.domain.labels import count_noun
from app.services import policies
from app.services.policies import PolicyInvalid

group = click.Group("policies", help="Policy as code: export and import policies as JSON.")


@group.command("export")
@with_appcontext
def export() -> None:
    """Print every policy as JSON (the "View raw" format), sorted by name."""
    click.echo(json.dumps(policies.export_documents(), indent=2))


@group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@with_appcontext
def import_(file: Path, as_json: bool) -> None:
    """Validate the whole FILE first (nothing changes on any error), then create or update
    each policy by name. FILE is a JSON list of policies, or - for standard input."""
    try:
        text = click.get_text_stream("stdin").read() if str(file) == "-" else file.read_text()
    except OSError as exc:
        fail(f"Cannot read {file}: {exc.strerror}.", "file.unreadable", as_json)
    try:
        result = policies.import_documents(policies.parse_json_text(text))
    except PolicyInvalid as exc:
        fail("Nothing was imported:\n  " + "\n  ".join(exc.errors), "policy.invalid", as_json)
    emit(as_json, result, f"Created {count_noun(len(result['created']), 'policy')}, updated "
         f"{count_noun(len(result['updated']), 'policy')}.")

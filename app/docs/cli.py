"""``flask openapi write FILE``: dump the document for client generators (SPEC §9 style)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click
from flask import current_app

from app.cli.base import OneLineGroup
from app.docs import spec

# Where ``make run`` serves the app: the useful default for a file written on a developer's machine.
LOCAL_SERVER = "http://127.0.0.1:5000"

openapi_cli = OneLineGroup("openapi", help="The OpenAPI document of the API.")


@openapi_cli.command("write")
@click.argument("file", metavar="FILE")
@click.option(
    "--server",
    default=None,
    help=f"Base URL written into `servers`. Default: PUBLIC_BASE_URL, else {LOCAL_SERVER}.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "yaml"]),
    default=None,
    help="Default: from FILE's suffix (.yaml/.yml), else json.",
)
def write(file: str, server: str | None, fmt: str | None) -> None:
    """Write the OpenAPI document to FILE ('-' for standard output)."""
    if fmt is None:
        fmt = "yaml" if file.lower().endswith((".yaml", ".yml")) else "json"
    document = spec.document_for(
        current_app, server or current_app.config.get("PUBLIC_BASE_URL") or LOCAL_SERVER
    )
    text = spec.to_yaml(document) if fmt == "yaml" else spec.to_json(document)
    if file == "-":
        sys.stdout.write(text)
        return
    path = Path(file)
    try:
        # Write next to the target and rename, so a failed write never leaves half a file.
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {file}: {exc.strerror or exc}") from None
    click.echo(f"Wrote the OpenAPI document ({fmt}) to {file}.", err=True)

"""``flask openapi write FILE``: dump the document for client generators (SPEC §9 style)."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click
import yaml
from flask import current_app

from app.cli import OneLineGroup
from app.docs import spec

openapi_cli = OneLineGroup("openapi", help="The OpenAPI document of the API.")


def render(document: dict, fmt: str) -> str:
    """Serialise the document as ``json`` or ``yaml``."""
    if fmt == "yaml":
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


@openapi_cli.command("write")
@click.argument("file", metavar="FILE")
@click.option(
    "--server",
    default="http://127.0.0.1:5000",
    show_default=True,
    help="Base URL written into `servers`.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "yaml"]),
    default=None,
    help="Default: from FILE's suffix (.yaml/.yml), else json.",
)
def write(file: str, server: str, fmt: str | None) -> None:
    """Write the OpenAPI document to FILE (``-`` for standard output)."""
    if fmt is None:
        fmt = "yaml" if file.lower().endswith((".yaml", ".yml")) else "json"
    text = render(spec.document_for(current_app, server), fmt)
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

"""``flask audit list``: read the audit log, newest first (SPEC §12)."""

from __future__ import annotations

import re
from datetime import datetime

import click

from app import audit
from app.audit import export as audit_export
from app.cli.base import OneLineGroup, between
from app.cli.types import INSTANT, SAFE_TEXT, WHOLE_NUMBER
from app.keys.format import is_prefix
from app.models.audit import ACTIONS
from app.models.types import iso_utc

# Read-only on purpose: the audit log is append-only, so there is no edit or delete command.
audit_cli = OneLineGroup("audit", help="Read the audit log (append-only).")


AUDIT_LIMIT_MAX = 10_000
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _audit_prefix(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a --key that cannot be a key prefix, rather than silently matching nothing."""
    if value is not None and not is_prefix(value):
        raise click.BadParameter("not a key prefix (sgk_ followed by 8 letters or digits).", ctx, param)
    return value


def _visible(text: str) -> str:
    # One event per line: a control character in an actor must not break or recolour the line.
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


@audit_cli.command("list")
@click.option("--key", "key_prefix", type=SAFE_TEXT, default=None, metavar="PREFIX", callback=_audit_prefix)
@click.option("--actor", type=SAFE_TEXT, default=None, metavar="EMAIL", help="An admin's email, or cli.")
@click.option("--action", type=click.Choice(ACTIONS), default=None, metavar="NAME", help="e.g. key.created.")
@click.option(
    "--since",
    type=INSTANT,
    default=None,
    metavar="ISO8601",
    help="Only events at or after this time (no zone: UTC), e.g. 2026-01-31T00:00:00Z.",
)
@click.option(
    "--limit",
    type=WHOLE_NUMBER,
    default=50,
    show_default=True,
    metavar="N",
    callback=between(1, AUDIT_LIMIT_MAX),
    help=f"How many events (1-{AUDIT_LIMIT_MAX:,}).",
)
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row, as the panel's Export CSV.")
def list_audit_events(
    key_prefix: str | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    limit: int,
    as_csv: bool,
) -> None:
    """Print audit events, newest first, one a line: time, actor, action, prefix, details, address."""
    filters = {"key_prefix": key_prefix, "actor": actor, "action": action, "since": since}
    if as_csv:
        for line in audit_export.csv_lines(audit.stream_events(limit=limit, **filters)):
            click.echo(line, nl=False)
        return
    for event in audit.list_events(limit=limit, **filters):
        fields = (
            iso_utc(event.created_at),
            _visible(event.actor),
            event.action,
            event.key_prefix or "-",
            audit_export.details_json(event.details),
            _visible(event.address or "-"),
        )
        click.echo("  ".join(fields))

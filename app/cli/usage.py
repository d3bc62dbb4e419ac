"""``flask usage prune``: delete usage counts past their retention (SPEC §13)."""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from app import usage
from app.cli.base import OneLineGroup

usage_cli = OneLineGroup("usage", help="Usage counts (SPEC §13).")


@usage_cli.command("prune")
def usage_prune() -> None:
    """Delete usage counts older than USAGE_HOURLY_DAYS (hourly) and USAGE_DAILY_DAYS (daily).

    In batches of a few thousand rows, each its own short transaction, until none is left; the
    periodic flush does the same a few batches at a time.
    """
    try:
        deleted = usage.prune()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise click.ClickException(f"could not prune usage counts ({reason})") from None
    config = current_app.config
    click.echo(
        f"Deleted {deleted:,} usage row(s): hourly counts older than {config['USAGE_HOURLY_DAYS']} days, "
        f"daily counts older than {config['USAGE_DAILY_DAYS']} days."
    )

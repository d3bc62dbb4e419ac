"""What every ``flask`` command of Stockgate shares: one-line errors, a service's refusal as one
line, a password read from standard input, range-checked numbers, tables and times."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click
from flask.cli import AppGroup

from app.validation import untrusted
from app.validation.errors import ServiceError


class OneLineCommand(click.Command):
    """A command whose usage errors are one line (``Error: ...``), not a usage screen."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse options, turning click's multi-line usage errors into one line."""
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise click.ClickException(f"{ctx.command_path}: {exc.format_message()}") from None


class OneLineGroup(AppGroup):
    """A command group whose commands report errors in one line."""

    command_class = OneLineCommand


def fail(exc: ServiceError) -> click.ClickException:
    """A service's refusal as the one-line error of a command."""
    return click.ClickException(exc.message)


def password_from_stdin() -> str:
    """One line of standard input as a password: refused when empty or holding a control character."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("no password on standard input")
    if untrusted.control_character_error(password):
        # Named without echoing it: the password is a secret.
        raise click.ClickException("the password on standard input contains a control character")
    return password


def between(low: int, high: int) -> Any:
    """A click callback checking a number while parsing, so a bad value is a one-line usage error."""

    def check(ctx: click.Context, param: click.Parameter, value: int) -> int:
        if not low <= value <= high:
            raise click.BadParameter(f"must be between {low:,} and {high:,}.", ctx, param)
        return value

    return check


def when(value: datetime | None) -> str:
    """A time as the CLI's tables show it, or ``-``."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def print_table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Print ``rows`` under ``header`` in columns padded to their widest cell."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )

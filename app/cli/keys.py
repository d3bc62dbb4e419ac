"""``flask keys ...``: create, list, switch, roll and read the usage of API keys (SPEC §9, §12, §13, §16)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import click
from sqlalchemy import select

from app import audit
from app.catalogue import ALL_ABILITIES
from app.cli.base import OneLineGroup, between, fail, print_table, when
from app.cli.types import SAFE_TEXT, WHOLE_NUMBER
from app.extensions import db
from app.keys import rolling
from app.keys import service as keys_service
from app.keys.inputs import SCOPE_FIELD_GROUPS
from app.models.api_keys import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, ApiKey
from app.models.types import iso_utc
from app.usage import history, reports, unused
from app.validation.errors import ServiceError

keys_cli = OneLineGroup("keys", help="Manage API keys.")


@keys_cli.command("create")
@click.option(
    "--name",
    type=SAFE_TEXT,
    required=True,
    help='A short label for lists and the audit log, e.g. "Nightly stock sync" '
    f"(up to {NAME_MAX_LENGTH} characters).",
)
@click.option("--owner", type=SAFE_TEXT, required=True, metavar="EMAIL", help="Email of the owning user.")
@click.option(
    "--ability", "abilities", type=SAFE_TEXT, multiple=True, metavar="A", help="e.g. products:list; repeat."
)
@click.option("--all-abilities", is_flag=True, help="Grant every list and show ability.")
@click.option(
    "--rate-limit", type=WHOLE_NUMBER, default=None, help="Requests per minute (1-100000, default 60)."
)
@click.option(
    "--expires-at",
    type=SAFE_TEXT,
    default=None,
    metavar="ISO8601",
    help="Expiry, e.g. 2027-01-31T00:00:00Z. Required when KEY_MAX_LIFETIME_DAYS is set (within it).",
)
@click.option(
    "--allow-ip",
    "allowed_ips",
    type=SAFE_TEXT,
    multiple=True,
    metavar="CIDR",
    help="Only accept requests from this address or range, e.g. 203.0.113.0/24; repeat. Default: any.",
)
@click.option(
    "--description",
    type=SAFE_TEXT,
    default=None,
    help="Notes for other admins: who runs it, where the key is kept, whom to ask before revoking it "
    f"(optional, up to {DESCRIPTION_MAX_LENGTH} characters).",
)
@click.option(
    "--warehouse",
    "warehouses",
    type=SAFE_TEXT,
    multiple=True,
    metavar="CODE",
    help="Only show records of this warehouse, e.g. PHX7; repeat. Default: every warehouse.",
)
@click.option(
    "--marketplace",
    "marketplaces",
    type=SAFE_TEXT,
    multiple=True,
    metavar="NAME",
    help="Only show sales and return orders of this Amazon marketplace, e.g. Amazon.ca; repeat. "
    "Default: every marketplace.",
)
@click.option(
    "--hide",
    "hidden_fields",
    type=SAFE_TEXT,
    multiple=True,
    metavar="GROUP",
    help=f"Leave this field group out of every record: {'|'.join(SCOPE_FIELD_GROUPS)}; repeat.",
)
def create_key(
    name: str,
    owner: str,
    abilities: tuple[str, ...],
    all_abilities: bool,
    rate_limit: int | None,
    expires_at: str | None,
    allowed_ips: tuple[str, ...],
    description: str | None,
    warehouses: tuple[str, ...],
    marketplaces: tuple[str, ...],
    hidden_fields: tuple[str, ...],
) -> None:
    """Create a key and print it alone on the last line; it is never shown again."""
    if all_abilities and abilities:
        raise click.ClickException("use either --ability or --all-abilities, not both")
    if not all_abilities and not abilities:
        raise click.ClickException("give at least one --ability, or --all-abilities")
    try:
        created = keys_service.create_key(
            name=name,
            owner=owner,
            abilities=list(ALL_ABILITIES if all_abilities else abilities),
            rate_limit=rate_limit,
            expires_at=expires_at,
            allowed_ips=list(allowed_ips),
            description=description,
            warehouses=list(warehouses),
            marketplaces=list(marketplaces),
            hidden_fields=list(hidden_fields),
            actor=audit.CLI_ACTOR,
        )
    except ServiceError as exc:
        raise fail(exc) from None
    key = created.key
    click.echo(f"Created API key {key.prefix} ({key.name}) for {key.owner.email}.", err=True)
    click.echo("Store it now: it will not be shown again.", err=True)
    click.echo(created.raw_key)


def _scope(key: ApiKey) -> str:
    """The key's data scope in one cell (``warehouses=PHX7,WH-NJ1 hide=costs``); ``-``: none."""
    parts = {"warehouses": key.warehouses, "marketplaces": key.marketplaces, "hide": key.hidden_fields}
    return " ".join(f"{name}={','.join(values)}" for name, values in parts.items() if values) or "-"


@keys_cli.command("list")
@click.option(
    "--search", type=SAFE_TEXT, default="", metavar="Q", help="Match name, key prefix, owner name or email."
)
@click.option(
    "--status",
    type=click.Choice(keys_service.STATUS_FILTERS),
    default="all",
    show_default=True,
    help="'all' hides revoked keys.",
)
def list_keys(search: str, status: str) -> None:
    """List keys (never the secret part) matching --search."""
    stmt = keys_service.search_keys(search, status).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    rows: list[tuple[Any, ...]] = [
        (
            k.prefix,
            k.name,
            k.owner.email,
            k.display_status(),
            f"{k.rate_limit}/min",
            when(k.expires_at),
            when(k.last_used_at),
            _scope(k),
        )
        for k in db.session.scalars(stmt)
    ]
    header = ("KEY PREFIX", "NAME", "OWNER", "STATUS", "RATE LIMIT", "EXPIRES AT", "LAST USED AT", "SCOPE")
    print_table(header, rows)
    click.echo(f"{len(rows)} key(s).", err=True)


def _state_command(name: str, action: Any, past: str, short_help: str, help_text: str) -> None:
    """Register ``flask keys <name> PREFIX``, which calls one lifecycle service. The help texts
    say what the command does (imperative); ``past`` is what it prints when done."""

    @keys_cli.command(name, short_help=short_help, help=help_text)
    @click.argument("prefix", type=SAFE_TEXT)
    def command(prefix: str) -> None:
        try:
            key = action(prefix, actor=audit.CLI_ACTOR)
        except ServiceError as exc:
            raise fail(exc) from None
        click.echo(f"{past} {key.prefix} ({key.name}).")


_state_command(
    "activate",
    keys_service.activate_key,
    "Activated",
    "Activate a key: it works again.",
    "Activate the key with this prefix (sgk_ + 8 characters): it works again from the next request.",
)
_state_command(
    "deactivate",
    keys_service.deactivate_key,
    "Deactivated",
    "Deactivate a key until it is activated again.",
    "Deactivate the key with this prefix (sgk_ + 8 characters): refused (401 key_inactive) until "
    "activated again.",
)
_state_command(
    "revoke",
    keys_service.revoke_key,
    "Revoked",
    "Revoke a key for good.",
    "Revoke the key with this prefix (sgk_ + 8 characters) for good: it can never be used again.",
)


@keys_cli.command("roll")
@click.argument("prefix", type=SAFE_TEXT)
@click.option(
    "--grace",
    type=SAFE_TEXT,
    default=rolling.DEFAULT_GRACE,
    show_default=True,
    metavar="0|30m|1h|24h|7d|ISO8601",
    help=f"When the old key stops working (at most {rolling.MAX_GRACE.days} days ahead).",
)
def roll_key(prefix: str, grace: str) -> None:
    """Replace a key by a new one and print the new key alone on the last line."""
    try:
        created = rolling.roll_key(prefix, actor=audit.CLI_ACTOR, grace=grace)
    except ServiceError as exc:
        raise fail(exc) from None
    old = db.session.scalar(select(ApiKey).where(ApiKey.successor_id == created.key.id))
    stops = when(old.sunset_at) if old is not None else "-"
    new = created.key
    click.echo(f"Rolled {prefix} into {new.prefix} ({new.name}); {prefix} stops {stops}.", err=True)
    click.echo("Store the new key now: it will not be shown again.", err=True)
    click.echo(created.raw_key)


@keys_cli.command("end-grace")
@click.argument("prefix", type=SAFE_TEXT)
def end_grace(prefix: str) -> None:
    """Cut a rolling key over now: it stops working at once."""
    try:
        key = rolling.end_grace(prefix, actor=audit.CLI_ACTOR)
    except ServiceError as exc:
        raise fail(exc) from None
    click.echo(f"Ended the grace period of {key.prefix} ({key.name}); it no longer works.")


USAGE_DAYS_MAX = 365


@keys_cli.command("usage")
@click.argument("prefix", type=SAFE_TEXT)
@click.option(
    "--days",
    type=WHOLE_NUMBER,
    default=30,
    show_default=True,
    metavar="N",
    callback=between(1, USAGE_DAYS_MAX),
    help=f"The last N UTC days, today included (1-{USAGE_DAYS_MAX}).",
)
def key_usage(prefix: str, days: int) -> None:
    """Print the key's requests per UTC day and operation by outcome, then its unused abilities.

    The newest key of a roll chain reports the whole chain, with one line per key for its
    share; a key that was rolled reports its own requests only. Abilities are not judged
    unused until the history covers the N days (the chain's first key is older than that).
    """
    try:
        key = keys_service.get_key(prefix)
    except ServiceError as exc:
        raise fail(exc) from None
    report = reports.for_key(key, days)
    lines: dict[tuple[str, str], Counter[str]] = {}
    for count in report.counts:
        lines.setdefault((count.day.isoformat(), count.operation), Counter())[
            history.outcome_of(count.status)
        ] += count.count
    for (day, operation), outcomes in lines.items():
        shown = [*history.OUTCOMES, *([history.SERVER_ERRORS] if outcomes[history.SERVER_ERRORS] else [])]
        counts = " ".join(f"{_slug(outcome)}={outcomes[outcome]}" for outcome in shown)
        click.echo(f"{day}  {operation}  {counts}")
    if not lines:
        click.echo(f"No requests in the last {days} day(s).", err=True)
    if report.split:
        for share in report.shares:
            click.echo(_share_line(share, days))
    if report.newest_prefix:
        click.echo(
            f"Only this key's own requests: it was rolled; `flask keys usage {report.newest_prefix}` "
            "shows its whole roll chain.",
            err=True,
        )
    if not report.judged and report.history is not None:
        so_far = report.history.days
        click.echo(f"unused abilities: not judged yet ({so_far} day{'' if so_far == 1 else 's'} of history)")
        return
    click.echo(f"unused abilities: {', '.join(report.unused) if report.unused else 'none'}")


def _share_line(share: reports.KeyShare, days: int) -> str:
    """One key's part of a roll chain's requests: ``sgk_... (old key, rolling until ...): ...``."""
    key = share.key
    role = key.role
    if key.sunset_at is not None and not key.current:
        role += f" {'until' if key.rolling else 'at'} {iso_utc(key.sunset_at)}"
    requests = share.tally.requests
    counted = f"{requests} request{'' if requests == 1 else 's'} in the last {days} day(s)"
    return f"{key.prefix} ({role}): {counted}" + (f", last {iso_utc(share.last_at)}" if share.last_at else "")


def _slug(outcome: str) -> str:
    return outcome.lower().replace(" ", "_")


@keys_cli.command("deactivate-unused")
@click.option(
    "--days",
    type=WHOLE_NUMBER,
    required=True,
    metavar="N",
    callback=between(unused.MIN_DAYS, unused.MAX_DAYS),
    help="Deactivate working keys created more than N days ago and not used for N days (or never).",
)
@click.option("--dry-run", is_flag=True, help="Only print the keys that would be deactivated.")
def deactivate_unused_keys(days: int, dry_run: bool) -> None:
    """Deactivate active keys not used for N days, one line per key, each audited.

    A key created less than N days ago is never deactivated, used or not; a rolling key is
    cut over with `flask keys end-grace`, not deactivated.
    """
    keys = unused.deactivate_unused(days, actor=audit.CLI_ACTOR, dry_run=dry_run)
    verb = "Would deactivate" if dry_run else "Deactivated"
    for key in keys:
        used = (
            f"last used {when(key.last_used_at)}"
            if key.last_used_at
            else f"never used, created {when(key.created_at)}"
        )
        click.echo(f"{verb} {key.prefix} ({key.name}): {used}.")
    click.echo(f"{len(keys)} key(s) {'would be ' if dry_run else ''}deactivated.", err=True)

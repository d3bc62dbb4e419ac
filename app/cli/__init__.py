"""Command line: ``flask users ...``, ``flask keys ...``, ``flask audit list`` and ``flask usage prune``
(SPEC §9, §12, §13).

Every error is one line on stderr and a non-zero exit; services validate before they
write, so a refused command leaves nothing behind. Every option and argument goes through a
type of ``app.cli.types``: no control characters, numbers in ASCII digits only.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from datetime import datetime
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app import accounts, audit, seed, usage
from app.accounts import people as users
from app.audit import export as audit_export
from app.catalogue import ALL_ABILITIES
from app.cli.types import INSTANT, SAFE_TEXT, WHOLE_NUMBER
from app.extensions import db
from app.keys import rolling
from app.keys import service as keys_service
from app.keys.format import is_prefix
from app.keys.inputs import SCOPE_FIELD_GROUPS
from app.models.api_keys import DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, ApiKey
from app.models.audit import ACTIONS
from app.models.types import iso_utc
from app.usage import history, reports, unused
from app.validation import untrusted
from app.validation.errors import ServiceError

DEMO_ADMIN_EMAIL = "admin@stockgate.local"
# How to get back in when an admin exists but its password is lost (the one place
# ``demo-admin`` reads): a new password for that admin, printed once (SPEC §15).
REGAIN_ACCESS = (
    "Lost the password? Set a new one (printed once; --password-stdin to choose it):",
    "  flask users reset-password EMAIL",
)


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


def _fail(exc: ServiceError) -> click.ClickException:
    return click.ClickException(exc.message)


def _fail_users(exc: ServiceError) -> click.ClickException:
    # The users service names form fields (``move_keys_to: ...``); a command line names none.
    messages = [message for field_messages in exc.errors.values() for message in field_messages]
    return click.ClickException(" ".join(messages) if messages else exc.message)


def _password_from_stdin() -> str:
    """One line of standard input as a password: refused when empty or holding a control character."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("no password on standard input")
    if untrusted.control_character_error(password):
        # Named without echoing it: the password is a secret.
        raise click.ClickException("the password on standard input contains a control character")
    return password


users_cli = OneLineGroup("users", help="Manage people and system accounts.")
keys_cli = OneLineGroup("keys", help="Manage API keys.")
usage_cli = OneLineGroup("usage", help="Usage counts (SPEC §13).")
# Read-only on purpose: the audit log is append-only, so there is no edit or delete command.
audit_cli = OneLineGroup("audit", help="Read the audit log (append-only).")


@users_cli.command("create")
@click.argument("email", type=SAFE_TEXT)
@click.option("--name", type=SAFE_TEXT, required=True, help="Display name.")
@click.option("--admin", is_flag=True, help="May sign in to the panel.")
@click.option("--system", is_flag=True, help="A system account (e.g. a sync job); never signs in.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(email: str, name: str, admin: bool, system: bool, password_stdin: bool) -> None:
    """Create a user; an admin without --password-stdin gets a generated password, printed once."""
    password: str | None = None
    generated = False
    if password_stdin:
        password = _password_from_stdin()
    elif admin:
        password, generated = accounts.generate_password(), True
    try:
        user = accounts.create_user(
            email, name, password=password, is_admin=admin, is_system=system, actor=audit.CLI_ACTOR
        )
    except ServiceError as exc:
        raise _fail(exc) from None
    kind = "system account" if user.is_system else ("admin" if user.is_admin else "user")
    click.echo(f"Created {kind} {user.email} ({user.name}).")
    if generated:
        click.echo(f"Password (shown once): {password}")


@users_cli.command("demo-admin")
def demo_admin() -> None:
    """Create the demo admin if no admin exists, printing its email and a new password; else
    say how to get back in."""
    if accounts.count_admins():
        click.echo("An admin already exists; no demo admin created.")
        if accounts.find_user_by_email(DEMO_ADMIN_EMAIL) is not None:
            click.echo(f"The demo admin is {DEMO_ADMIN_EMAIL}; its password was printed when it was created.")
        for line in REGAIN_ACCESS:
            click.echo(line)
        return
    password = accounts.generate_password()
    accounts.create_user(
        DEMO_ADMIN_EMAIL, "Demo Admin", password=password, is_admin=True, actor=audit.CLI_ACTOR
    )
    # The address depends on how the app is served (make run prints it): name the path only.
    click.echo("Demo admin created. Sign in at /login with:")
    click.echo(f"  email:    {DEMO_ADMIN_EMAIL}")
    click.echo(f"  password: {password}")


@users_cli.command("list")
def list_users() -> None:
    """List every account: email, name, kind, status, working keys and last sign-in."""
    rows: list[tuple[str, ...]] = [
        (
            account.user.email,
            account.user.name,
            account.user.kind,
            account.user.status,
            str(account.working_keys),
            _when(account.user.last_sign_in_at),
        )
        for account in users.list_accounts()
    ]
    _print_table(("EMAIL", "NAME", "KIND", "STATUS", "WORKING KEYS", "LAST SIGN-IN"), rows)
    click.echo(f"{len(rows)} user(s).", err=True)


@users_cli.command("deactivate")
@click.argument("email", type=SAFE_TEXT)
@click.option(
    "--move-keys-to",
    type=SAFE_TEXT,
    default=None,
    metavar="EMAIL",
    help="Give the working keys to this active user.",
)
@click.option("--deactivate-keys", is_flag=True, help="Deactivate the working keys.")
def deactivate_user(email: str, move_keys_to: str | None, deactivate_keys: bool) -> None:
    """Deactivate a user: their sessions end, they cannot sign in, and their working keys move to
    another owner or are deactivated (exactly one of --move-keys-to and --deactivate-keys)."""
    if bool(move_keys_to) == deactivate_keys:
        raise click.ClickException("give exactly one of --move-keys-to EMAIL and --deactivate-keys")
    try:
        done = users.deactivate_user(
            email, move_keys_to=move_keys_to, deactivate_keys=deactivate_keys, actor=audit.CLI_ACTOR
        )
    except ServiceError as exc:
        raise _fail_users(exc) from None
    click.echo(f"Deactivated {done.user.email}: {done.keys_went}.")
    for prefix in done.moved:
        click.echo(f"  moved {prefix} to {done.new_owner.email if done.new_owner else '-'}")
    for prefix in done.deactivated:
        click.echo(f"  deactivated {prefix}")
    for prefix in done.cut_over:
        click.echo(f"  cut over {prefix} (it was rolling)")


@users_cli.command("reactivate")
@click.argument("email", type=SAFE_TEXT)
def reactivate_user(email: str) -> None:
    """Reactivate a deactivated user (their keys stay as they are)."""
    try:
        user = users.reactivate_user(email, actor=audit.CLI_ACTOR)
    except ServiceError as exc:
        raise _fail_users(exc) from None
    click.echo(f"Reactivated {user.email}; their keys were not changed.")


@users_cli.command("reset-password")
@click.argument("email", type=SAFE_TEXT)
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
def reset_password(email: str, password_stdin: bool) -> None:
    """Set a new password and end the user's sessions; without --password-stdin one is generated
    and printed once."""
    password = _password_from_stdin() if password_stdin else None
    try:
        user, generated = users.reset_password(email, password=password, actor=audit.CLI_ACTOR)
    except ServiceError as exc:
        raise _fail_users(exc) from None
    click.echo(f"New password set for {user.email}; their open sessions are signed out.")
    if generated:
        click.echo(f"Password (shown once): {generated}")


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
        raise _fail(exc) from None
    key = created.key
    click.echo(f"Created API key {key.prefix} ({key.name}) for {key.owner.email}.", err=True)
    click.echo("Store it now: it will not be shown again.", err=True)
    click.echo(created.raw_key)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


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
            _when(k.expires_at),
            _when(k.last_used_at),
            _scope(k),
        )
        for k in db.session.scalars(stmt)
    ]
    header = ("KEY PREFIX", "NAME", "OWNER", "STATUS", "RATE LIMIT", "EXPIRES AT", "LAST USED AT", "SCOPE")
    _print_table(header, rows)
    click.echo(f"{len(rows)} key(s).", err=True)


def _print_table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Print ``rows`` under ``header`` in columns padded to their widest cell."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _state_command(name: str, action: Any, past: str, short_help: str, help_text: str) -> None:
    """Register ``flask keys <name> PREFIX``, which calls one lifecycle service. The help texts
    say what the command does (imperative); ``past`` is what it prints when done."""

    @keys_cli.command(name, short_help=short_help, help=help_text)
    @click.argument("prefix", type=SAFE_TEXT)
    def command(prefix: str) -> None:
        try:
            key = action(prefix, actor=audit.CLI_ACTOR)
        except ServiceError as exc:
            raise _fail(exc) from None
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
        raise _fail(exc) from None
    old = db.session.scalar(select(ApiKey).where(ApiKey.successor_id == created.key.id))
    stops = _when(old.sunset_at) if old is not None else "-"
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
        raise _fail(exc) from None
    click.echo(f"Ended the grace period of {key.prefix} ({key.name}); it no longer works.")


USAGE_DAYS_MAX = 365


def _between(low: int, high: int) -> Any:
    """A click callback checking a number while parsing, so a bad value is a one-line usage error."""

    def check(ctx: click.Context, param: click.Parameter, value: int) -> int:
        if not low <= value <= high:
            raise click.BadParameter(f"must be between {low:,} and {high:,}.", ctx, param)
        return value

    return check


@keys_cli.command("usage")
@click.argument("prefix", type=SAFE_TEXT)
@click.option(
    "--days",
    type=WHOLE_NUMBER,
    default=30,
    show_default=True,
    metavar="N",
    callback=_between(1, USAGE_DAYS_MAX),
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
        raise _fail(exc) from None
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
    callback=_between(unused.MIN_DAYS, unused.MAX_DAYS),
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
            f"last used {_when(key.last_used_at)}"
            if key.last_used_at
            else f"never used, created {_when(key.created_at)}"
        )
        click.echo(f"{verb} {key.prefix} ({key.name}): {used}.")
    click.echo(f"{len(keys)} key(s) {'would be ' if dry_run else ''}deactivated.", err=True)


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
    callback=_between(1, AUDIT_LIMIT_MAX),
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


@click.command("seed-demo", cls=OneLineCommand)
@click.option(
    "--scale",
    type=WHOLE_NUMBER,
    default=seed.DEFAULT_SCALE,
    show_default=True,
    metavar="N",
    help=f"Number of products (1-{seed.MAX_SCALE:,}); other modules grow with it, the ledger 10x.",
)
@with_appcontext
def seed_demo(scale: int) -> None:
    """Fill every module with deterministic demo data; does nothing if data is already there."""
    try:
        products = seed.validate_scale(scale)
    except ServiceError as exc:
        raise _fail(exc) from None
    try:
        if seed.has_domain_data():
            click.echo(
                f"Demo data already present ({seed.count_rows()['products']:,} products); nothing changed."
            )
            return
        plan = seed.plan_for(products)
        with click.progressbar(
            length=plan.steps, label=f"Seeding demo data ({products:,} products)", file=sys.stderr
        ) as bar:
            result = seed.seed_demo(products, progress=bar.update)
    except SQLAlchemyError as exc:
        # e.g. tables missing because migrations have not run: one line, not a traceback.
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise click.ClickException(
            f"could not seed the demo data ({reason}); has `flask db upgrade` run?"
        ) from None
    if not result.seeded:  # another process seeded meanwhile
        click.echo(f"Demo data already present ({result.rows['products']:,} products); nothing changed.")
        return
    total = sum(result.rows.values())
    click.echo(f"Seeded {total:,} rows in {result.seconds:.1f} s:")
    for table, count in result.rows.items():
        click.echo(f"  {table:<24} {count:>10,}")


def init_app(app: Flask) -> None:
    """Register the command groups on ``app``."""
    app.cli.add_command(users_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(usage_cli)
    app.cli.add_command(seed_demo)


__all__ = ["init_app"]

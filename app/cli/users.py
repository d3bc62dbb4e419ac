"""``flask users ...``: people and system accounts (SPEC §9, §15)."""

from __future__ import annotations

import click

from app import accounts, audit
from app.accounts import people as users
from app.cli.base import OneLineGroup, fail, password_from_stdin, print_table, when
from app.cli.types import SAFE_TEXT
from app.validation.errors import ServiceError

users_cli = OneLineGroup("users", help="Manage people and system accounts.")


DEMO_ADMIN_EMAIL = "admin@stockgate.local"
# How to get back in when an admin exists but its password is lost (the one place
# ``demo-admin`` reads): a new password for that admin, printed once (SPEC §15).
REGAIN_ACCESS = (
    "Lost the password? Set a new one (printed once; --password-stdin to choose it):",
    "  flask users reset-password EMAIL",
)


def _fail_users(exc: ServiceError) -> click.ClickException:
    # The users service names form fields (``move_keys_to: ...``); a command line names none.
    messages = [message for field_messages in exc.errors.values() for message in field_messages]
    return click.ClickException(" ".join(messages) if messages else exc.message)


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
        password = password_from_stdin()
    elif admin:
        password, generated = accounts.generate_password(), True
    try:
        user = accounts.create_user(
            email, name, password=password, is_admin=admin, is_system=system, actor=audit.CLI_ACTOR
        )
    except ServiceError as exc:
        raise fail(exc) from None
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
            when(account.user.last_sign_in_at),
        )
        for account in users.list_accounts()
    ]
    print_table(("EMAIL", "NAME", "KIND", "STATUS", "WORKING KEYS", "LAST SIGN-IN"), rows)
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
    password = password_from_stdin() if password_stdin else None
    try:
        user, generated = users.reset_password(email, password=password, actor=audit.CLI_ACTOR)
    except ServiceError as exc:
        raise _fail_users(exc) from None
    click.echo(f"New password set for {user.email}; their open sessions are signed out.")
    if generated:
        click.echo(f"Password (shown once): {generated}")

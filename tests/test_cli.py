"""flask users / flask keys: one-line errors, nothing half-written, the key printed once."""

import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app import accounts
from app.extensions import db
from app.keys.verification import KEY_ROLLED, verify
from app.models.api_keys import ApiKey
from app.models.audit import AuditEvent
from app.models.users import User

KEY_RE = re.compile(r"sgk_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}")


def _count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _one_line_error(result):
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture
def owner(runner):
    result = runner.invoke(
        args=["users", "create", "sync@example.com", "--name", "Amazon SP-API sync", "--system"]
    )
    assert result.exit_code == 0, result.output
    return "sync@example.com"


@pytest.mark.both_databases
def test_keys_create_prints_the_key_alone_on_the_last_stdout_line(app, backend, runner, owner, caplog):
    """A script can capture the key from stdout; it verifies and is stored nowhere else."""
    caplog.set_level(logging.DEBUG)
    result = runner.invoke(
        args=["keys", "create", "--name", "ERP", "--owner", owner, "--all-abilities", "--rate-limit", "120"]
    )
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    assert KEY_RE.fullmatch(last)
    assert last not in result.stderr
    assert last not in caplog.text
    with app.app_context():
        assert verify(last).ok
    listing = runner.invoke(args=["keys", "list"])
    assert listing.exit_code == 0
    assert last[:12] in listing.stdout
    assert last not in listing.output
    secret = last[13:].encode()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # checkpoint nothing away: read the files as they are on disk
    if backend == "sqlite":
        path = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
        for file in path.parent.glob(path.name + "*"):
            assert secret not in file.read_bytes(), file
    else:
        with app.app_context():
            dump = "\n".join(repr(row) for row in db.session.execute(select(ApiKey.__table__)))
        assert last not in dump and last[13:45] not in dump


@pytest.mark.both_databases
def test_keys_list_search_filters(app, runner, owner):
    """--search narrows the list by name, prefix or owner."""
    for name in ("Repricer", "ERP export"):
        runner.invoke(args=["keys", "create", "--name", name, "--owner", owner, "--ability", "products:list"])
    result = runner.invoke(args=["keys", "list", "--search", "repr"])
    assert "Repricer" in result.stdout and "ERP export" not in result.stdout


def test_lifecycle_commands_change_status(app, runner, owner):
    """deactivate, activate and revoke act on the key with that prefix."""
    out = runner.invoke(args=["keys", "create", "--name", "A", "--owner", owner, "--ability", "brands:list"])
    key = out.stdout.strip().splitlines()[-1]
    prefix = key[:12]
    assert runner.invoke(args=["keys", "deactivate", prefix]).exit_code == 0
    with app.app_context():
        assert verify(key).reason == "key_inactive"
    assert runner.invoke(args=["keys", "activate", prefix]).exit_code == 0
    with app.app_context():
        assert verify(key).ok
    assert runner.invoke(args=["keys", "revoke", prefix]).exit_code == 0
    with app.app_context():
        assert verify(key).reason == "key_revoked"
    assert "already revoked" in _one_line_error(runner.invoke(args=["keys", "revoke", prefix]))
    assert "revocation is final" in _one_line_error(runner.invoke(args=["keys", "activate", prefix]))


BAD_KEY_CREATE = {
    "no-ability": ([], "--ability"),
    "both-ability-forms": (["--ability", "products:list", "--all-abilities"], "not both"),
    "unknown-ability": (["--ability", "products:delete"], "products:delete"),
    "wildcard-ability": (["--ability", "admin:*"], "admin:*"),
    "duplicate-ability": (["--ability", "brands:list", "--ability", "brands:list"], "more than once"),
    "rate-0": (["--ability", "brands:list", "--rate-limit", "0"], "Rate limit"),
    "rate-negative": (["--ability", "brands:list", "--rate-limit", "-1"], "Rate limit"),
    "rate-too-high": (["--ability", "brands:list", "--rate-limit", "100001"], "Rate limit"),
    "rate-abc": (["--ability", "brands:list", "--rate-limit", "abc"], "--rate-limit"),
    "expiry-past": (["--ability", "brands:list", "--expires-at", "2001-01-01T00:00:00Z"], "future"),
    "expiry-garbage": (["--ability", "brands:list", "--expires-at", "soon"], "e.g. 2026-01-31T00:00:00Z"),
    "unknown-option": (["--ability", "brands:list", "--colour", "red"], "--colour"),
    "allow-ip-garbage": (
        ["--ability", "brands:list", "--allow-ip", "10.0.0.0/8", "--allow-ip", "ten.0.0.1"],
        "Not an IP address or CIDR range: 'ten.0.0.1'",
    ),
    "allow-ip-several-bad": (
        [
            *("--ability", "brands:list"),
            *("--allow-ip", "ten.0.0.1", "--allow-ip", "10.0.0.1", "--allow-ip", "::1/200"),
        ],
        "Not IP addresses or CIDR ranges: 'ten.0.0.1', '::1/200'",
    ),
    "allow-ip-bad-prefix": (["--ability", "brands:list", "--allow-ip", "2001:db8::/129"], "'2001:db8::/129'"),
    "allow-ip-empty-value": (["--ability", "brands:list", "--allow-ip"], "--allow-ip"),
    "allow-ip-control": (["--ability", "brands:list", "--allow-ip", "10.0.0.1\x00"], "--allow-ip"),
    "allow-ip-too-many": (
        ["--ability", "brands:list", *[a for n in range(101) for a in ("--allow-ip", f"10.0.0.{n}")]],
        "At most 100 allowed IPs",
    ),
    "description-too-long": (["--ability", "brands:list", "--description", "d" * 501], "at most 500"),
    "description-control": (["--ability", "brands:list", "--description", "a\nb"], "--description"),
}


@pytest.mark.parametrize("extra,needle", BAD_KEY_CREATE.values(), ids=BAD_KEY_CREATE.keys())
def test_bad_keys_create_is_one_line_and_writes_nothing(app, runner, owner, extra, needle):
    """Every bad option: one line on stderr, non-zero exit, no key row."""
    result = runner.invoke(args=["keys", "create", "--name", "Feed", "--owner", owner, *extra])
    assert needle in _one_line_error(result)
    assert _count(app, ApiKey) == 0
    assert not KEY_RE.search(result.output)


def test_keys_create_with_allowed_ips_and_description(app, runner, owner):
    """--allow-ip (repeatable) is stored canonical and deduplicated; --description as given."""
    result = runner.invoke(
        args=[
            "keys", "create", "--name", "Feed", "--owner", owner, "--ability", "brands:list",
            "--allow-ip", "203.0.113.9/24", "--allow-ip", "2001:db8::1", "--allow-ip", "203.0.113.0/24",
            "--description", "Partner feed, Reno warehouse",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    prefix = result.stdout.strip().splitlines()[-1][:12]
    with app.app_context():
        key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        assert key.allowed_ips == ["203.0.113.0/24", "2001:db8::1/128"]
        assert key.description == "Partner feed, Reno warehouse"


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--name", "", "--owner", "sync@example.com"], "Name"),
        (["--name", "n" * 200, "--owner", "sync@example.com"], "Name"),
        (["--name", "Feed", "--owner", "ghost@example.com"], "ghost@example.com"),
        (["--owner", "sync@example.com"], "--name"),
    ],
    ids=["empty-name", "200-char-name", "unknown-owner", "missing-name"],
)
def test_bad_name_or_owner_is_refused(app, runner, owner, args, needle):
    """Name and owner are checked before anything is written."""
    result = runner.invoke(args=["keys", "create", *args, "--ability", "brands:list"])
    assert needle in _one_line_error(result)
    assert _count(app, ApiKey) == 0


@pytest.mark.parametrize("command", ["activate", "deactivate", "revoke"])
@pytest.mark.parametrize("prefix", ["sgk_00000000", "garbage"])
def test_lifecycle_on_unknown_prefix_is_one_line(app, runner, command, prefix):
    """An unknown prefix is reported, not a traceback."""
    assert "no API key" in _one_line_error(runner.invoke(args=["keys", command, prefix]))


def test_users_create_admin_with_password_from_stdin(app, runner):
    """--password-stdin reads the password; nothing is echoed."""
    result = runner.invoke(
        args=["users", "create", "Ops@Example.com", "--name", "Ops", "--admin", "--password-stdin"],
        input="correct horse battery\n",
    )
    assert result.exit_code == 0, result.output
    assert "correct horse" not in result.output
    with app.app_context():
        user = db.session.scalar(select(User))
        assert (user.email, user.is_admin) == ("ops@example.com", True)


def test_users_create_admin_without_password_prints_a_generated_one(app, runner):
    """An admin created without --password-stdin gets a password shown once."""
    result = runner.invoke(args=["users", "create", "a@example.com", "--name", "A", "--admin"])
    assert result.exit_code == 0
    assert "Password (shown once): " in result.stdout


BAD_USERS_CREATE = {
    "bad-email": (["not-an-email", "--name", "X"], None, "email"),
    "empty-name": (["x@example.com", "--name", ""], None, "Name"),
    "system-admin": (["x@example.com", "--name", "X", "--system", "--admin"], None, "system account"),
    "short-password": (
        ["x@example.com", "--name", "X", "--admin", "--password-stdin"],
        "short\n",
        "at least 8",
    ),
    "73-byte-password": (
        ["x@example.com", "--name", "X", "--admin", "--password-stdin"],
        "p" * 73 + "\n",
        "72 bytes",
    ),
    "empty-stdin": (["x@example.com", "--name", "X", "--admin", "--password-stdin"], "", "no password"),
    "missing-name": (["x@example.com"], None, "--name"),
    "zero-width-in-email": (
        ["ops@exa\u200bmple.com", "--name", "X"],
        None,
        "invisible or control characters",
    ),
    "255-character-email": (
        ["a" * 64 + "@" + "b" * 62 + "." + "c" * 63 + "." + "d" * 59 + ".com", "--name", "X"],
        None,
        "Email must be at most 254 characters",
    ),
}


@pytest.mark.parametrize("args,stdin,needle", BAD_USERS_CREATE.values(), ids=BAD_USERS_CREATE.keys())
def test_bad_users_create_is_one_line_and_writes_nothing(app, runner, args, stdin, needle):
    """Bad user input: one line, no user row."""
    result = runner.invoke(args=["users", "create", *args], input=stdin)
    assert needle in _one_line_error(result)
    assert _count(app, User) == 0


def test_duplicate_user_email_is_refused(app, runner):
    """Emails are unique, case-insensitively."""
    assert runner.invoke(args=["users", "create", "a@example.com", "--name", "A"]).exit_code == 0
    result = runner.invoke(args=["users", "create", "A@EXAMPLE.COM", "--name", "B"])
    assert "already exists" in _one_line_error(result)
    assert _count(app, User) == 1


def test_demo_admin_is_created_once(app, runner):
    """make run creates a demo admin only when no admin exists."""
    first = runner.invoke(args=["users", "demo-admin"])
    assert "password:" in first.stdout
    second = runner.invoke(args=["users", "demo-admin"])
    assert "already exists" in second.stdout
    assert _count(app, User) == 1


def test_demo_admin_says_how_to_get_back_in_when_an_admin_exists(app, runner):
    """``make run`` again after the printed password was lost: the next step, not a dead end."""
    assert runner.invoke(args=["users", "demo-admin"]).exit_code == 0
    again = runner.invoke(args=["users", "demo-admin"])
    assert again.exit_code == 0
    assert "The demo admin is admin@stockgate.local" in again.stdout
    assert again.stdout.rstrip().endswith("flask users reset-password EMAIL")
    # The command it names works as written (with the demo admin's email), and signs in.
    reset = runner.invoke(args=["users", "reset-password", "admin@stockgate.local"])
    assert reset.exit_code == 0, reset.output
    password = reset.stdout.split("Password (shown once): ")[1].strip()
    with app.app_context():
        assert accounts.authenticate("admin@stockgate.local", password) is not None


@pytest.mark.parametrize(
    ("command", "verb"), [("activate", "Activate"), ("deactivate", "Deactivate"), ("revoke", "Revoke")]
)
def test_key_state_commands_describe_themselves_in_the_imperative(runner, command, verb):
    help_text = runner.invoke(args=["keys", command, "--help"]).stdout
    assert f"  {verb} the key with this prefix" in help_text
    assert "Activated" not in help_text and "Deactivated" not in help_text and "Revoked" not in help_text
    listing = runner.invoke(args=["keys", "--help"]).stdout
    assert re.search(rf"^  {command} +{verb} a key", listing, re.M)


def test_keys_create_name_and_description_have_their_own_help(runner):
    help_text = " ".join(runner.invoke(args=["keys", "create", "--help"]).stdout.split())
    name = help_text.split("--name TEXT", 1)[1].split("--owner", 1)[0]
    description = help_text.split("--description TEXT", 1)[1].split("--help", 1)[0]
    assert name != description
    assert "short label" in name and "up to 100 characters" in name
    assert "Notes for other admins" in description and "up to 500 characters" in description


# Every option and argument that takes text, with a control character in it.
CONTROL_IN_OPTION = {
    "keys-create-name": (["keys", "create", "--name", "ERP\x00", "--all-abilities"], "--name"),
    "keys-create-owner": (["keys", "create", "--name", "ERP", "--owner", "sync@example.com\x1b"], "--owner"),
    "keys-create-ability": (
        ["keys", "create", "--name", "ERP", "--ability", "products:list\x00"],
        "--ability",
    ),
    "keys-create-expiry": (
        ["keys", "create", "--name", "ERP", "--all-abilities", "--expires-at", "2030-01-01T00:00\x00Z"],
        "--expires-at",
    ),
    "keys-create-rate-limit": (
        ["keys", "create", "--name", "E", "--all-abilities", "--rate-limit", "6\x000"],
        "--rate-limit",
    ),
    "keys-list-search": (["keys", "list", "--search", "erp\x00"], "--search"),
    "keys-deactivate-prefix": (["keys", "deactivate", "sgk_\x00"], "PREFIX"),
    "users-create-email": (["users", "create", "new\x00@example.com", "--name", "N"], "EMAIL"),
    "users-create-name": (["users", "create", "new@example.com", "--name", "N\x7f"], "--name"),
    "seed-demo-scale": (["seed-demo", "--scale", "5\x00"], "--scale"),
}


@pytest.mark.parametrize("args,option", CONTROL_IN_OPTION.values(), ids=CONTROL_IN_OPTION.keys())
def test_a_control_character_in_any_option_is_a_one_line_error_naming_it(app, runner, owner, args, option):
    """NUL and the like never reach the database (PostgreSQL refuses NUL): one line, nothing written."""
    if args[:2] == ["keys", "create"] and "--owner" not in args:
        args = [*args, "--owner", owner]
    line = _one_line_error(runner.invoke(args=args))
    assert option in line and "control character" in line, line
    assert _count(app, ApiKey) == 0
    assert _count(app, User) == 1  # the owner fixture's account only


def test_a_control_character_in_the_password_from_stdin_is_refused_without_echoing_it(app, runner):
    result = runner.invoke(
        args=["users", "create", "x@example.com", "--name", "X", "--admin", "--password-stdin"],
        input="correct\thorse battery\n",
    )
    line = _one_line_error(result)
    assert "control character" in line and "horse" not in result.output
    assert _count(app, User) == 0


@pytest.mark.parametrize("value", ["1_0", " 60", "60 ", "+60", "\u0666\u0660", "\uff16\uff10"])
def test_rate_limit_takes_ascii_digits_only(app, runner, owner, value):
    """click's int reads "1_0", " 60" and non-ASCII digits as numbers; these are refused."""
    result = runner.invoke(
        args=["keys", "create", "--name", "E", "--owner", owner, "--all-abilities", "--rate-limit", value]
    )
    line = _one_line_error(result)
    assert "--rate-limit" in line and "digits 0-9" in line
    assert _count(app, ApiKey) == 0


@pytest.mark.parametrize("value", ["1_0", " 5", "\u0665", "\uff15"])
def test_seed_scale_takes_ascii_digits_only(app, runner, value):
    line = _one_line_error(runner.invoke(args=["seed-demo", "--scale", value]))
    assert "--scale" in line and "digits 0-9" in line


@pytest.mark.both_databases
@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_expires_at_outside_the_calendar_in_utc_is_a_one_line_error(app, runner, owner, instant):
    """Converting these to UTC overflows; it printed a traceback."""
    result = runner.invoke(
        args=["keys", "create", "--name", "E", "--owner", owner, "--all-abilities", "--expires-at", instant]
    )
    line = _one_line_error(result)
    assert "Expires At is out of range" in line
    assert "Traceback" not in result.output
    assert _count(app, ApiKey) == 0


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("command", ["activate", "deactivate"])
def test_keys_activate_or_deactivate_of_a_rolled_key_is_a_one_line_error(app, runner, make_key, command):
    """A key past its roll cutover offers Revoke only: `flask keys activate|deactivate` says so
    in one line, writes no audit event, and the key keeps answering key_rolled."""
    created = make_key()
    prefix = created.key.prefix
    assert runner.invoke(args=["keys", "roll", prefix, "--grace", "0"]).exit_code == 0
    counts = (_count(app, ApiKey), _count(app, AuditEvent))
    result = runner.invoke(args=["keys", command, prefix])
    assert _one_line_error(result) == (
        f"Error: key {prefix} is rolled and past its cutover; it can only be revoked, not {command}d"
    )
    assert (_count(app, ApiKey), _count(app, AuditEvent)) == counts
    with app.app_context():
        assert verify(created.raw_key).reason == KEY_ROLLED


def test_usage_prune_reports_a_database_failure_in_one_line(app, runner):
    """`flask usage prune` before the usage tables exist (migrations not run): one line, no traceback."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE key_usage_hourly RENAME TO key_usage_hourly_away"))
    try:
        line = _one_line_error(runner.invoke(args=["usage", "prune"]))
    finally:
        with app.app_context(), db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE key_usage_hourly_away RENAME TO key_usage_hourly"))
    assert line.startswith("Error: could not prune usage counts (") and "key_usage_hourly" in line


def test_usage_prune_takes_no_arguments(runner):
    assert "unexpected extra argument" in _one_line_error(runner.invoke(args=["usage", "prune", "now"]))


@pytest.mark.both_databases
def test_keys_create_with_a_scope_and_keys_list_shows_it(app, runner, owner, make_warehouse):
    """--warehouse, --marketplace and --hide (each repeatable) are stored sorted, once each."""
    make_warehouse("RNO4")
    result = runner.invoke(
        args=[
            "keys", "create", "--name", "3PL feed", "--owner", owner, "--ability", "inventory:list",
            "--warehouse", "RNO4", "--warehouse", "RNO4", "--marketplace", "Amazon.ca",
            "--hide", "costs", "--hide", "buyer-details",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    prefix = result.stdout.strip().splitlines()[-1][:12]
    with app.app_context():
        key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        assert (key.warehouses, key.marketplaces, key.hidden_fields) == (
            ["RNO4"],
            ["Amazon.ca"],
            ["buyer-details", "costs"],
        )
    listing = runner.invoke(args=["keys", "list"])
    assert "SCOPE" in listing.stdout.splitlines()[0]
    assert "warehouses=RNO4 marketplaces=Amazon.ca hide=buyer-details,costs" in listing.stdout


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--warehouse", "NOPE", "--warehouse", "ZZZ9"], "Unknown warehouse code: NOPE, ZZZ9."),
        (["--marketplace", "Amazon.moon"], "Unknown marketplace: Amazon.moon."),
        (["--hide", "prices"], "group: prices. Hide any of: costs, buyer-details, contact-details."),
        (["--warehouse"], "--warehouse"),
    ],
)
def test_an_unknown_scope_value_is_a_one_line_error_and_writes_nothing(app, runner, owner, extra, needle):
    result = runner.invoke(
        args=["keys", "create", "--name", "Feed", "--owner", owner, "--ability", "brands:list", *extra]
    )
    assert needle in _one_line_error(result)
    assert _count(app, ApiKey) == 0

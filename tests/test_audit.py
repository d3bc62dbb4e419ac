"""The audit log (SPEC §12): every change recorded in its own transaction, never a secret,
and no way to edit or delete an event."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask

from app import audit
from app.extensions import db
from app.keys import service
from app.validation.errors import Conflict, InvalidInput
from tests.audit_helpers import event_count, stored_events

# Both databases: audit queries: newest first, limits, filters.
pytestmark = pytest.mark.both_databases

EVENT_LINE = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)  (?P<actor>\S+)  (?P<action>\S+)  (?P<prefix>\S+)"
    r"  (?P<details>\{.*\})  (?P<address>\S+)"
)


def test_key_lifecycle_is_recorded_with_actor_and_prefix(app: Flask, make_key: Any) -> None:
    prefix = make_key(name="Feed", abilities=["brands:list"], actor="ada@example.com").key.prefix
    with app.app_context():
        service.deactivate_key(prefix, actor="ada@example.com")
        service.activate_key(prefix, actor="cli")
        service.revoke_key(prefix, actor="grace@example.com")
    events = stored_events(app, key_prefix=prefix)
    assert [(e["action"], e["actor"]) for e in events] == [
        ("key.created", "ada@example.com"),
        ("key.deactivated", "ada@example.com"),
        ("key.activated", "cli"),
        ("key.revoked", "grace@example.com"),
    ]
    created = events[0]["details"]
    assert created["name"] == "Feed"
    assert created["abilities"] == ["brands:list"]
    assert created["rate_limit"] == 60
    assert created["owner"] == "owner@example.com"
    assert all(e["created_at"] is not None for e in events)


def test_edit_records_only_what_changed_old_to_new(app: Flask, make_key: Any) -> None:
    prefix = make_key(name="Feed", abilities=["brands:list", "products:list"], rate_limit=60).key.prefix
    with app.app_context():
        service.edit_key(
            prefix,
            actor="ada@example.com",
            name="Feed",  # unchanged: not in the diff
            abilities=["products:list", "brands:show"],
            rate_limit=120,
            expires_at="2099-01-02T03:04:05Z",
        )
    (event,) = stored_events(app, action="key.updated")
    assert event["actor"] == "ada@example.com"
    assert event["key_prefix"] == prefix
    assert event["details"] == {
        "changes": {
            "abilities": {"old": ["brands:list", "products:list"], "new": ["products:list", "brands:show"]},
            "rate_limit": {"old": 60, "new": 120},
            "expires_at": {"old": None, "new": "2099-01-02T03:04:05Z"},
        }
    }


def test_edit_that_changes_nothing_writes_no_event(app: Flask, make_key: Any) -> None:
    prefix = make_key(name="Feed", abilities=["brands:list", "products:list"]).key.prefix
    before = event_count(app)
    with app.app_context():
        # The same abilities in another order are the same grant.
        service.edit_key(
            prefix, actor="ada@example.com", name=" Feed ", abilities=["products:list", "brands:list"]
        )
    assert event_count(app) == before


def test_edit_diff_covers_allowed_ips_and_description_by_field_name(app: Flask, make_key: Any) -> None:
    """Fields set by other means (the allowed-IPs form, a description) are diffed like the rest."""
    prefix = make_key().key.prefix
    with app.app_context():
        key = service.get_key(prefix)
        before = service.audited_values(key)
        key.allowed_ips = ["10.0.0.0/8"]
        key.description = "Nightly export"
        after = service.audited_values(key)
        db.session.rollback()
    assert before["allowed_ips"] == [] and after["allowed_ips"] == ["10.0.0.0/8"]
    assert before["description"] is None and after["description"] == "Nightly export"


@pytest.mark.parametrize(
    "changes",
    [{"name": ""}, {"abilities": ["x:y"]}, {"rate_limit": 0}, {"expires_at": "2001-01-01T00:00:00Z"}],
    ids=["empty-name", "unknown-ability", "rate-0", "past-expiry"],
)
def test_refused_edit_writes_no_event(app: Flask, make_key: Any, changes: dict[str, Any]) -> None:
    prefix = make_key().key.prefix
    before = event_count(app)
    with app.app_context(), pytest.raises(InvalidInput):
        service.edit_key(prefix, actor="ada@example.com", **changes)
    assert event_count(app) == before


def test_refused_changes_write_no_event(app: Flask, make_key: Any, make_user: Any) -> None:
    """A refused create, a second revocation, an edit of a revoked key: no event for any."""
    owner = make_user()
    prefix = make_key().key.prefix
    with app.app_context():
        service.revoke_key(prefix, actor="ada@example.com")
    before = event_count(app)
    with app.app_context():
        with pytest.raises(InvalidInput):
            service.create_key(
                name="", owner=owner.email, abilities=["products:list"], actor="ada@example.com"
            )
        for action, kwargs in [
            (service.revoke_key, {}),
            (service.activate_key, {}),
            (service.edit_key, {"name": "new"}),
        ]:
            with pytest.raises(Conflict):
                action(prefix, actor="ada@example.com", **kwargs)
    assert event_count(app) == before


def test_event_is_committed_with_its_change_not_before(app: Flask, make_key: Any) -> None:
    """``record`` only adds to the session: rolled back with the change, nothing is left."""
    prefix = make_key().key.prefix
    before = event_count(app)
    with app.app_context():
        audit.record("key.deactivated", actor="ada@example.com", key_prefix=prefix)
        db.session.rollback()
    assert event_count(app) == before


def test_user_creation_is_recorded(app: Flask, make_user: Any) -> None:
    make_user(email="grace@example.com", name="Grace", actor="ada@example.com")
    (event,) = stored_events(app, action="user.created")
    assert event["actor"] == "ada@example.com"
    assert event["key_prefix"] is None
    assert event["details"] == {"email": "grace@example.com", "name": "Grace", "kind": "user"}


def test_record_refuses_unknown_actions(app: Flask) -> None:
    with app.app_context(), pytest.raises(ValueError, match="unknown audit action"):
        audit.record("key.deleted", actor="cli")


def test_cli_changes_are_recorded_as_cli(app: Flask, runner: Any, make_user: Any) -> None:
    make_user(email="sync@example.com", name="Sync", is_system=True)
    result = runner.invoke(
        args=["keys", "create", "--name", "CLI", "--owner", "sync@example.com", "--ability", "brands:list"]
    )
    assert result.exit_code == 0, result.output
    prefix = result.stdout.strip().splitlines()[-1][:12]
    assert runner.invoke(args=["keys", "deactivate", prefix]).exit_code == 0
    assert (
        runner.invoke(args=["users", "create", "bot@example.com", "--name", "Bot", "--system"]).exit_code == 0
    )
    events = stored_events(app)
    assert [(e["action"], e["actor"], e["address"]) for e in events[1:]] == [
        ("key.created", "cli", None),
        ("key.deactivated", "cli", None),
        ("user.created", "cli", None),
    ]


def test_audit_list_prints_one_event_a_line_newest_first(app: Flask, runner: Any, make_key: Any) -> None:
    first = make_key(name="One", actor="ada@example.com").key.prefix
    second = make_key(name="Two", actor="grace@example.com").key.prefix
    with app.app_context():
        service.edit_key(first, actor="ada@example.com", rate_limit=90)
    result = runner.invoke(args=["audit", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    parsed = [EVENT_LINE.fullmatch(line) for line in lines]
    assert all(parsed), lines
    assert [(m["action"], m["prefix"]) for m in parsed] == [
        ("key.updated", first),
        ("key.created", second),
        ("key.created", first),
        ("user.created", "-"),
    ]
    assert json.loads(parsed[0]["details"]) == {"changes": {"rate_limit": {"old": 60, "new": 90}}}
    assert parsed[0]["actor"] == "ada@example.com" and parsed[0]["address"] == "-"

    by_key = runner.invoke(args=["audit", "list", "--key", first]).stdout.splitlines()
    assert [EVENT_LINE.fullmatch(line)["action"] for line in by_key] == ["key.updated", "key.created"]
    by_actor = runner.invoke(args=["audit", "list", "--actor", "GRACE@example.com"]).stdout.splitlines()
    assert [EVENT_LINE.fullmatch(line)["prefix"] for line in by_actor] == [second]
    limited = runner.invoke(args=["audit", "list", "--limit", "1"]).stdout.splitlines()
    assert limited == lines[:1]


# A zero-width space, a right-to-left override, a C1 control (NEL), a zero-width joiner.
INVISIBLE = "\u200b\u202e\x85\u200d"


def test_invisible_characters_in_actors_and_details_are_recorded_as_visible_escapes(app: Flask) -> None:
    with app.app_context():
        audit.record_now(
            "user.created",
            actor="ops\u200b@example.com",
            details={"name": "Mallory \u202etxt.exe", "email": "a\x85b@example.com", "kind": "user"},
        )
    (event,) = stored_events(app)
    assert event["actor"] == "ops\\u200b@example.com" != "ops@example.com"
    assert event["details"] == {
        "name": "Mallory \\u202etxt.exe",
        "email": "a\\u0085b@example.com",
        "kind": "user",
    }


def test_an_actor_escaped_past_its_column_is_cut_short_not_refused(app: Flask) -> None:
    actor = "a" + "\u200b" * 100 + "@example.com"
    with app.app_context():
        audit.record_now("session.signed_in", actor=actor)
    (event,) = stored_events(app)
    assert len(event["actor"]) == 254
    assert event["actor"].startswith("a\\u200b\\u200b") and event["actor"].endswith("…")


def test_audit_list_shows_invisible_characters_as_escapes(app: Flask, runner: Any) -> None:
    with app.app_context():
        audit.record_now("session.sign_in_failed", actor="ops\u200b@example.com")
        audit.record_now("user.created", actor="cli", details={"name": "Mallory \u202etxt.exe"})
    result = runner.invoke(args=["audit", "list"])
    assert result.exit_code == 0, result.output
    assert not any(ch in result.stdout for ch in INVISIBLE)
    created, failed = (EVENT_LINE.fullmatch(line) for line in result.stdout.splitlines())
    assert failed["actor"] == "ops\\u200b@example.com"
    assert json.loads(created["details"]) == {"name": "Mallory \\u202etxt.exe"}


@pytest.mark.parametrize(
    ("address", "stored"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("fe80::1%" + "eth0" * 20, "fe80::1"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("x" * 100, "invalid address"),
        ("203.0.113.9, 198.51.100.1", "invalid address"),
        ("", "invalid address"),
    ],
)
def test_an_address_is_stored_as_ipaddress_writes_it_or_as_invalid(
    app: Flask, address: str, stored: str
) -> None:
    with app.app_context():
        audit.record_now("session.sign_in_failed", actor="cli", address=address)
    (event,) = stored_events(app)
    assert event["address"] == stored


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "0"], "--limit"),
        (["--limit", "10001"], "--limit"),
        (["--limit", "ten"], "--limit"),
        (["--limit", "1_0"], "--limit"),
        (["--key", "not-a-prefix"], "--key"),
        (["--actor", "ada\x1b[31m@example.com"], "--actor"),
        (["--bogus"], "--bogus"),
    ],
)
def test_audit_list_bad_options_are_one_line_errors(runner: Any, args: list[str], message: str) -> None:
    result = runner.invoke(args=["audit", "list", *args])
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and message in lines[0]


def test_audit_list_limit_bounds_are_inclusive(runner: Any) -> None:
    for limit in ("1", "10000"):
        assert runner.invoke(args=["audit", "list", "--limit", limit]).exit_code == 0


def test_no_command_edits_or_deletes_events(app: Flask) -> None:
    audit_group = app.cli.commands["audit"]
    assert sorted(audit_group.commands) == ["list"]


def test_events_for_key_is_newest_first_and_limited(app: Flask, make_key: Any) -> None:
    prefix = make_key().key.prefix
    make_key()  # another key's events are not included
    with app.app_context():
        for _ in range(3):
            service.deactivate_key(prefix, actor="cli")
            service.activate_key(prefix, actor="cli")
        events = audit.events_for_key(prefix, limit=4)
        assert [e.action for e in events] == ["key.activated", "key.deactivated"] * 2
        assert len(audit.events_for_key(prefix)) == 7
        assert {e.key_prefix for e in audit.events_for_key(prefix)} == {prefix}

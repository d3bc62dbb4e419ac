"""``flask audit list --action NAME --since ISO8601 --csv``: filters, one-line errors, and the
same CSV as the panel's Export CSV (one writer)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from app import audit
from app.audit import export as audit_export
from app.audit.display import COLUMNS
from app.extensions import db
from app.validation.untrusted import NOT_AN_INSTANT
from tests.audit_helpers import event_count


def _at(app: Flask, prefix: str, when: str, action: str = "key.activated", **kwargs: Any) -> None:
    with app.app_context():
        event = audit.record(action, actor="cli", key_prefix=prefix, **kwargs)
        event.created_at = datetime.fromisoformat(when).replace(tzinfo=UTC)
        db.session.commit()


@pytest.fixture
def events(app: Flask) -> None:
    """Three events on 1, 2 and 3 March 2026; the middle one a revocation with an address."""
    _at(app, "sgk_MARCH001", "2026-03-01T10:00:00")
    _at(app, "sgk_MARCH002", "2026-03-02T10:00:00", action="key.revoked", address="=1+2", details={"a": 1})
    _at(app, "sgk_MARCH003", "2026-03-03T10:00:00")


def _prefixes(output: str) -> list[str]:
    return [line.split("  ")[3] for line in output.splitlines()]


def test_action_and_since_filter_the_events(runner: Any, events: None) -> None:
    result = runner.invoke(args=["audit", "list", "--action", "key.activated"])
    assert result.exit_code == 0, result.output
    assert _prefixes(result.output) == ["sgk_MARCH003", "sgk_MARCH001"]
    result = runner.invoke(args=["audit", "list", "--since", "2026-03-02T00:00:00Z"])
    assert _prefixes(result.output) == ["sgk_MARCH003", "sgk_MARCH002"]
    result = runner.invoke(args=["audit", "list", "--since", "2026-03-02", "--action", "key.activated"])
    assert _prefixes(result.output) == ["sgk_MARCH003"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--action", "key.deleted"], "Invalid value for '--action': 'key.deleted' is not one of"),
        (["--since", "yesterday"], f"Invalid value for '--since': {NOT_AN_INSTANT}"),
        (["--since", "2026-03-01T00:00:00+25:00"], "Invalid value for '--since'"),
    ],
)
def test_bad_filters_are_one_line_errors(
    app: Flask, runner: Any, events: None, args: list[str], needle: str
) -> None:
    before = event_count(app)
    result = runner.invoke(args=["audit", "list", *args])
    assert result.exit_code != 0
    assert needle in result.output and result.output.count("\n") == 1
    assert event_count(app) == before


def test_csv_has_a_header_and_is_the_panels_export(app: Flask, runner: Any, events: None) -> None:
    result = runner.invoke(args=["audit", "list", "--since", "2026-03-02", "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows == [
        list(COLUMNS.values()),
        ["2026-03-03T10:00:00Z", "cli", "key.activated", "sgk_MARCH003", "{}", ""],
        # The stored address of a bad X-Forwarded-For is "invalid address"; the JSON stays JSON.
        ["2026-03-02T10:00:00Z", "cli", "key.revoked", "sgk_MARCH002", '{"a":1}', "invalid address"],
    ]
    with app.app_context():
        since = datetime(2026, 3, 2, tzinfo=UTC)
        panel = "".join(audit_export.csv_lines(audit.stream_events(since=since)))
    # (click's test runner reads CRLF back as LF)
    assert result.output == panel.replace("\r\n", "\n")


def test_csv_respects_the_limit(runner: Any, events: None) -> None:
    result = runner.invoke(args=["audit", "list", "--csv", "--limit", "1"])
    assert len(list(csv.reader(io.StringIO(result.output)))) == 2

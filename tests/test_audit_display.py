"""How an audit event's details read for people (app.audit.display), whatever page shows them."""

from __future__ import annotations

from datetime import UTC, datetime

from app.audit.display import MINUS, describe, label


def test_a_list_change_reads_as_added_and_removed_in_list_order() -> None:
    (line,) = describe(
        {"changes": {"abilities": {"old": ["a:list", "b:list"], "new": ["c:show", "a:list", "d:show"]}}}
    )
    assert (line.kind, line.added, line.removed) == ("list_change", ("c:show", "d:show"), ("b:list",))
    assert line.text == f"Abilities: + c:show, + d:show, {MINUS} b:list"


def test_allowed_ips_set_from_none_reads_as_added_and_cleared_reads_as_removed() -> None:
    added, removed = describe(
        {
            "changes": {
                "allowed_ips": {"old": None, "new": ["10.0.0.0/8"]},
                "abilities": {"old": ["x"], "new": []},
            }
        }
    )
    assert added.text == "Allowed IPs: + 10.0.0.0/8"
    assert removed.text == f"Abilities: {MINUS} x"


def test_a_reordered_list_with_nothing_added_or_removed_reads_old_to_new() -> None:
    (line,) = describe({"changes": {"abilities": {"old": ["a", "b"], "new": ["b", "a"]}}})
    assert line.text == "Abilities: a, b → b, a"


def test_times_of_old_rows_read_to_the_second_in_utc_whatever_they_hold() -> None:
    expected = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    for stored in ("2026-01-31T12:00:00Z", "2026-01-31T12:00:00.123456+00:00", "2026-01-31T13:00:00.5+01:00"):
        (line,) = describe({"sunset_at": stored})
        assert line.value is not None and line.value.time == expected
        assert line.text == "Old Key Stops: 2026-01-31T12:00:00Z"
    (line,) = describe({"sunset_at": "not a time"})
    assert line.value is not None and line.value.time is None and line.text == "Old Key Stops: not a time"


def test_nothing_reads_as_the_key_page_says_it_and_a_new_keys_unset_fields_are_left_out() -> None:
    lines = describe(
        {
            "changes": {
                "expires_at": {"old": None, "new": "2026-01-31T12:00:00Z"},
                "allowed_ips": {"old": ["::1"], "new": None},
            },
            "name": "Feed",
            "description": None,
            "rate_limit": 1500,
        }
    )
    assert [line.text for line in lines] == [
        "Expires At: Never → 2026-01-31T12:00:00Z",
        f"Allowed IPs: {MINUS} ::1",
        "Name: Feed",
        "Rate Limit: 1,500",
    ]


def test_an_unknown_detail_name_is_spelled_out() -> None:
    assert label("new_field_name") == "New Field Name"
    assert label("rate_limit") == "Rate Limit"

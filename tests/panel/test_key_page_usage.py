"""The Usage section of a key's page (SPEC §13): the chart and its table, the operations, used
and unused abilities, Remove unused and Grant, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.catalogue import ALL_ABILITIES
from app.keys import rolling, service
from app.models.api_keys import ApiKey
from app.usage.history import OUTCOMES
from tests.audit_helpers import stored_events
from tests.conftest import TEST_ACTOR
from tests.panel.conftest import PanelClient
from tests.panel.refusals import assert_refused
from tests.usage.usage_rows import add_usage, created_days_ago, days_ago


class UsageSection(HTMLParser):
    """What the Usage section holds: the chart's bars, its accessible names, the tables' cells."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # > 0 inside <section id="key-usage">
        self.svg: dict[str, str | None] = {}
        self.svg_title = self.svg_desc = ""
        self.bars: dict[str, dict[str, int]] = {}  # day -> outcome -> count (from the rects)
        self.rects: list[dict[str, str | None]] = []
        self.day_totals: dict[str, int] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.forms: list[dict[str, Any]] = []
        self.inline: list[str] = []
        self.abilities: dict[str, str] = {}
        self._stack: list[str] = []
        self._day: str | None = None
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._form: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section" and values.get("id") == "key-usage":
            self.depth = 1
            return
        if not self.depth:
            return
        if tag == "section":
            self.depth += 1
        if "style" in values or any(name.startswith("on") for name in values) or tag in ("script", "style"):
            self.inline.append(tag)
        self._stack.append(tag)
        if tag == "svg":
            self.svg = values
        elif tag == "g" and values.get("data-day"):
            self._day = values["data-day"]
            self.bars[self._day] = {}
            self.day_totals[self._day] = int(values["data-total"] or 0)
        elif tag == "rect" and self._day:
            outcome = values["data-outcome"] or ""
            day = self.bars[self._day]
            day[outcome] = day.get(outcome, 0) + int(values["data-count"] or 0)
            self.rects.append({**values, "day": self._day})
        elif tag == "table":
            self._table = values.get("id")
            self.tables[self._table or ""] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "form":
            self._form = {"attrs": values, "inputs": []}
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            self._form["inputs"].append((values.get("name"), values.get("value")))
        elif tag == "li" and values.get("data-ability"):
            self.abilities[values["data-ability"] or ""] = values.get("data-used") or ""

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.depth:
            return
        if tag == "section":
            self.depth -= 1
            return
        if self._stack:
            self._stack.pop()
        if tag == "g":
            self._day = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "form":
            self._form = None

    def handle_data(self, data: str) -> None:
        if not self.depth:
            return
        if self._cell is not None:
            self._cell.append(data)
        if self._stack[-2:] == ["svg", "title"]:
            self.svg_title += data
        elif self._stack[-2:] == ["svg", "desc"]:
            self.svg_desc += data


def _usage(panel: PanelClient, prefix: str) -> UsageSection:
    response = panel.get(f"/settings/api-keys/{prefix}")
    assert response.status_code == 200, response.text
    parser = UsageSection()
    parser.feed(response.text)
    assert parser.svg, "no chart in the Usage section"
    return parser


def _api(client: FlaskClient, raw_key: str, path: str) -> int:
    return client.get(path, headers={"X-API-Key": raw_key}).status_code


def _flush(app: Flask) -> None:
    from app import usage

    with app.app_context():
        usage.flush()


def _abilities(app: Flask, prefix: str) -> list[str]:
    from app.extensions import db

    with app.app_context():
        return list(db.session.get(ApiKey, _id(app, prefix)).abilities)


def _id(app: Flask, prefix: str) -> int:
    from tests.usage.usage_rows import key_id

    return key_id(app, prefix)


def _updates(app: Flask, prefix: str) -> list[dict[str, Any]]:
    return stored_events(app, action="key.updated", key_prefix=prefix)


@pytest.fixture
def used_key(app: Flask, client: FlaskClient, make_key: Any) -> Any:
    """A key created 45 days ago, granted products:list, products:show and inventory:list, that
    made real requests: 3 product lists, 2 refused customer lists, 1 product not found, 1
    introspection."""
    created = make_key(name="Storefront", abilities=["products:list", "products:show", "inventory:list"])
    created_days_ago(app, created.key.prefix, 45)
    for _ in range(3):
        assert _api(client, created.raw_key, "/api/v1/products") == 200
    for _ in range(2):
        assert _api(client, created.raw_key, "/api/v1/customers") == 403
    assert _api(client, created.raw_key, "/api/v1/products/424242") == 404
    assert _api(client, created.raw_key, "/api/v1/key") == 200
    _flush(app)
    return created


@pytest.mark.both_databases
def test_chart_shows_todays_requests_by_outcome(signed_in: PanelClient, used_key: Any) -> None:
    section = _usage(signed_in, used_key.key.prefix)
    today = datetime.now(UTC).date().isoformat()
    assert len(section.bars) == 30
    assert section.bars[today] == {"Succeeded": 4, "Refused": 2, "Bad requests": 1}
    assert section.day_totals[today] == 7
    assert sum(section.day_totals.values()) == 7
    # The data table beside the chart holds the same numbers.
    header, *rows, total = section.tables["usage-days"]
    assert header == ["Day (UTC)", *OUTCOMES, "Total"]
    assert len(rows) == 30
    assert rows[-1] == [today, "4", "2", "0", "1", "7"]
    assert total == ["Total", "4", "2", "0", "1", "7"]


def test_chart_is_an_accessible_image_without_inline_style_or_script(
    signed_in: PanelClient, used_key: Any
) -> None:
    section = _usage(signed_in, used_key.key.prefix)
    assert section.svg["role"] == "img"
    assert section.svg["viewbox"] == "0 0 800 260"
    assert section.svg["aria-labelledby"] == "usage-chart-title"
    assert section.svg["aria-describedby"] == "usage-chart-desc"
    assert section.svg_title == "Requests per day, last 30 days"
    assert "7 in all (4 succeeded, 2 refused, 0 limited, 1 bad requests)" in section.svg_desc
    assert section.inline == []


@pytest.mark.both_databases
def test_operations_table_counts_each_operation(signed_in: PanelClient, used_key: Any) -> None:
    section = _usage(signed_in, used_key.key.prefix)
    header, *rows = section.tables["usage-operations"]
    assert header == ["Operation", *OUTCOMES, "Total", "Last use"]
    counts = {row[0]: row[1:6] for row in rows}
    assert counts == {
        "products:list": ["3", "0", "0", "0", "3"],
        "customers:list": ["0", "2", "0", "0", "2"],
        "products:show": ["0", "0", "0", "1", "1"],
        "Key introspection (GET /api/v1/key)": ["1", "0", "0", "0", "1"],
    }
    assert all(row[6] == "just now" for row in rows)


def test_granted_abilities_are_marked_used_or_unused(signed_in: PanelClient, used_key: Any) -> None:
    section = _usage(signed_in, used_key.key.prefix)
    assert section.abilities == {"products:list": "yes", "products:show": "yes", "inventory:list": "no"}
    (remove,) = [f for f in section.forms if f["attrs"].get("hx-post", "").endswith("/remove-unused")]
    assert remove["inputs"] == [("abilities", "inventory:list")]
    assert "Remove 1 unused ability from “Storefront”" in remove["attrs"]["hx-confirm"]


def test_refused_abilities_are_listed_with_a_grant_button(signed_in: PanelClient, used_key: Any) -> None:
    section = _usage(signed_in, used_key.key.prefix)
    header, *rows = section.tables["usage-refused"]
    assert header == ["Ability", "Refused (403)", "Last time", "Actions"]
    assert [row[:3] for row in rows] == [["customers:list", "2", "just now"]]
    (grant,) = [f for f in section.forms if f["attrs"].get("hx-post", "").endswith("/abilities/grant")]
    assert grant["inputs"] == [("ability", "customers:list")]
    assert grant["attrs"]["hx-confirm"].startswith("Grant customers:list to “Storefront”")


def test_remove_unused_takes_effect_on_the_next_request_and_is_audited_once(
    app: Flask, client: FlaskClient, signed_in: PanelClient, used_key: Any
) -> None:
    prefix = used_key.key.prefix
    url = f"/settings/api-keys/{prefix}/abilities/remove-unused"
    response = signed_in.post(url, {"abilities": "inventory:list"})
    assert response.status_code == 200, response.text
    assert response.text == ""
    assert response.headers["HX-Refresh"] == "true"  # htmx reloads the page, no script
    # The very next request with the same (already proven) key is refused for the removed ability.
    refused = client.get("/api/v1/inventory", headers={"X-API-Key": used_key.raw_key})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["details"]["required_ability"] == "inventory:list"
    assert _api(client, used_key.raw_key, "/api/v1/products") == 200
    assert _abilities(app, prefix) == ["products:list", "products:show"]
    (event,) = _updates(app, prefix)
    assert event["actor"] == "admin@example.com"
    assert event["details"]["changes"] == {
        "abilities": {
            "old": ["products:list", "products:show", "inventory:list"],
            "new": ["products:list", "products:show"],
        }
    }
    assert event["details"]["reason"] == "Removed unused abilities (no request in the last 30 days)"
    # The page says what happened after its reload.
    page = signed_in.get(f"/settings/api-keys/{prefix}").text
    assert "Removed 1 unused ability: inventory:list." in page


def test_remove_unused_with_nothing_unused_is_refused(
    app: Flask, client: FlaskClient, signed_in: PanelClient, make_key: Any
) -> None:
    created = make_key(abilities=["products:list"])
    created_days_ago(app, created.key.prefix, 31)
    assert _api(client, created.raw_key, "/api/v1/products") == 200
    _flush(app)
    response = signed_in.post(f"/settings/api-keys/{created.key.prefix}/abilities/remove-unused")
    assert assert_refused(response, 409) == (
        f"Nothing removed: every ability of key {created.key.prefix} was used in the last 30 days."
    )
    assert _updates(app, created.key.prefix) == []


def test_remove_unused_never_leaves_a_key_without_abilities(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    prefix = make_key(abilities=["products:list", "customers:show"]).key.prefix
    created_days_ago(app, prefix, 31)
    section = _usage(signed_in, prefix)
    assert not [f for f in section.forms if f["attrs"].get("hx-post", "").endswith("/remove-unused")]
    page = signed_in.get(f"/settings/api-keys/{prefix}").text
    assert "A key keeps at least one ability" in page
    response = signed_in.post(f"/settings/api-keys/{prefix}/abilities/remove-unused")
    assert response.status_code == 409
    assert "a key keeps at least one ability, so deactivate or revoke it instead" in response.text
    assert _abilities(app, prefix) == ["products:list", "customers:show"]
    assert _updates(app, prefix) == []


@pytest.mark.both_databases
def test_remove_unused_keeps_an_ability_used_since_the_page_was_shown(
    app: Flask, client: FlaskClient, signed_in: PanelClient, used_key: Any
) -> None:
    prefix = used_key.key.prefix
    assert _api(client, used_key.raw_key, "/api/v1/inventory") == 200
    _flush(app)
    response = signed_in.post(
        f"/settings/api-keys/{prefix}/abilities/remove-unused", {"abilities": "inventory:list"}
    )
    assert response.status_code == 409
    assert _abilities(app, prefix) == ["products:list", "products:show", "inventory:list"]
    assert _updates(app, prefix) == []


def test_grant_takes_effect_on_the_next_request_and_is_audited(
    app: Flask, client: FlaskClient, signed_in: PanelClient, used_key: Any
) -> None:
    prefix = used_key.key.prefix
    response = signed_in.post(f"/settings/api-keys/{prefix}/abilities/grant", {"ability": "customers:list"})
    assert response.status_code == 200, response.text
    assert _api(client, used_key.raw_key, "/api/v1/customers") == 200
    assert _abilities(app, prefix) == ["products:list", "products:show", "inventory:list", "customers:list"]
    (event,) = _updates(app, prefix)
    assert event["details"]["changes"]["abilities"]["new"][-1] == "customers:list"
    assert event["details"]["reason"] == "Granted an ability the key was refused"
    # Once granted, the ability is no longer listed as refused.
    _flush(app)
    page = signed_in.get(f"/settings/api-keys/{prefix}").text
    assert "Granted customers:list." in page
    assert 'id="usage-refused"' not in page


@pytest.mark.parametrize(
    ("ability", "status", "message"),
    [
        ("admin:everything", 400, "Unknown ability: admin:everything."),
        ("products:list", 409, "Not granted: key {prefix} already has the products:list ability."),
        ("", 400, "Choose the ability to grant."),
        ("products:\x00list", 400, None),
    ],
)
def test_grant_refuses_bad_input_and_writes_nothing(
    app: Flask, signed_in: PanelClient, used_key: Any, ability: str, status: int, message: str | None
) -> None:
    prefix = used_key.key.prefix
    response = signed_in.post(f"/settings/api-keys/{prefix}/abilities/grant", {"ability": ability})
    text = assert_refused(response, status)
    if message is not None:
        assert text == message.format(prefix=prefix)
    assert _abilities(app, prefix) == ["products:list", "products:show", "inventory:list"]
    assert _updates(app, prefix) == []


def test_remove_unused_refuses_an_unknown_ability(app: Flask, signed_in: PanelClient, used_key: Any) -> None:
    prefix = used_key.key.prefix
    data = {"abilities": ["inventory:list", "root:all"]}
    response = signed_in.post(f"/settings/api-keys/{prefix}/abilities/remove-unused", data)
    assert assert_refused(response, 400) == "Unknown ability: root:all."
    assert _updates(app, prefix) == []


@pytest.mark.parametrize("action", ["remove-unused", "grant"])
def test_usage_actions_need_the_csrf_token(
    app: Flask, signed_in: PanelClient, used_key: Any, action: str
) -> None:
    prefix = used_key.key.prefix
    url = f"/settings/api-keys/{prefix}/abilities/{action}"
    response = signed_in.post(url, {"ability": "customers:list", "abilities": "inventory:list"}, csrf=False)
    assert response.status_code == 400
    assert _abilities(app, prefix) == ["products:list", "products:show", "inventory:list"]
    assert _updates(app, prefix) == []


def test_a_revoked_key_shows_its_usage_without_buttons_and_refuses_changes(
    app: Flask, signed_in: PanelClient, used_key: Any
) -> None:
    prefix = used_key.key.prefix
    with app.app_context():
        service.revoke_key(prefix, actor=TEST_ACTOR)
    section = _usage(signed_in, prefix)
    assert section.forms == []
    assert sum(section.day_totals.values()) == 7
    for action, data in (("remove-unused", {}), ("grant", {"ability": "customers:list"})):
        response = signed_in.post(f"/settings/api-keys/{prefix}/abilities/{action}", data)
        assert response.status_code == 409
        assert f"key {prefix} is revoked" in response.text
    assert _abilities(app, prefix) == ["products:list", "products:show", "inventory:list"]
    assert _updates(app, prefix) == []


def test_usage_actions_on_an_unknown_key_are_404(signed_in: PanelClient) -> None:
    response = signed_in.post("/settings/api-keys/sgk_AAAAAAAA/abilities/grant", {"ability": "products:list"})
    assert response.status_code == 404


def test_without_htmx_remove_unused_goes_back_to_the_page(
    app: Flask, signed_in: PanelClient, used_key: Any
) -> None:
    prefix = used_key.key.prefix
    response = signed_in.post(
        f"/settings/api-keys/{prefix}/abilities/remove-unused", {"abilities": "inventory:list"}, htmx=False
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/settings/api-keys/{prefix}"


@pytest.mark.both_databases
def test_a_rolled_keys_history_shows_on_its_successors_page(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    old = make_key(abilities=["products:list", "inventory:list"]).key
    created_days_ago(app, old.prefix, 60)
    add_usage(
        app, old.prefix, (days_ago(4), "products:list", 200, 40), (days_ago(2), "suppliers:list", 403, 3)
    )
    with app.app_context():
        new_prefix = rolling.roll_key(old.prefix, actor=TEST_ACTOR, grace="1h").key.prefix
    section = _usage(signed_in, new_prefix)
    assert sum(section.day_totals.values()) == 43
    # The new key is minutes old, but inherits its predecessor's 60 days: it is judged.
    assert section.abilities == {"products:list": "yes", "inventory:list": "no"}
    assert [row[:2] for row in section.tables["usage-refused"][1:]] == [["suppliers:list", "3"]]


def test_a_key_never_used_says_so(signed_in: PanelClient, make_key: Any) -> None:
    prefix = make_key(abilities=list(ALL_ABILITIES[:2])).key.prefix
    section = _usage(signed_in, prefix)
    assert sum(section.day_totals.values()) == 0
    assert section.svg_desc.startswith("No requests from ")
    page = signed_in.get(f"/settings/api-keys/{prefix}").text
    assert "No requests in the last 30 days." in page


@pytest.mark.both_databases
def test_chart_scales_a_long_busy_history(app: Flask, signed_in: PanelClient, make_key: Any) -> None:
    prefix = make_key(abilities=["products:list"]).key.prefix
    now = datetime.now(UTC)
    rows = [(now - timedelta(days=d), "products:list", 200, 1000 + d) for d in range(0, 60)]
    add_usage(app, prefix, *rows)
    section = _usage(signed_in, prefix)
    assert sum(section.day_totals.values()) == sum(1000 + d for d in range(30))


@pytest.fixture
def rolling_pair(app: Flask, client: FlaskClient, make_key: Any) -> tuple[str, str]:
    """(old, new): a key created 60 days ago, called 40 times 4 days ago and 3 times today, then
    rolled with 7 days' grace; the new key made 5 product lists and 1 refused customer list."""
    old = make_key(name="Storefront", abilities=["products:list", "inventory:list"])
    created_days_ago(app, old.key.prefix, 60)
    add_usage(app, old.key.prefix, (days_ago(4), "products:list", 200, 40))
    for _ in range(3):
        assert _api(client, old.raw_key, "/api/v1/products") == 200
    with app.app_context():
        new = rolling.roll_key(old.key.prefix, actor=TEST_ACTOR, grace="7d")
        new_raw, new_prefix = new.raw_key, new.key.prefix
    for _ in range(5):
        assert _api(client, new_raw, "/api/v1/products") == 200
    assert _api(client, new_raw, "/api/v1/customers") == 403
    _flush(app)
    return old.key.prefix, new_prefix


def test_a_chains_newest_page_tells_each_keys_share_apart(
    signed_in: PanelClient, rolling_pair: tuple[str, str]
) -> None:
    """During the grace period the new key's page shows the whole chain, and whether the old key
    is still called: per key, in the chart's bars, per day and per operation."""
    old, new = rolling_pair
    section = _usage(signed_in, new)
    today = datetime.now(UTC).date().isoformat()
    assert sum(section.day_totals.values()) == 49
    header, *rows = section.tables["usage-keys"]
    assert header == ["Key", *OUTCOMES, "Total", "Last request"]
    assert [row[0] for row in rows] == [f"{new} this key", f"{old} old key, rolling: stops in 6 days"]
    assert [row[1:6] for row in rows] == [["5", "1", "0", "0", "6"], ["43", "0", "0", "0", "43"]]
    assert rows[0][6] == rows[1][6] == "just now"
    # Today's bar: the old key's 3 requests drawn below (and faded), then the new key's 6.
    todays = [(r["data-key"], r["data-outcome"], r["data-count"]) for r in section.rects if r["day"] == today]
    assert todays == [(old, "Succeeded", "3"), (new, "Succeeded", "5"), (new, "Refused", "1")]
    faded = {r["data-key"] for r in section.rects if "usage-bar--older" in (r["class"] or "")}
    assert faded == {old}
    # The per-day table and the per-operation table split by key too.
    days_header, *day_rows, days_total = section.tables["usage-days"]
    assert days_header[-2:] == [new, old]
    assert day_rows[-1][-3:] == ["9", "6", "3"] and days_total[-2:] == ["6", "43"]
    operations = {row[0]: row for row in section.tables["usage-operations"][1:]}
    assert operations["products:list"][6] == f"{new} 5 {old} 43"
    assert operations["customers:list"][6] == f"{new} 1"


def test_an_old_keys_page_shows_its_own_requests_only(
    signed_in: PanelClient, rolling_pair: tuple[str, str]
) -> None:
    old, new = rolling_pair
    section = _usage(signed_in, old)
    assert sum(section.day_totals.values()) == 43
    assert "usage-keys" not in section.tables
    assert {row[0] for row in section.tables["usage-operations"][1:]} == {"products:list"}
    page = signed_in.get(f"/settings/api-keys/{old}").text
    assert "this key's own requests only: its new key" in page
    assert f'href="/settings/api-keys/{new}"' in page


def test_an_old_key_no_longer_called_shows_none_in_the_window(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    """The admin waits for the old key to fall silent: it is listed at zero while it still works."""
    old = make_key(abilities=["products:list"]).key.prefix
    created_days_ago(app, old, 90)
    add_usage(app, old, (days_ago(40), "products:list", 200, 12))
    with app.app_context():
        new = rolling.roll_key(old, actor=TEST_ACTOR, grace="24h").key.prefix
    add_usage(app, new, (days_ago(0), "products:list", 200, 2))
    rows = _usage(signed_in, new).tables["usage-keys"][1:]
    assert [(row[0].split()[0], row[5], row[6]) for row in rows] == [
        (new, "2", "just now"),
        (old, "0", "None in 30 days"),
    ]


@pytest.mark.parametrize(("age", "history"), [(0, "0 days"), (1, "1 day"), (20, "20 days")])
def test_a_key_younger_than_the_window_is_not_judged(
    app: Flask, client: FlaskClient, signed_in: PanelClient, make_key: Any, age: int, history: str
) -> None:
    """A key created minutes ago is not told its abilities are unused, offered to remove them, or
    hinted to deactivate itself: its page says how much history it has so far."""
    created = make_key(name="Brand new", abilities=["products:list", "inventory:list", "brands:list"])
    prefix = created.key.prefix
    created_days_ago(app, prefix, age)
    assert _api(client, created.raw_key, "/api/v1/products") == 200
    _flush(app)
    section = _usage(signed_in, prefix)
    waiting = "not judged"
    assert section.abilities == {"products:list": "yes", "inventory:list": waiting, "brands:list": waiting}
    assert not [f for f in section.forms if f["attrs"].get("hx-post", "").endswith("/remove-unused")]
    page = signed_in.get(f"/settings/api-keys/{prefix}").text
    usage_html = page[page.index('id="key-usage"') :]
    assert f"{history} of usage history so far" in usage_html
    for hint in ("Unused", "Remove unused", "deactivate", "Deactivate", "no longer needed"):
        assert hint not in usage_html
    response = signed_in.post(f"/settings/api-keys/{prefix}/abilities/remove-unused")
    assert_refused(
        response,
        409,
        f"Nothing removed: key {prefix} has {history} of usage history so far; its abilities are "
        "judged used or unused once it covers the last 30 days.",
    )
    assert _abilities(app, prefix) == ["products:list", "inventory:list", "brands:list"]
    assert _updates(app, prefix) == []


def test_a_young_key_with_no_request_at_all_gets_no_hint_to_deactivate(
    signed_in: PanelClient, make_key: Any
) -> None:
    prefix = make_key(abilities=["products:list"]).key.prefix
    page = signed_in.get(f"/settings/api-keys/{prefix}").text
    usage_html = page[page.index('id="key-usage"') :]
    assert "0 days of usage history so far" in usage_html
    assert "A key keeps at least one ability" not in usage_html and "deactivate" not in usage_html

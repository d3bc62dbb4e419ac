"""Settings -> Audit Log: who may see it, live search, pages, readable details; and the events
the panel itself writes (changes by the signed-in admin, sessions), never with a secret."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import audit
from app.audit.display import MINUS
from app.extensions import db
from app.keys import rolling, service
from app.models.types import utcnow
from tests.audit_helpers import event_count, stored_events
from tests.panel.conftest import ADMIN_PASSWORD, PanelClient, form_csrf_token

# Both databases: the audit log's search and pagination queries.
pytestmark = pytest.mark.both_databases

URL = "/settings/audit-log"
# The panel's one time format (app.panel.filters.time_tag): words, the exact UTC time on hover.
TIME_TAG = (
    r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" '
    r'title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC">[^<]+</time>'
)


def _rows(html: str) -> list[str]:
    """The action of each event row, top to bottom."""
    return re.findall(r'<tr class="audit-event" data-action="([^"]+)"', html)


def _details(html: str) -> list[list[str]]:
    """Each event row's detail lines as text (tags stripped, spaces collapsed), top to bottom."""
    rows = re.findall(r'<tr class="audit-event".*?</tr>', html, re.S)
    return [
        [
            " ".join(unescape(re.sub(r"<[^>]+>", " ", item)).split()).replace(" ,", ",")
            for item in re.findall(r"<li>(.*?)</li>", row, re.S)
        ]
        for row in rows
    ]


def _add_events(app: Flask, count: int, actor: str = "cli", action: str = "key.activated") -> None:
    """Store ``count`` events one second apart (oldest first), prefix sgk_EVENT<n>."""
    start = utcnow() - timedelta(hours=1)
    with app.app_context():
        for n in range(count):
            event = audit.record(action, actor=actor, key_prefix=f"sgk_EV{n:06d}", address="10.0.0.1")
            event.created_at = start + timedelta(seconds=n)
        db.session.commit()


def test_anonymous_visitor_is_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    response = client.get(URL + "?q=x", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"


def test_non_admin_is_refused(app: Flask, panel: PanelClient, admin: Any) -> None:
    assert panel.login(admin.email).status_code == 302
    with app.app_context():
        from app.models.users import User

        db.session.get(User, admin.id).is_admin = False
        db.session.commit()
    assert panel.get(URL).status_code == 403


def test_page_lists_events_newest_first_with_every_column(app: Flask, signed_in: PanelClient) -> None:
    _add_events(app, 3)
    response = signed_in.get(URL)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.text
    assert "<h1>Audit Log</h1>" in html
    headers = re.findall(r'<th scope="col">([^<]+)</th>', html)
    assert headers == ["Time", "Actor", "Action", "Key Prefix", "Details", "Address"]
    prefixes = re.findall(r'<a href="/settings/api-keys/(sgk_EV\d+)"><code>', html)
    assert prefixes == ["sgk_EV000002", "sgk_EV000001", "sgk_EV000000"]
    assert "<code>10.0.0.1</code>" in html
    # The sign-in of the admin viewing the page is the newest event of all.
    assert _rows(html)[0] == "session.signed_in"
    assert re.search(TIME_TAG, html)


def test_sidebar_links_to_the_audit_log(signed_in: PanelClient) -> None:
    keys_page = signed_in.get("/settings/api-keys").text
    assert re.search(
        r'<a href="/settings/audit-log" data-testid="audit-log-link"\s*>Audit Log</a>', keys_page
    )
    log_page = signed_in.get(URL).text
    assert re.search(
        r'<a href="/settings/audit-log" data-testid="audit-log-link"\s+aria-current="page">', log_page
    )


def test_search_box_is_live_htmx_targeting_the_rows(signed_in: PanelClient) -> None:
    html = signed_in.get(URL).text
    match = re.search(r'<input id="audit-search"[^>]*>', html, re.S)
    assert match
    box = match.group(0)
    for attribute in (
        'type="search"',
        'name="q"',
        'hx-get="/settings/audit-log"',
        'hx-trigger="input changed delay:300ms, search"',
        'hx-sync="this:replace"',
    ):
        assert attribute in box
    # Where the answer goes is inherited from the filters' form, for the search and each filter.
    form = re.search(r'<form id="audit-filters"[^>]*>', html, re.S)
    assert form
    for attribute in ('hx-target="#audit-rows"', 'hx-push-url="true"', 'hx-include=".audit-param"'):
        assert attribute in form.group(0)
    assert '<tbody id="audit-rows">' in html
    assert '<label for="audit-search">' in html


def test_search_matches_actor_prefix_or_action_in_any_case(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    prefix = make_key(actor="grace@example.com").key.prefix
    with app.app_context():
        service.deactivate_key(prefix, actor="ada@example.com")

    def search(q: str) -> list[str]:
        response = signed_in.get(f"{URL}?q={q}", htmx=True)
        assert response.status_code == 200
        return _rows(response.text)

    assert search("GRACE@") == ["key.created"]
    assert search(prefix[4:10].lower()) == ["key.deactivated", "key.created"]
    assert search("Deactivated") == ["key.deactivated"]
    assert search("session.") == ["session.signed_in"]
    assert search("%") == []
    assert search("nothing-like-this") == []
    assert "No events match this search." in signed_in.get(f"{URL}?q=zzz", htmx=True).text


def test_fragment_is_just_the_rows_and_pushes_the_canonical_url(app: Flask, signed_in: PanelClient) -> None:
    _add_events(app, 2)
    response = signed_in.get(f"{URL}?q=cli&page=1", htmx=True)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<tr class="audit-event"')
    assert "<html" not in response.text and "<h1>" not in response.text
    assert response.headers["HX-Push-Url"] == "/settings/audit-log?q=cli"
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "no-store"


def test_pushed_url_opened_directly_is_a_full_page(app: Flask, signed_in: PanelClient) -> None:
    _add_events(app, 60)
    response = signed_in.get(f"{URL}?q=cli&page=2")
    assert response.status_code == 200
    assert "<h1>Audit Log</h1>" in response.text
    assert 'value="cli"' in response.text
    assert len(_rows(response.text)) == 10


def test_pages_hold_fifty_events_and_link_both_ways(app: Flask, signed_in: PanelClient) -> None:
    _add_events(app, 120)
    first = signed_in.get(URL).text
    assert len(_rows(first)) == 50
    assert 'href="/settings/audit-log?page=2"' in first and 'rel="prev"' not in first
    second = signed_in.get(f"{URL}?page=2", htmx=True).text
    assert len(_rows(second)) == 50
    assert 'href="/settings/audit-log"' in second and 'href="/settings/audit-log?page=3"' in second
    third = signed_in.get(f"{URL}?page=3", htmx=True).text
    assert len(_rows(third)) == 22  # 120, the admin's user.created and sign-in: 122
    assert 'rel="next"' not in third
    assert 'hx-target="#audit-rows"' in third
    first_prefixes = set(re.findall(r"sgk_EV\d+", first))
    second_prefixes = set(re.findall(r"sgk_EV\d+", second))
    assert not first_prefixes & second_prefixes


@pytest.mark.parametrize(
    "query",
    ["q=a%00b", "q=%1b%5b31m", "page=abc", "page=%D9%A1", "page=1_0", "page=-1x"],
    ids=["nul", "escape", "page-letters", "page-arabic-digit", "page-underscore", "page-junk"],
)
def test_hostile_query_is_refused_with_a_message(signed_in: PanelClient, query: str) -> None:
    for htmx in (False, True):
        response = signed_in.get(f"{URL}?{query}", htmx=htmx)
        assert response.status_code == 422
        assert 'id="audit-search-error"' in response.text
        assert _rows(response.text) == []
        if htmx:
            assert response.headers["HX-Push-Url"] == "false"


def test_details_read_old_to_new(app: Flask, signed_in: PanelClient, make_key: Any) -> None:
    prefix = make_key(name="Feed", abilities=["brands:list"]).key.prefix
    with app.app_context():
        service.edit_key(prefix, actor="ada@example.com", name="Feed <b>v2</b>", rate_limit=90)
    html = signed_in.get(f"{URL}?q=key.updated", htmx=True).text
    assert _details(html) == [["Name: Feed → changed to Feed <b>v2</b>", "Rate Limit: 60 → changed to 90"]]
    assert "Feed &lt;b&gt;v2&lt;/b&gt;" in html
    created = signed_in.get(f"{URL}?q=key.created", htmx=True).text
    assert "Abilities: brands:list" in _details(created)[0]


def test_ability_changes_read_as_what_was_added_and_what_was_removed(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    prefix = make_key(abilities=["products:list", "inventory:list"]).key.prefix
    with app.app_context():
        service.edit_key(
            prefix,
            actor="ada@example.com",
            abilities=["customers:list", "products:list"],
            allowed_ips=["10.0.0.0/8"],
        )
    html = signed_in.get(f"{URL}?q=key.updated", htmx=True).text
    assert _details(html) == [
        [
            f"Abilities: + added customers:list, {MINUS} removed inventory:list",
            "Allowed IPs: + added 10.0.0.0/8",
        ]
    ]
    # The ability both lists hold is not repeated.
    assert "products:list" not in html


def test_every_time_on_the_page_has_one_format_and_no_microseconds(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    prefix = make_key(expires_at=utcnow() + timedelta(days=30)).key.prefix
    with app.app_context():
        rolling.roll_key(prefix, actor="cli", grace="24h")
        # An event stored before audit details used iso_utc: microseconds and an offset.
        old = audit.record(
            "key.roll_ended",
            actor="cli",
            key_prefix=prefix,
            details={"sunset_at": "2026-01-31T12:00:00.123456+00:00"},
        )
        old.created_at = utcnow() - timedelta(days=30)
        db.session.commit()
    html = signed_in.get(URL).text
    times = re.findall(r"<time [^>]*>[^<]*</time>", html)
    # Each event's time, the key's expiry, the roll's cutover and the old row's cutover.
    assert len(times) == len(_rows(html)) + 3
    assert all(re.fullmatch(TIME_TAG, tag) for tag in times), times
    assert '<time datetime="2026-01-31T12:00:00Z" title="2026-01-31 12:00:00 UTC">31 Jan 2026</time>' in html
    assert "123456" not in html
    # No time is written any other way: none in the text outside the <time> elements.
    text = re.sub(r"<time [^>]*>[^<]*</time>", "", html)
    assert not re.search(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d", re.sub(r"<[^>]+>", " ", text))


def test_every_audit_log_route_is_read_only(app: Flask, signed_in: PanelClient) -> None:
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(URL)]
    assert rules
    for rule in rules:
        assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
    before = event_count(app)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = signed_in.client.open(URL, method=method, headers=signed_in.headers())
        assert response.status_code == 405
    assert event_count(app) == before


def test_panel_changes_name_the_admin_and_the_address(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    prefix = make_key().key.prefix
    assert signed_in.post(f"/settings/api-keys/{prefix}/deactivate").status_code == 200
    form = {"name": "Renamed", "abilities": ["products:list"], "rate_limit": "60", "expires_at": ""}
    assert signed_in.post(f"/settings/api-keys/{prefix}", data=form).status_code == 200
    assert signed_in.delete(f"/settings/api-keys/{prefix}").status_code == 200
    events = stored_events(app, key_prefix=prefix)
    assert [e["action"] for e in events] == ["key.created", "key.deactivated", "key.updated", "key.revoked"]
    for event in events[1:]:
        assert event["actor"] == "admin@example.com"
        assert event["address"] == "127.0.0.1"
    assert events[2]["details"] == {"changes": {"name": {"old": "Test key", "new": "Renamed"}}}


def test_refused_panel_edit_writes_no_event(app: Flask, signed_in: PanelClient, make_key: Any) -> None:
    prefix = make_key().key.prefix
    before = event_count(app)
    form = {"name": "", "abilities": ["products:list"], "rate_limit": "0", "expires_at": ""}
    assert signed_in.post(f"/settings/api-keys/{prefix}", data=form).status_code == 422
    assert event_count(app) == before


def test_sessions_are_recorded_and_a_failed_sign_in_names_the_email_only(
    app: Flask, panel: PanelClient, admin: Any
) -> None:
    assert panel.login("Admin@Example.com", password="wrong password 123").status_code == 401
    assert panel.login(admin.email).status_code == 302
    assert panel.post("/logout", data={"csrf_token": panel.csrf_token}, htmx=False).status_code == 302
    events = [e for e in stored_events(app) if e["action"].startswith("session.")]
    assert [(e["action"], e["actor"]) for e in events] == [
        ("session.sign_in_failed", "admin@example.com"),
        ("session.signed_in", "admin@example.com"),
        ("session.signed_out", "admin@example.com"),
    ]
    assert all(e["address"] == "127.0.0.1" for e in events)
    stored = json.dumps(stored_events(app), default=str)
    assert "wrong password 123" not in stored
    assert ADMIN_PASSWORD not in stored


def test_a_password_typed_into_the_email_field_is_not_stored(app: Flask, panel: PanelClient) -> None:
    assert panel.login("hunter2-secret-pw", password="x" * 10).status_code in (400, 401)
    assert "hunter2-secret-pw" not in json.dumps(stored_events(app), default=str)


def test_a_password_with_an_at_sign_typed_into_the_email_field_is_not_stored_or_shown(
    app: Flask, panel: PanelClient, admin: Any, runner: Any
) -> None:
    for _ in range(2):
        assert panel.login("summer@2026!pass", password="x" * 10).status_code == 401
    assert panel.login("nobody@example.com", password="x" * 10).status_code == 401
    actors = [e["actor"] for e in stored_events(app, action="session.sign_in_failed")]
    assert all(re.fullmatch(r"unknown email \([0-9a-f]{8}\)", actor) for actor in actors), actors
    # The same text, the same tag: repeated attempts can still be matched up.
    assert actors[0] == actors[1] != actors[2]
    assert panel.login(admin.email).status_code == 302
    page = panel.get(URL).text
    listed = runner.invoke(args=["audit", "list"]).stdout
    for shown in (json.dumps(stored_events(app), default=str), page, listed):
        assert "summer" not in shown and "2026!pass" not in shown
    assert "unknown email (" in page and "unknown email (" in listed


def test_invisible_characters_show_as_escapes_on_the_page(app: Flask, signed_in: PanelClient) -> None:
    with app.app_context():
        audit.record_now("session.sign_in_failed", actor="ops\u200b@example.com")
        audit.record_now("user.created", actor="cli", details={"name": "Mallory \u202etxt.exe\x85"})
    page = signed_in.get(URL).text
    assert not any(ch in page for ch in "\u200b\u202e\x85")
    assert '<td data-label="Actor" class="audit-event__actor">ops\\u200b@example.com</td>' in page
    assert "Mallory \\u202etxt.exe\\u0085" in page


class TestBehindAProxy:
    """One trusted proxy: the client address comes from X-Forwarded-For, whatever it holds."""

    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        """Trust one proxy's X-Forwarded-For."""
        return {**app_config, "PROXY_FIX_HOPS": 1}

    def failed_sign_in(self, panel: PanelClient, forwarded_for: str) -> int:
        """A wrong password sent through the proxy; the status."""
        page = panel.client.get("/login")
        token = form_csrf_token(page.text)
        form = {"email": "admin@example.com", "password": "wrong password", "csrf_token": token}
        return panel.client.post("/login", data=form, headers={"X-Forwarded-For": forwarded_for}).status_code

    def test_an_address_too_long_for_its_column_is_stored_as_invalid_not_a_500(
        self, app: Flask, panel: PanelClient, admin: Any
    ) -> None:
        assert self.failed_sign_in(panel, "x" * 100) == 401
        assert self.failed_sign_in(panel, "2001:DB8:0:0:0:0:0:1") == 401
        addresses = [e["address"] for e in stored_events(app, action="session.sign_in_failed")]
        assert addresses == ["invalid address", "2001:db8::1"]


def test_no_event_holds_a_full_key_or_a_password(
    app: Flask, signed_in: PanelClient, make_user: Any, runner: Any
) -> None:
    owner = make_user(email="sync@example.com", name="Sync", is_system=True)
    form = {"name": "Feed", "owner": str(owner.id), "abilities": ["products:list"], "rate_limit": "60"}
    created = signed_in.post("/settings/api-keys", data=form)
    assert created.status_code == 200
    # The key shows twice in the answer (the key field and its `export` line): one key.
    raw_keys = sorted(set(re.findall(r"sgk_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}", created.text)))
    result = runner.invoke(
        args=["keys", "create", "--name", "CLI", "--owner", owner.email, "--all-abilities"]
    )
    raw_keys.append(result.stdout.strip().splitlines()[-1])
    result = runner.invoke(
        args=["users", "create", "eve@example.com", "--name", "Eve", "--admin", "--password-stdin"],
        input="eve's secret password\n",
    )
    assert result.exit_code == 0, result.output
    assert len(raw_keys) == 2 and all(len(raw) == 51 for raw in raw_keys)
    events = stored_events(app)
    assert {"key.created", "user.created", "session.signed_in"} <= {e["action"] for e in events}
    stored = json.dumps(events, default=str)
    for raw in raw_keys:
        assert raw not in stored
        assert raw[13:] not in stored  # not even the secret part
    assert "eve's secret password" not in stored
    assert ADMIN_PASSWORD not in stored

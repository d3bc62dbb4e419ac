"""A key's page at /settings/api-keys/<prefix>: every field, abilities, history, usage, 404s."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select, update

from app import audit
from app.audit import display as audit_display
from app.audit.display import MINUS
from app.catalogue import MODULES
from app.extensions import db
from app.keys import service
from app.models.api_keys import ApiKey
from app.models.audit import AuditEvent
from app.models.types import utcnow
from app.models.users import User
from tests.panel.conftest import PanelClient
from tests.panel.refusals import assert_refused

MALFORMED = "No API key with that prefix: a key prefix is sgk_ followed by 8 letters or digits."


def _set(app: Flask, prefix: str, **values: Any) -> None:
    with app.app_context():
        db.session.execute(update(ApiKey).where(ApiKey.prefix == prefix).values(**values))
        db.session.commit()


def _record(app: Flask, action: str, **kwargs: Any) -> None:
    with app.app_context():
        audit.record(action, **kwargs)
        db.session.commit()


def _page(panel: PanelClient, prefix: str) -> str:
    response = panel.get(f"/settings/api-keys/{prefix}")
    assert response.status_code == 200, response.text
    return response.text


def _section(page: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}".*?</section>', page, re.S)
    assert match, f"no section #{section_id}"
    return match.group(0)


def _field(page: str, label: str) -> str:
    """The text of the details entry labelled ``label``, tags stripped, spaces collapsed."""
    match = re.search(rf"<dt>{re.escape(label)}</dt><dd[^>]*>(.*?)</dd>", page, re.S)
    assert match, f"no field {label!r}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


@pytest.fixture
def owned_key(app: Flask, make_user: Any, admin: User) -> service.CreatedKey:
    """A key for a system account, created by the admin, with an expiry, a use and two abilities."""
    owner = make_user(email="sync@stockgate.internal", name="Nightly sync", is_system=True)
    with app.app_context():
        created = service.create_key(
            name="Warehouse scanner",
            owner=owner.email,
            abilities=["inventory:list", "warehouses:show"],
            rate_limit=1500,
            expires_at=utcnow() + timedelta(days=30),
            created_by=db.session.get(User, admin.id),
            actor=admin.email,
        )
        db.session.refresh(created.key)
        db.session.expunge(created.key)
    _set(app, created.key.prefix, last_used_at=utcnow() - timedelta(hours=2))
    return created


def test_page_shows_every_field_of_the_key(signed_in: PanelClient, owned_key: service.CreatedKey) -> None:
    key = owned_key.key
    page = _page(signed_in, key.prefix)
    assert "<h1>Warehouse scanner</h1>" in page
    assert _field(page, "Name") == "Warehouse scanner"
    assert _field(page, "Key Prefix") == key.prefix
    assert _field(page, "Owner") == "Nightly sync System sync@stockgate.internal"
    assert _field(page, "Status") == "Active"
    assert _field(page, "Rate Limit") == "1,500 requests/min"
    expires = key.expires_at
    assert expires is not None
    assert _field(page, "Expires At").endswith(f"{expires:%Y-%m-%d %H:%M} UTC")
    assert _field(page, "Last Used At").startswith("2 hours ago")
    assert _field(page, "Created At").startswith("just now")
    assert _field(page, "Created By") == "Ada Admin admin@example.com"
    assert _field(page, "Allowed IPs") == "Any address"
    assert _field(page, "Description") == "—"


def test_page_shows_allowed_ips_one_per_line_and_the_description(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    key = make_key(name="Partner feed").key
    _set(
        app,
        key.prefix,
        allowed_ips=["203.0.113.0/24", "2001:db8::/32"],
        description="Feeds the <b>partner</b> portal.\nOwned by the data team.",
    )
    page = _page(signed_in, key.prefix)
    ips = re.findall(r"<li><code>([^<]+)</code></li>", _section(page, "key-details"))
    assert ips == ["203.0.113.0/24", "2001:db8::/32"]
    # Escaped, line breaks kept by CSS (white-space: pre-line), never markup.
    assert "Feeds the &lt;b&gt;partner&lt;/b&gt; portal.\nOwned by the data team." in page
    assert "<b>partner</b>" not in page


def test_page_never_shows_the_full_key_or_its_hash(
    app: Flask, signed_in: PanelClient, owned_key: service.CreatedKey
) -> None:
    prefix = owned_key.key.prefix
    with app.app_context():
        stored_hash = db.session.scalar(select(ApiKey.key_hash).where(ApiKey.prefix == prefix))
    assert stored_hash
    page = _page(signed_in, prefix)
    assert owned_key.raw_key not in page
    assert owned_key.raw_key[12:] not in page  # not even the secret part alone
    assert stored_hash not in page
    assert stored_hash[7:] not in page  # nor the hash without its "$2b$04$" header


def test_abilities_grid_says_in_words_which_are_granted(
    signed_in: PanelClient, owned_key: service.CreatedKey
) -> None:
    grid = _section(_page(signed_in, owned_key.key.prefix), "key-abilities")
    assert "2 of 30 abilities granted." in grid
    cells = dict(re.findall(r'<td data-ability="([^"]+)">(.*?)</td>', grid, re.S))
    assert list(cells) == [module.ability(action) for module in MODULES for action in ("list", "show")]
    for ability, cell in cells.items():
        text = " ".join(re.sub(r"<[^>]+>", " ", cell).split())
        action = ability.split(":")[1].capitalize()
        if ability in ("inventory:list", "warehouses:show"):
            assert text == f"✓ {action} : granted"
        else:
            assert text == f"— {action} : not granted"
    # Read-only: nothing to tick.
    assert "<input" not in grid


@pytest.mark.both_databases
def test_history_shows_the_keys_own_events_newest_first_with_old_and_new(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    key = make_key(name="Finance export").key
    other = make_key(name="Someone else").key  # make_key records each key's key.created
    _record(
        app,
        "key.updated",
        actor="admin@example.com",
        key_prefix=key.prefix,
        details={
            "changes": {
                "rate_limit": {"old": 60, "new": 120},
                "abilities": {"old": ["products:list"], "new": ["products:list", "products:show"]},
                "description": {"old": None, "new": "Nightly <export>"},
            }
        },
    )
    _record(app, "key.deactivated", actor="cli", key_prefix=key.prefix)
    _record(app, "key.revoked", actor="admin@example.com", key_prefix=other.prefix)

    history = _section(_page(signed_in, key.prefix), "key-history")
    headers = re.findall(r'<th scope="col">([^<]+)</th>', history)
    assert headers == ["Time", "Actor", "Action", "Details"]
    actions = re.findall(r"<code>(key\.[a-z_]+)</code>", history)
    assert actions == ["key.deactivated", "key.updated", "key.created"]
    updated_row = next(row for row in re.findall(r"<tr.*?</tr>", history, re.S) if "key.updated" in row)
    changes = [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split())
        for item in re.findall(r"<li>(.*?)</li>", updated_row, re.S)
    ]
    assert changes == [
        "Rate Limit: 60 → changed to 120",
        "Abilities: + added products:show",
        "Description: — → changed to Nightly <export>",
    ]
    assert "Nightly &lt;export&gt;" in history
    assert ">cli</td>" in history


def test_created_by_is_cli_for_a_key_the_command_line_made_as_in_the_audit_log(
    app: Flask, signed_in: PanelClient, make_user: Any, runner: Any
) -> None:
    owner = make_user(email="sync@example.com", name="Sync", is_system=True)
    result = runner.invoke(
        args=["keys", "create", "--name", "From CLI", "--owner", owner.email, "--all-abilities"]
    )
    assert result.exit_code == 0, result.output
    prefix = result.stdout.strip().splitlines()[-1][:12]
    page = _page(signed_in, prefix)
    assert _field(page, "Created By") == "cli"
    # The same answer as the key's key.created event in the Audit Log.
    log = signed_in.get(f"/settings/audit-log?q={prefix}", htmx=True).text
    assert re.search(r'data-action="key.created">.*?class="audit-event__actor">cli</td>', log, re.S)


def test_created_by_names_the_admin_who_rolled_the_key(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    old = make_key(name="Shop bridge").key
    assert signed_in.post(f"/settings/api-keys/{old.prefix}/roll", data={"grace": "24h"}).status_code == 200
    with app.app_context():
        new_prefix = db.session.scalar(
            select(ApiKey.prefix).where(ApiKey.name == "Shop bridge", ApiKey.id != old.id)
        )
    assert new_prefix
    assert _field(_page(signed_in, new_prefix), "Created By") == "Ada Admin admin@example.com"


def test_created_by_is_not_recorded_for_a_key_older_than_the_audit_log(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    key = make_key().key
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.key_prefix == key.prefix))
        db.session.commit()
    assert _field(_page(signed_in, key.prefix), "Created By") == "Not recorded"


def test_history_reads_like_the_audit_log_same_columns_and_details(
    app: Flask, signed_in: PanelClient, make_key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = make_key(name="Feed", abilities=["products:list", "inventory:list"]).key
    with app.app_context():
        service.edit_key(key.prefix, actor="admin@example.com", abilities=["customers:list", "products:list"])
        # An event stored before audit details used iso_utc: microseconds in the cutover.
        audit.record(
            "key.roll_ended",
            actor="cli",
            key_prefix=key.prefix,
            details={"sunset_at": "2026-01-31T12:00:00.654321+00:00"},
        )
        db.session.commit()
    monkeypatch.setitem(audit_display.COLUMNS, "actor", "Who")

    history = _section(_page(signed_in, key.prefix), "key-history")
    log = signed_in.get(f"/settings/audit-log?q={key.prefix}", htmx=True).text
    assert re.findall(r'<th scope="col">([^<]+)</th>', history) == ["Time", "Who", "Action", "Details"]
    assert 'data-label="Who"' in history and 'data-label="Who"' in log
    # One renderer: each event's details are the same markup on both pages.
    details = re.compile(r'<td data-label="Details" class="audit-event__details">(.*?)</td>', re.S)
    assert details.findall(history) == details.findall(log)
    assert '+</span><span class="visually-hidden">added</span> customers:list' in history
    assert f'{MINUS}</span><span class="visually-hidden">removed</span> inventory:list' in history
    assert "products:list" not in details.findall(history)[1]
    assert '<time datetime="2026-01-31T12:00:00Z" title="2026-01-31 12:00:00 UTC">' in history
    assert "654321" not in history


@pytest.mark.both_databases
def test_history_shows_the_latest_fifty_events(app: Flask, signed_in: PanelClient, make_key: Any) -> None:
    key = make_key(name="Busy key").key
    with app.app_context():
        # 49 edits and the key's own key.created: 50 events.
        for n in range(49):
            audit.record("key.updated", actor=f"admin{n}@example.com", key_prefix=key.prefix)
        db.session.commit()
    assert "Showing the latest" not in _page(signed_in, key.prefix)  # all 50 are shown
    with app.app_context():
        for n in range(49, 55):
            audit.record("key.updated", actor=f"admin{n}@example.com", key_prefix=key.prefix)
        db.session.commit()
    history = _section(_page(signed_in, key.prefix), "key-history")
    actors = re.findall(r'class="audit-event__actor">([^<]+)<', history)
    assert len(actors) == 50
    assert actors[0] == "admin54@example.com"
    assert actors[-1] == "admin5@example.com"
    assert "Showing the latest 50 events." in history


def test_key_without_events_says_so(app: Flask, signed_in: PanelClient, make_key: Any) -> None:
    key = make_key().key
    with app.app_context():  # a key made before the audit log existed has no events
        db.session.execute(delete(AuditEvent).where(AuditEvent.key_prefix == key.prefix))
        db.session.commit()
    assert "No events recorded for this key yet." in _section(_page(signed_in, key.prefix), "key-history")


def test_rolled_key_links_to_its_successor_and_shows_the_cutover(
    app: Flask, signed_in: PanelClient, make_key: Any
) -> None:
    old = make_key(name="Shop bridge").key
    new = make_key(name="Shop bridge").key
    cutover = (utcnow() + timedelta(hours=24)).replace(microsecond=0)
    with app.app_context():
        new_id = db.session.scalar(select(ApiKey.id).where(ApiKey.prefix == new.prefix))
    _set(app, old.prefix, successor_id=new_id, sunset_at=cutover, bucket=old.prefix)

    old_page = _page(signed_in, old.prefix)
    assert f'<a href="/settings/api-keys/{new.prefix}"><code>{new.prefix}</code></a>' in old_page
    assert _field(old_page, "Old Key Stops") == f"in 23 hours {cutover:%Y-%m-%d %H:%M} UTC"
    # And the successor's page points back at the key it replaced.
    new_page = _page(signed_in, new.prefix)
    assert f'<a href="/settings/api-keys/{old.prefix}"><code>{old.prefix}</code></a>' in new_page


def test_usage_section_follows_the_history(signed_in: PanelClient, make_key: Any) -> None:
    page = _page(signed_in, make_key().key.prefix)
    usage = _section(page, "key-usage")
    assert "Last 30 days (UTC)" in usage
    assert page.index('id="key-history"') < page.index('id="key-usage"')


def test_list_links_each_name_to_its_page(signed_in: PanelClient, make_key: Any) -> None:
    key = make_key(name="Shopify storefront").key
    listing = signed_in.get("/settings/api-keys").text
    link = f'<a href="/settings/api-keys/{key.prefix}">Shopify storefront</a>'
    assert f'<td data-label="Name" class="key-name">{link}</td>' in listing


def test_actions_use_the_lists_endpoints_and_reload_the_page(
    app: Flask, signed_in: PanelClient, make_key: Any, load_key: Any
) -> None:
    key = make_key(name="Scanner").key
    actions = re.search(r'<div id="key-actions".*?</div>', _page(signed_in, key.prefix), re.S)
    assert actions
    buttons = actions.group(0)
    assert f'href="/settings/api-keys?q={key.prefix}"' in buttons  # Edit: the list, narrowed to this key
    # The list's endpoints, told they are called from the page (which has no row to swap).
    assert f'hx-post="/settings/api-keys/{key.prefix}/deactivate?on_page=1"' in buttons
    assert re.search(rf'hx-delete="/settings/api-keys/{key.prefix}\?on_page=1"\s+hx-confirm="Revoke', buttons)
    # No reload script: the buttons share hx-swap="none" and the server answers HX-Refresh.
    assert "data-reload" not in buttons and buttons.count('hx-swap="none"') == 1
    # Roll opens the inline form in this page's slot; the form tells the server it is on the page.
    assert f'hx-get="/settings/api-keys/{key.prefix}/roll?on_page=1"' in buttons
    # Every control is labelled with the key it acts on.
    assert re.findall(r'aria-label="([^"]+)"', buttons) == [
        "Roll Scanner",
        "Documentation for this key (Scanner)",
        "Edit Scanner in the key list",
        "Deactivate Scanner",
        "Revoke Scanner",
    ]

    response = signed_in.post(f"/settings/api-keys/{key.prefix}/deactivate?on_page=1")
    assert (response.status_code, response.text, response.headers["HX-Refresh"]) == (200, "", "true")
    assert f'hx-post="/settings/api-keys/{key.prefix}/activate?on_page=1"' in _page(signed_in, key.prefix)
    response = signed_in.delete(f"/settings/api-keys/{key.prefix}?on_page=1")
    assert (response.status_code, response.text, response.headers["HX-Refresh"]) == (200, "", "true")
    page = _page(signed_in, key.prefix)
    assert _field(page, "Status") == "Revoked"
    assert "Revoked keys cannot be changed." in page
    assert "hx-post" not in page and "hx-delete" not in page


def test_page_is_never_cached_and_has_no_inline_script_or_style(
    signed_in: PanelClient, owned_key: service.CreatedKey
) -> None:
    response = signed_in.get(f"/settings/api-keys/{owned_key.key.prefix}")
    assert response.headers["Cache-Control"] == "no-store"
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    assert "style=" not in response.text
    assert "<style" not in response.text
    assert re.findall(r"<script(?![^>]* src=)", response.text) == []
    assert "hx-on" not in response.text


def test_anonymous_visitor_is_sent_to_sign_in(client: Any, make_key: Any) -> None:
    prefix = make_key().key.prefix
    response = client.get(f"/settings/api-keys/{prefix}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=/settings/api-keys/{prefix}"


def test_unknown_prefix_is_a_404_page_that_names_it_and_links_back(signed_in: PanelClient) -> None:
    response = signed_in.get("/settings/api-keys/sgk_ZZZZZZZZ")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<h1" in response.text and ">Not found</h1>" in response.text
    assert "No API key with prefix sgk_ZZZZZZZZ." in response.text
    assert '<a class="button" href="/settings/api-keys">Back to API Keys</a>' in response.text


@pytest.mark.parametrize(
    "path",
    [
        "sgk_short",
        "sgk_ZZZZZZZZ9",
        "not-a-prefix",
        "sgk_%00%00%00%00%00%00%00%00",
        "sgk_ZZZZ%0aZZZ",
        "sgk_%1b[31mZZZZ",
        "sgk_%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9",
        "sgk_%FF%FE",
        "%3Cscript%3Ealert(1)%3C",
        pytest.param("x" * 5000, id="5000-characters"),
    ],
)
def test_malformed_prefix_is_the_same_404_page_without_echoing_it(signed_in: PanelClient, path: str) -> None:
    response = signed_in.get(f"/settings/api-keys/{path}")
    assert response.status_code == 404
    assert MALFORMED in response.text
    assert "<script>alert" not in response.text
    assert "\x00" not in response.text and "\x1b" not in response.text
    assert "x" * 100 not in response.text


def test_htmx_request_for_an_unknown_key_gets_one_line(signed_in: PanelClient) -> None:
    response = signed_in.post("/settings/api-keys/sgk_ZZZZZZZZ/deactivate")
    assert assert_refused(response, 404) == "No API key with prefix sgk_ZZZZZZZZ."


def test_prefix_with_a_slash_is_an_unknown_url_not_a_server_error(signed_in: PanelClient) -> None:
    # A slash ends the path segment: no panel route matches, and the app's plain 404 answers.
    response = signed_in.get("/settings/api-keys/sgk_%2FZZZZZZZ/x")
    assert response.status_code == 404

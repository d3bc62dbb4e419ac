"""The key list's look in Chromium (SPEC §7): one line a row at 1280 px, a "⋯" menu per row
that works at 390 px too, dead keys linked to their replacement, the shown-once key in a
monospace font with what to run next, and the inline editor's abilities grid lined up."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.keys import rolling, service
from app.models.api_keys import ApiKey
from app.models.types import utcnow
from tests.browser.conftest import ADMIN_EMAIL, SCREENSHOTS, Console, LiveServer, open_panel
from tests.browser.row_menu import open_row_menu, row_action

pytestmark = pytest.mark.browser

LONG_NAME = "Nightly stock sync for the north warehouse team and its partners"


@pytest.fixture(scope="module")
def crowded(live_server: LiveServer) -> dict[str, str]:
    """Five more keys on top of the seeded six: a long name, one expiring soon, one rolling
    (with its new key) and one dead, past its cutover (with the key that replaced it)."""
    with live_server.app.app_context():
        made = {
            name: service.create_key(
                name=name, owner=ADMIN_EMAIL, abilities=["products:list"], actor="tests", expires_at=expiry
            ).key.prefix
            for name, expiry in (
                (LONG_NAME, None),
                ("Expiring partner feed", utcnow() + timedelta(days=10)),
                ("Rolling storefront", None),
                ("Retired feed", None),
            )
        }
        rolling.roll_key(made["Rolling storefront"], actor="tests", grace="1h")
        made["Retired feed (new)"] = rolling.roll_key(
            made["Retired feed"], actor="tests", grace="0"
        ).key.prefix
        db.session.remove()
    return made


def _one_line_cells(page: Any) -> list[str]:
    """The cells of the key rows whose text runs over more than one line."""
    return page.evaluate(
        """() => {
          const tall = [];
          for (const cell of document.querySelectorAll("#key-rows > tr > td")) {
            const rects = [];
            const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
              // Visually hidden text (a 1 px clipped box) is not a line on screen.
              let hidden = false;
              for (let el = node.parentElement; el && el !== cell; el = el.parentElement) {
                const box = el.getBoundingClientRect();
                if (box.width <= 1 || box.height <= 1) { hidden = true; break; }
              }
              if (hidden) continue;
              const range = document.createRange();
              range.selectNodeContents(node);
              rects.push(...Array.from(range.getClientRects()).filter(r => r.width > 0));
            }
            // A new line starts where a piece of text begins below the line before it.
            rects.sort((a, b) => a.top - b.top);
            let lines = 0, bottom = -Infinity;
            for (const r of rects) {
              if (r.top >= bottom - 1) { lines += 1; bottom = r.bottom; }
              else { bottom = Math.max(bottom, r.bottom); }
            }
            if (lines > 1) tall.push(cell.innerText);
          }
          return tall;
        }"""
    )


def _expanded(page: Any, selector: str) -> bool:
    """The "expanded" state chromium exposes to assistive technology for ``selector``."""
    cdp = page.context.new_cdp_session(page)
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    (ax, *_) = cdp.send("Accessibility.getPartialAXTree", {"nodeId": node, "fetchRelatives": False})["nodes"]
    cdp.detach()
    states = {prop["name"]: prop["value"]["value"] for prop in ax.get("properties", [])}
    assert ax["role"]["value"] == "button" and ax["name"]["value"].startswith("Actions for"), ax
    return bool(states.get("expanded"))


def test_each_row_is_one_line_high_at_1280_px_with_its_actions_in_a_menu(
    page_and_console: tuple[Any, Console], crowded: dict[str, str]
) -> None:
    page, console = page_and_console
    open_panel(page)
    rows = page.locator("#key-rows > tr")
    # Eleven keys (ten if the phone test revoked one first); the dead key is not listed.
    expect(page.locator(f"#key-{crowded['Retired feed (new)']}")).to_be_visible()
    assert rows.count() >= 10
    heights = [box["height"] for box in (rows.nth(i).bounding_box() for i in range(rows.count()))]
    # One line: every row as high as the "⋯" button and its padding (three lines of buttons
    # each took about 144 px), and no cell's text wraps onto a second line.
    assert max(heights) <= 52 and max(heights) - min(heights) < 1, heights
    assert _one_line_cells(page) == []
    table = page.locator("#key-table")
    assert table.evaluate("el => el.scrollWidth <= el.clientWidth")  # no sideways scrolling
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "api-keys-list-1280.png"), full_page=True)

    # The menu: a labelled button saying whether it is open; Escape closes it and gives the
    # focus back; it opens under its button and inside the window.
    row = page.locator(f"#key-{crowded['Expiring partner feed']}")
    toggle = row.get_by_role("button", name="Actions for Expiring partner feed")
    # The browser itself tells assistive technology whether a popovertarget button's menu is
    # open (no script sets aria-expanded): read chromium's accessibility tree.
    toggle_selector = f"#key-{crowded['Expiring partner feed']} .row-menu__toggle"
    assert _expanded(page, toggle_selector) is False
    menu = open_row_menu(row)
    assert _expanded(page, toggle_selector) is True
    expect(menu.get_by_role("button")).to_have_text(["Deactivate", "Edit", "Roll", "Revoke"])
    toggle_box, menu_box = toggle.bounding_box(), menu.bounding_box()
    assert menu_box["y"] >= toggle_box["y"] + toggle_box["height"] - 1
    assert menu_box["x"] + menu_box["width"] <= 1280
    menu.get_by_role("button", name="Edit").focus()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(toggle).to_be_focused()

    # An action from the menu swaps the row (the menu's shared hx-target) and closes the menu.
    row_action(row, "Deactivate").click()
    expect(row.locator(".key-status .badge")).to_have_text("Inactive")
    expect(row.locator(".row-menu")).to_be_hidden()
    assert console.csp_violations() == []


def test_the_row_menu_works_at_phone_width(
    page_and_console: tuple[Any, Console], crowded: dict[str, str]
) -> None:
    page, console = page_and_console
    page.set_viewport_size({"width": 390, "height": 844})
    open_panel(page)
    row = page.locator(f"#key-{crowded[LONG_NAME]}")
    menu = open_row_menu(row)
    box = menu.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "api-keys-list-390-menu.png"))
    page.once("dialog", lambda dialog: dialog.accept())
    menu.get_by_role("button", name="Revoke").click()
    expect(page.locator(f"#key-{crowded[LONG_NAME]}")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "api-keys-list-390.png"), full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert console.csp_violations() == []


def test_a_dead_key_is_hidden_by_default_and_links_to_the_key_that_replaced_it(
    page_and_console: tuple[Any, Console], crowded: dict[str, str]
) -> None:
    page, console = page_and_console
    open_panel(page)
    dead, successor = crowded["Retired feed"], crowded["Retired feed (new)"]
    expect(page.locator(f"#key-{dead}")).to_have_count(0)
    expect(page.get_by_label("Status")).to_have_value("working")
    expect(page.get_by_label("Status").locator("option:checked")).to_have_text("All working")
    page.get_by_label("Status").select_option("rolled")
    row = page.locator(f"#key-{dead}")
    expect(row.locator(".badge")).to_have_text("Rolled")
    # Revoke only: what the key service allows a dead key.
    expect(open_row_menu(row).get_by_role("button")).to_have_text(["Revoke"])
    page.keyboard.press("Escape")
    row.get_by_role("link", name=f"replaced by {successor}").click()
    expect(page).to_have_url(re.compile(rf"/settings/api-keys/{successor}$"))
    expect(page.get_by_role("heading", name="Retired feed", level=1)).to_be_visible()
    assert console.csp_violations() == []


def test_the_shown_once_key_is_monospace_and_the_card_says_what_to_run_next(
    page_and_console: tuple[Any, Console], live_server: LiveServer, crowded: dict[str, str]
) -> None:
    page, console = page_and_console
    open_panel(page)
    page.get_by_role("link", name="Create API Key").click()
    form = page.locator("#key-form")
    expect(form.get_by_label("Name", exact=True)).to_be_focused()  # autofocus, no focus script
    form.get_by_role("button", name="Submit").click()
    expect(page.locator("#name-error")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_be_focused()  # the first invalid field
    form = page.locator("#key-form")
    form.get_by_label("Name", exact=True).fill("Monospace check")
    form.locator('input[value="products:list"]').check()
    form.get_by_role("button", name="Submit").click()

    key_field = page.locator("#new-key")
    expect(key_field).to_be_focused()
    raw_key = key_field.input_value()
    # l, I and 1 (and O, 0) must be told apart: the key field's own font is the monospace one.
    font = key_field.evaluate("el => getComputedStyle(el).fontFamily")
    assert font.startswith("ui-monospace"), font
    widths = key_field.evaluate(
        """el => { const c = document.createElement("canvas").getContext("2d");
                   c.font = getComputedStyle(el).font;
                   return [c.measureText("l").width, c.measureText("W").width]; }"""
    )
    assert abs(widths[0] - widths[1]) < 0.5, widths

    card = page.locator("#key-created")
    export = card.locator("#new-key-export")
    expect(export).to_have_text(f"export STOCKGATE_API_KEY={raw_key}")
    card.get_by_role("button", name="Copy the export line").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == f"export STOCKGATE_API_KEY={raw_key}"
    expect(card.locator("#new-key-curl")).to_have_text(
        'curl -H "Authorization: Bearer $STOCKGATE_API_KEY" $STOCKGATE_URL/api/v1/key'
    )
    docs = card.get_by_role("link", name="Documentation for this key")
    expect(docs).to_have_attribute("href", f"/settings/api-keys/{raw_key[:12]}/docs")
    card.get_by_role("button", name="Done").click()
    expect(page.locator("#key-created")).to_have_count(0)
    assert raw_key not in page.content()
    assert console.csp_violations() == []


def test_the_inline_editors_abilities_grid_lines_up_like_the_create_forms(
    page_and_console: tuple[Any, Console], live_server: LiveServer, crowded: dict[str, str]
) -> None:
    page, console = page_and_console
    open_panel(page)
    measure = """fieldset => {
      const left = fieldset.getBoundingClientRect().left;
      const header = fieldset.querySelector("tbody th[scope=row]");
      const cell = fieldset.querySelector("tbody td");
      const style = getComputedStyle(header);
      return {
        header_text_x: header.getBoundingClientRect().left + parseFloat(style.paddingLeft) - left,
        row_height: header.getBoundingClientRect().height,
        cell_padding: getComputedStyle(cell).padding,
        header_border: style.borderBottomWidth,
      };
    }"""
    page.get_by_role("link", name="Create API Key").click()
    create = page.locator("#key-form fieldset.abilities").evaluate(measure)
    page.locator("#key-form").get_by_role("button", name="Cancel").click()
    expect(page.locator("#key-form")).to_have_count(0)
    with live_server.app.app_context():
        prefix = db.session.scalar(select(ApiKey.prefix).where(ApiKey.name == "Shopify storefront"))
    row_action(page.locator(f"#key-{prefix}"), "Edit").click()
    editor = page.locator("tr.key-row--editing fieldset.abilities")
    expect(editor).to_be_visible()
    edit = editor.evaluate(measure)
    # The table's own cell rules no longer reach into the nested grid (they moved it ~6 px).
    assert abs(edit["header_text_x"] - create["header_text_x"]) < 0.5, (create, edit)
    assert abs(edit["row_height"] - create["row_height"]) < 0.5, (create, edit)
    assert (edit["cell_padding"], edit["header_border"]) == (create["cell_padding"], create["header_border"])
    assert console.csp_violations() == []

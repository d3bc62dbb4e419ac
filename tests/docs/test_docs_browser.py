"""A developer opens /api/docs in a real browser: every module is there, the CSP blocks nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.catalogue import MODULES

# Collected in the page by an init script (Playwright injects it outside the page's CSP).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.mark.browser
def test_docs_page_shows_every_module_without_csp_violations(live_server, browser_page):
    """Navigation reaches every module's section; the stylesheet applies; no CSP report."""
    page = browser_page
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(CSP_LISTENER)

    response = page.goto(f"{live_server}/api/docs")
    assert response is not None and response.status == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    expect(page.get_by_role("heading", name="Getting started")).to_be_visible()

    for module in MODULES:
        section = page.locator(f"#module-{module.slug}")
        expect(section).to_have_count(1)
        page.locator(f'nav a[href="#module-{module.slug}"]').click()
        expect(section.get_by_role("heading", name=module.name, exact=True)).to_be_in_viewport()
        expect(section.locator("article.endpoint")).to_have_count(2)

    # The static stylesheet loaded under the CSP (the method badge is styled by it).
    badge = page.locator(".method").first
    assert badge.evaluate("el => getComputedStyle(el).color") == "rgb(255, 255, 255)"
    assert page.evaluate("window.__cspViolations") == []
    assert not [text for text in console if "Content Security Policy" in text]
    # Nothing else failed to load either (a missing favicon used to show up here as a 404).
    assert console == []

"""The chat page in a real browser: Debian's Chromium driven by Playwright (no browser
download), against the whole assistant started by the `assistant` fixture."""

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from bot.paths import REPO_ROOT
from bot.web.server import DEFAULT_EXIT_URL

ARTEFACTS = REPO_ROOT / "results" / "browser"
REPLY_TIMEOUT_MS = 30_000


@pytest.fixture
def page(browser, assistant):
    """A fresh browser profile in British English; records every request the page makes.
    The quick exit's outside site is answered locally, never fetched."""
    context = browser.new_context(locale="en-GB", viewport={"width": 900, "height": 1000})
    context.route(DEFAULT_EXIT_URL + "**", lambda route: route.fulfill(body="<title>Search</title>neutral", content_type="text/html"))
    page = context.new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.goto(assistant.page_url)
    expect(page.locator(".rw-response").first).to_contain_text("automated assistant", timeout=REPLY_TIMEOUT_MS)
    yield page
    outside = {url for url in page.requests if urlsplit(url).hostname != "127.0.0.1" and not url.startswith(DEFAULT_EXIT_URL)}
    context.close()
    assert not outside, f"the page made requests to other hosts: {outside}"


def type_message(page: Page, text: str) -> None:
    box = page.get_by_label("Type your message")
    box.fill(text)
    box.press("Enter")


def test_guided_path_by_clicks_then_a_typed_question(page):
    page.get_by_role("button", name="A partner or someone I'm dating").click()
    page.get_by_role("button", name="Signs").click()
    expect(page.locator("#chat")).to_contain_text("Checking up on your partner", timeout=REPLY_TIMEOUT_MS)
    page.get_by_role("button", name="Tell me more").last.click()
    expect(page.locator("#chat")).to_contain_text("Reading a lot into small things", timeout=REPLY_TIMEOUT_MS)
    type_message(page, "why am I like this?")
    expect(page.locator("#chat")).to_contain_text("Childhood experiences", timeout=REPLY_TIMEOUT_MS)
    expect(page.locator(".rw-reply").first).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "conversation.png"))
    assert Path(ARTEFACTS / "conversation.png").stat().st_size > 10_000


def test_typed_crisis_message_shows_services_for_the_browser_locale_and_the_chosen_country(page):
    type_message(page, "i want to kill myself")
    expect(page.locator("#chat")).to_contain_text("Are you safe right now?", timeout=REPLY_TIMEOUT_MS)
    expect(page.locator("#chat")).to_contain_text("116 123")  # en-GB: Samaritans
    expect(page.get_by_role("button", name="I'm safe, keep talking")).to_be_visible()
    page.get_by_label("Where you are, so help numbers fit:").select_option("AU")
    type_message(page, "i don't want to be here anymore")
    expect(page.locator(".rw-response", has_text="13 11 14")).to_be_visible(timeout=REPLY_TIMEOUT_MS)  # Lifeline


def test_reload_keeps_the_conversation(page):
    page.get_by_role("button", name="A friend").click()
    expect(page.locator("#chat")).to_contain_text("Let's focus on", timeout=REPLY_TIMEOUT_MS)
    type_message(page, "what are the signs?")
    expect(page.locator("#chat")).to_contain_text("Focusing on people's flaws", timeout=REPLY_TIMEOUT_MS)
    expect(page.locator("#chat")).to_contain_text("Would you like to hear more signs?", timeout=REPLY_TIMEOUT_MS)  # the last bubble
    before = page.locator(".rw-message").count()
    page.reload()
    expect(page.locator("#chat")).to_contain_text("Let's focus on", timeout=REPLY_TIMEOUT_MS)
    assert page.locator(".rw-message").count() >= before


@pytest.mark.parametrize("how", ["button", "escape twice"])
def test_quick_exit_clears_the_conversation_and_replaces_the_page(page, assistant, how):
    type_message(page, "my husband checks my phone every night")
    expect(page.locator(".rw-client").last).to_contain_text("checks my phone")
    if how == "button":
        page.get_by_role("button", name="Leave this site quickly").click()
    else:
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")
    page.wait_for_url(DEFAULT_EXIT_URL + "**")
    page.goto(assistant.page_url)
    expect(page.locator(".rw-response").first).to_contain_text("automated assistant", timeout=REPLY_TIMEOUT_MS)
    assert "checks my phone" not in page.locator("#chat").inner_text()
    assert page.evaluate("sessionStorage.length + localStorage.length") <= 1  # only the new chat's session


def test_keyboard_only_and_labelled(page):
    expect(page.get_by_label("Type your message")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_attached()
    expect(page.locator("#what-this-is")).to_contain_text("not a therapist or an emergency service")
    reply = page.get_by_role("button", name="Work or coworkers")
    reply.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#chat")).to_contain_text("Let's focus on", timeout=REPLY_TIMEOUT_MS)
    # From the top of the page, Tab reaches the quick exit first, then the country selector.
    page.locator(".skip-link").focus()
    order = []
    for _ in range(3):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.className"))
    assert order[:2] == ["quick-exit", "country"], order


CONTRAST_SCRIPT = """
(selectors) => {
  function rgb(value) { return value.match(/[\\d.]+/g).slice(0, 4).map(Number); }
  function luminance([r, g, b]) {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  }
  function background(element) {
    for (let e = element; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  }
  return selectors.map((selector) => {
    const element = document.querySelector(selector);
    const a = luminance(rgb(getComputedStyle(element).color)), b = luminance(background(element));
    return [selector, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
  });
}
"""


def test_text_contrast_passes_wcag_aa(page):
    type_message(page, "hello")
    expect(page.locator(".rw-client").last).to_be_visible()
    expect(page.locator(".rw-reply").first).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    selectors = [
        "h1",
        "#what-this-is",
        "#quick-exit",
        "#quick-exit-hint",
        "label[for=country]",
        ".emergency",
        ".rw-response",
        ".rw-client",
        ".rw-reply",
        "textarea.rw-new-message",
    ]
    ratios = dict(page.evaluate(CONTRAST_SCRIPT, selectors))
    print("\ncontrast ratios: " + ", ".join(f"{s} {r:.1f}" for s, r in ratios.items()))
    assert all(ratio >= 4.5 for ratio in ratios.values()), ratios

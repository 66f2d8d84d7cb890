"""A person in a browser: headless Chromium (Debian's package) driven by playwright, against the served app."""

import shutil
from dataclasses import replace

import pytest

from articleqa.ui.app import serve

from .conftest import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]



@pytest.fixture(scope="module")
def page(shipped_app):
    from playwright.sync_api import sync_playwright

    demo, url = serve(shipped_app, replace(shipped_app.settings, port=free_port()), block=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#question textarea", timeout=60_000)
        yield page
        browser.close()
    demo.close()


def ask(page, question: str):
    page.fill("#question textarea", question)
    page.click("#ask")
    bots = page.locator("#chat .message.bot, #chat [data-testid='bot']")
    count = bots.count()
    page.wait_for_function(
        "n => document.querySelectorAll(\"#chat .message.bot, #chat [data-testid='bot']\").length > n",
        arg=count, timeout=60_000)
    return bots.last


def test_typing_a_question_shows_the_answer_with_its_evidence(page):
    reply = ask(page, "Who leads HTS?")
    text = reply.inner_text()
    assert "Jolani" in text
    assert "Syrian Rebels Capture Hama" in text  # the article title
    assert "Jolani" in reply.locator("mark").first.inner_text()  # the span highlighted in its sentence


def test_markup_in_articles_is_shown_as_text_never_run(page):
    page.evaluate("window.__pwned = 0")
    page.get_by_role("tab", name="Articles").click()
    page.fill("#paste textarea",
              "Museum <b>reopens</b>\n\nThe museum reopened on Friday. <img src=x onerror=\"window.__pwned=1\">"
              "<script>window.__pwned=2</script> Its director is Maria Lopez.")
    page.click("#add")
    page.wait_for_function("document.querySelector('#status').innerText.includes('Added')", timeout=60_000)
    page.get_by_role("tab", name="Chat").click()
    reply = ask(page, "Who is the director of the museum?")
    text = reply.inner_text()
    assert "Maria Lopez" in text
    assert page.evaluate("window.__pwned") == 0
    assert page.locator("#chat img[src='x'], #chat script").count() == 0
    assert "Museum <b>reopens</b>" in text  # the title's markup is printed, not applied
    assert page.locator("#chat b, #chat img").count() == 0

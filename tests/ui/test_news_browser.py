"""A person in a browser (headless Chromium) with news: an answer from a dated article shows its source and
date, linked to the article, and a page added by URL in the Library tab."""

from dataclasses import replace

import pytest

from articleqa.ui.server import serve
from benchmarks.common import free_port
from tests.news_site import LIFEBOAT_CANONICAL, news_app, news_site
from tests.ui.test_browser import CHROMIUM, FLAGS, ask

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)"),
]


@pytest.fixture(scope="module")
def page(shipped_app, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    app = news_app(shipped_app, tmp_path_factory.mktemp("news-browser"))
    demo, url = serve(app, replace(app.settings, port=free_port()), block=False)
    with news_site() as site, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#question textarea", timeout=60_000)
        page.site = site
        yield page
        browser.close()
    demo.close()


def test_an_answer_from_a_dated_article_shows_its_source_and_date(page):
    page.evaluate("window.__pwned = 0")
    reply = ask(page, "When did the volunteer crew begin training on the new boat?")
    text = reply.inner_text()
    assert "last week" in text
    assert "The Coastal Herald · 6 Dec 2024" in text
    assert "Reported on Fri 6 Dec 2024." in text
    link = reply.locator("a", has_text="The Coastal Herald · 6 Dec 2024")
    assert link.get_attribute("href") == LIFEBOAT_CANONICAL


def test_add_from_url_in_the_library(page):
    page.get_by_role("tab", name="Library").click()
    page.fill("#url textarea, #url input", page.site.url("/news/latin1"))
    page.click("#add")
    page.wait_for_function("document.querySelector('#status').innerText.includes('Café reopens')", timeout=60_000)
    page.fill("#url textarea, #url input", page.site.url("/photo.jpg"))
    page.click("#add")
    page.wait_for_function("document.querySelector('#status').innerText.includes('image/jpeg')", timeout=60_000)
    page.get_by_role("tab", name="Chat").click()
    reply = ask(page, "How much did the café refit cost?")
    assert "40,000" in reply.inner_text()
    assert reply.locator("a").first.get_attribute("href") == page.site.url("/news/latin1")

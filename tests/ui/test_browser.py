"""A person in a browser: headless Chromium (Debian's package) driven by playwright, against the served app.

Each flow saves screenshots of its steps under the pytest temp dir (`screenshots/`), to be looked at."""

import json
import re
import shutil
from dataclasses import replace

import pytest

from articleqa.qa.feedback import FeedbackStore
from articleqa.ui.server import serve
from benchmarks.common import free_port
from tests.conftest import SEED, SEED_TITLE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)"),
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BOTS = "#chat [data-testid='bot']"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def shots(tmp_path_factory):
    """Save a screenshot of the page: shots(page, "name")."""
    directory = tmp_path_factory.mktemp("screenshots")

    def save(page, name: str, full_page: bool = True) -> None:
        page.screenshot(path=str(directory / f"{name}.png"), full_page=full_page)

    save.directory = directory
    return save


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def open_page(browser, url: str, viewport: dict | None = None):
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 900})
    page.goto(url)
    page.wait_for_selector("#question textarea", timeout=60_000)
    return page


@pytest.fixture(scope="module")
def served_shipped(shipped_app):
    demo, url = serve(shipped_app, replace(shipped_app.settings, port=free_port()), block=False)
    yield url
    demo.close()


@pytest.fixture(scope="module")
def page(browser, served_shipped):
    page = open_page(browser, served_shipped)
    yield page
    page.close()


@pytest.fixture()
def served_tiny(answering_app, tmp_path):
    """The tiny reader (plumbing, not answers) with the seed and a second article."""
    answering_app.add_files([SEED])
    second = tmp_path / "council.txt"
    second.write_text("Council approves park\n\nThe city council approved a new park on Monday.", encoding="utf-8")
    answering_app.add_files([second])
    demo, url = serve(answering_app, replace(answering_app.settings, port=free_port()), block=False)
    yield url, answering_app
    demo.close()


def wait_for_reply(page, before: int):
    page.wait_for_function(f'n => document.querySelectorAll("{BOTS}").length > n', arg=before, timeout=60_000)
    page.wait_for_function("() => !document.querySelector('#chat .pending, #chat .generating')", timeout=60_000)
    return page.locator(BOTS).last


def ask(page, question: str):
    before = page.locator(BOTS).count()
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")  # Enter sends
    return wait_for_reply(page, before)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def clear_chat(page):
    page.locator("#chat button[aria-label='Clear']").click()
    page.wait_for_function(f'() => document.querySelectorAll("{BOTS}").length === 0')


# ---- the chat, with the shipped reader -------------------------------------------------------
def test_start_page_says_what_is_indexed_and_offers_examples(page, shots):
    page.wait_for_selector("#chat .example", timeout=30_000)
    intro = page.locator("#chat").inner_text()
    # the session's app may hold articles other tests added: the count is said, and the seed is named
    said = " ".join(intro.split())
    assert re.search(r"\b\d+ articles? indexed", said) and SEED_TITLE in said
    examples = page.locator("#chat .example")
    assert 3 <= examples.count() <= 4
    assert (
        examples.first.inner_text().strip() == "Which city are the rebels heading for next?"
    )  # the seed questions, in their order
    shots(page, "01-start")


def test_clicking_an_example_asks_it(page, shots):
    page.locator("#chat .example", has_text="Which city are the rebels heading for next?").click()
    reply = wait_for_reply(page, 0)
    assert "Homs" in reply.locator("mark").first.inner_text()
    assert (
        page.locator("#chat [data-testid='user']").last.inner_text().strip()
        == "Which city are the rebels heading for next?"
    )
    shots(page, "02-example-answered")


def test_typing_a_question_shows_the_answer_with_its_evidence(page, shots):
    reply = ask(page, "How much is the bounty the United States placed on Jolani?")
    text = reply.inner_text()
    assert "$10 million" in text
    assert "Syrian Rebels Capture Hama" in text  # the article title
    assert "$10 million" in reply.locator("mark").first.inner_text()  # the span highlighted in its sentence
    assert any(words in text for words in ("very likely", "likely", "unsure", "doubtful"))  # confidence in words
    assert page.locator("#question textarea").input_value() == ""
    shots(page, "03-asked")


def test_a_pasted_essay_is_refused_with_its_real_length(page):
    reply = ask(page, "Why? " * 1000)
    assert "5,000 characters long" in reply.inner_text() and "under 1,000" in reply.inner_text()


def test_open_the_source_shows_the_article_scrolled_to_the_evidence(page, shots):
    reply = ask(page, "How far is Homs from Hama?")
    sentence = reply.locator("blockquote").inner_text().strip()
    reply.locator("button.open-source").click()
    evidence = page.locator("#source mark#evidence")
    evidence.wait_for(timeout=30_000)
    assert " ".join(evidence.inner_text().split()) == " ".join(sentence.split())
    assert page.locator("#source h3").inner_text() == SEED_TITLE
    assert "Syrian rebels have driven government forces from Hama" in page.locator("#source").inner_text()
    page.wait_for_timeout(300)  # the scroll runs after the panel is drawn
    # the evidence is in view inside the article's scrolling text
    assert page.evaluate("""() => {
        const mark = document.querySelector('#source mark#evidence').getBoundingClientRect();
        const box = document.querySelector('#source .article-text').getBoundingClientRect();
        return mark.top >= box.top - 1 && mark.bottom <= box.bottom + 1 && mark.top >= 0 && mark.top < innerHeight;
    }""")
    shots(page, "04-source-open", full_page=False)


def test_an_abstention_shows_the_closest_passage_the_same_way(page, shots):
    reply = ask(page, "What is the population of Hama?")
    assert "don't say" in reply.inner_text()
    reply.locator("button.open-source").click()
    page.wait_for_function("document.querySelector('#source').innerText.includes('closest passage')")
    assert page.locator("#source mark#evidence").count() == 1
    shots(page, "05-abstention-source", full_page=False)


def test_thumbs_up_and_down_are_stored_with_the_answer(page, shots, shipped_app):
    store = FeedbackStore.in_data_dir(shipped_app.settings.data_dir)
    before = len(store.events())
    reply = ask(page, "Which city are the rebels heading for next?")
    buttons = page.locator("#chat .message-buttons").last
    buttons.get_by_role("button", name="Like", exact=True).click()
    _wait(lambda: len(store.events()) > before)
    record = store.events()[-1]
    assert (record["vote"], record["question"], record["answer"]) == (
        "up",
        "Which city are the rebels heading for next?",
        "Homs",
    )
    assert record["article"] == SEED_TITLE and 0 < record["score"] <= 1
    shots(page, "06-liked")
    buttons.get_by_role("button", name="Dislike", exact=True).click()
    _wait(lambda: store.events()[-1]["vote"] == "down")
    assert [v["vote"] for v in store.votes() if v["answer_id"] == record["answer_id"]] == ["down"]
    assert "Homs" in reply.inner_text()


def test_retry_copy_and_clear(page, shots):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    ask(page, "Which countries back Assad?")
    count = page.locator(BOTS).count()
    page.locator("#chat button[aria-label='Retry']").last.click()
    page.wait_for_timeout(500)
    page.wait_for_function(f'n => document.querySelectorAll("{BOTS}").length === n', arg=count, timeout=60_000)
    assert "Iran and Russia" in page.locator(BOTS).last.inner_text()
    page.locator("#chat .message-buttons").last.get_by_role("button", name="Copy message").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "Iran and Russia" in copied and "<button" not in copied and "<mark>" not in copied
    shots(page, "07-retried")
    clear_chat(page)
    page.wait_for_selector("#chat .example")  # the start message is back
    shots(page, "08-cleared")


def test_markup_in_articles_is_shown_as_text_never_run(page):
    page.evaluate("window.__pwned = 0")
    page.get_by_role("tab", name="Library").click()
    page.fill(
        "#paste textarea",
        'Museum <b>reopens</b>\n\nThe museum reopened on Friday. <img src=x onerror="window.__pwned=1">'
        "<script>window.__pwned=2</script> Its director is Maria Lopez.",
    )
    page.click("#add")
    page.wait_for_function("document.querySelector('#status').innerText.includes('added')", timeout=60_000)
    page.locator("#library [role=gridcell]", has_text="Museum <b>reopens</b>").first.click()  # preview it
    page.wait_for_function("document.querySelector('#preview').innerText.includes('Maria Lopez')")
    page.get_by_role("tab", name="Chat").click()
    reply = ask(page, "Who is the director of the museum?")
    text = reply.inner_text()
    assert "Maria Lopez" in text
    reply.locator("button.open-source").click()
    page.wait_for_function("document.querySelector('#source').innerText.includes('Maria Lopez')")
    assert page.evaluate("window.__pwned") == 0
    assert page.locator("#chat img[src='x'], #chat script, #source img, #preview img, #source script").count() == 0
    assert "Museum <b>reopens</b>" in text  # the title's markup is printed, not applied
    assert page.locator("#chat b, #chat img, #source b, #preview b").count() == 0
    assert "Museum <b>reopens</b>" in page.locator("#source h3").inner_text()


def test_at_phone_width_nothing_scrolls_sideways(browser, served_shipped, shots):
    page = open_page(browser, served_shipped, PHONE)
    try:
        page.wait_for_selector("#chat .example", timeout=30_000)
        assert no_sideways_scroll(page)
        shots(page, "09-phone-start")
        reply = ask(page, "Who leads HTS?")
        reply.locator("button.open-source").click()
        page.locator("#source mark#evidence").wait_for()
        page.wait_for_timeout(300)
        assert no_sideways_scroll(page)
        assert page.locator("#source mark#evidence").is_visible()
        shots(page, "10-phone-source", full_page=False)
        page.get_by_role("tab", name="Library").click()
        page.locator("#library").wait_for()
        assert no_sideways_scroll(page)
        shots(page, "11-phone-library")
    finally:
        page.close()


def test_controls_have_names_for_screen_readers(page):
    page.get_by_role("tab", name="Chat").click()
    assert page.get_by_label("Your question").count() == 1
    assert page.get_by_role("button", name="Ask").count() == 1
    assert page.get_by_role("log").count() >= 1  # the conversation is announced as it grows


# ---- the library, with the tiny reader ---------------------------------------------------------
def test_delete_selected_articles_after_confirming(browser, served_tiny, shots):
    url, app = served_tiny
    page = open_page(browser, url)
    try:
        page.get_by_role("tab", name="Library").click()
        row = page.locator("#library [role=row]", has_text="Council approves park")
        row.wait_for()
        shots(page, "12-library")
        row.locator("input[type=checkbox]").check()
        page.click("#delete")
        page.wait_for_selector("#confirm", state="visible")
        assert "Council approves park" in page.locator("#confirm").inner_text()
        assert len(app.articles()) == 2  # nothing deleted before confirming
        shots(page, "13-delete-confirm")
        page.click("#confirm-delete")
        page.wait_for_function("document.querySelector('#library-status').innerText.includes('Deleted')")
        page.wait_for_function("!document.querySelector('#library').innerText.includes('Council approves park')")
        assert [a["title"] for a in app.articles()] == [SEED_TITLE]
        assert page.locator("#library [role=row]", has_text="Syrian Rebels").count() == 1
        shots(page, "14-deleted")
    finally:
        page.close()


def test_filter_and_preview(browser, served_tiny, shots):
    url, _ = served_tiny
    page = open_page(browser, url)
    try:
        page.get_by_role("tab", name="Library").click()
        page.fill("#library-filter textarea, #library-filter input", "council")
        page.wait_for_function("!document.querySelector('#library').innerText.includes('Syrian Rebels')")
        page.locator("#library [role=gridcell]", has_text="Council approves park").first.click()
        page.wait_for_function("document.querySelector('#preview').innerText.includes('approved a new park')")
        shots(page, "15-filter-preview")
    finally:
        page.close()


def test_upload_several_files_with_a_result_for_each(browser, served_tiny, shots, tmp_path):
    url, app = served_tiny
    files = [tmp_path / "bridge.md", tmp_path / "ferry.html", tmp_path / "photo.txt"]
    files[0].write_text("# Bridge reopens\n\nThe bridge reopened on Monday after repairs.", encoding="utf-8")
    files[1].write_text(
        "<title>Ferry returns</title><p>The ferry returned to service on Tuesday.</p>", encoding="utf-8"
    )
    files[2].write_bytes(bytes(range(256)) * 8)  # not text: refused with a message
    page = open_page(browser, url)
    try:
        page.get_by_role("tab", name="Library").click()
        page.locator("#upload input[type=file]").set_input_files([str(f) for f in files])
        page.wait_for_function("document.querySelector('#upload').innerText.includes('photo')", timeout=30_000)
        shots(page, "16-upload-chosen")
        page.click("#add")
        page.wait_for_function("document.querySelector('#status').innerText.includes('Added 2 of 3')", timeout=60_000)
        status = page.locator("#status").inner_text()
        assert "bridge.md" in status and "Bridge reopens" in status
        assert "ferry.html" in status and "Ferry returns" in status
        assert "photo.txt" in status and "not added" in status
        page.wait_for_function("document.querySelector('#library').innerText.includes('Ferry returns')")
        assert {"Bridge reopens", "Ferry returns"} <= {a["title"] for a in app.articles()}
        shots(page, "17-uploaded")
        page.get_by_role("tab", name="Chat").click()
        assert "4 articles indexed" in " ".join(page.locator("#chat").inner_text().split())
    finally:
        page.close()


def test_an_empty_library_says_how_to_add_articles(browser, tiny_app, shots):
    demo, url = serve(tiny_app, replace(tiny_app.settings, port=free_port()), block=False)
    page = open_page(browser, url)
    try:
        page.wait_for_function("document.querySelector('#chat').innerText.includes('No articles are indexed yet')")
        assert "Library" in page.locator("#chat").inner_text()
        assert page.locator("#chat .example").count() == 0  # nothing is known to be answerable
        shots(page, "18-empty")
    finally:
        page.close()
        demo.close()


def _wait(condition, seconds: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_feedback_api_endpoint(served_tiny):
    from gradio_client import Client

    url, app = served_tiny
    client = Client(url, verbose=False)
    answer = client.predict("Who leads HTS?", None, api_name="/ask")
    assert client.predict(answer, "down", api_name="/feedback")["stored"] is True
    stored = FeedbackStore.in_data_dir(app.settings.data_dir).events()[-1]
    assert (stored["vote"], stored["question"]) == ("down", "Who leads HTS?")
    found = client.predict(answer["article_id"], answer["sentence"], api_name="/article")
    start, end = found["evidence"]
    assert found["title"] == answer["article"] and found["text"][start:end] == answer["sentence"]
    assert "error" in client.predict(999, "", api_name="/article")
    assert json.dumps(found)  # plain JSON for programs

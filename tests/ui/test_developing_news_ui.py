"""Developing news through the faces: /ask over the API (gradio_client against a running server) returns the
newest report's answer with its date, the earlier reports and the period, within a date range when one is
posted; in the browser (headless Chromium) the answer says its date and the earlier reports open under it,
and the date boxes (From / To) limit what is searched."""

import os
from dataclasses import replace
from pathlib import Path

import pytest
from gradio_client import Client

from articleqa.ui.server import serve
from benchmarks.common import free_port
from tests.developing import TITLES, developing_app
from tests.ui.test_browser import CHROMIUM, FLAGS, ask

pytestmark = pytest.mark.slow
KILLED = "How many people were killed in the Karvan earthquake?"


@pytest.fixture(scope="module")
def served(shipped_app, tmp_path_factory):
    app = developing_app(shipped_app, tmp_path_factory.mktemp("developing-ui"), seed=False)
    demo, url = serve(app, replace(app.settings, port=free_port()), block=False)
    yield url
    demo.close()


def test_ask_over_the_api_with_earlier_reports_and_a_date_range(served):
    client = Client(served, verbose=False)
    answer = client.predict(KILLED, [], api_name="/ask")
    assert (answer["answer"], answer["as_of"]) == ("63", "2025-03-06")
    assert [(r["answer"], r["date"], r["article"]) for r in answer["earlier_reports"]] == [
        ("47", "2025-03-04", TITLES["2025-03-04"]),
        ("12", "2025-03-03", TITLES["2025-03-03"]),
    ]
    ranged = client.predict(KILLED, [], "2025-03-01", "2025-03-05", api_name="/ask")
    assert (ranged["answer"], ranged["period"]) == ("47", "1 Mar 2025 – 5 Mar 2025")
    refused = client.predict(KILLED, [], "whenever", "", api_name="/ask")
    assert "is not a date" in refused["error"]
    reply, turn = client.predict(KILLED, [], api_name="/chat")
    assert "as of 6 Mar 2025" in reply and "Earlier reports (2)" in reply and turn["answer"] == "63"


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")
def test_the_chat_shows_the_answer_as_of_its_date_with_the_earlier_reports(served, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("ARTICLEQA_SCREENSHOTS") or tmp_path)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(served)
        page.wait_for_selector("#question textarea", timeout=60_000)
        # the date range is one slim line under the question: a label and two boxes side by side
        boxes = [page.locator(f"#{name}").bounding_box() for name in ("dates-label", "since", "until")]
        assert page.locator("#dates").bounding_box()["height"] < 48
        assert len({round(b["y"] + b["height"] / 2) for b in boxes}) == 1
        reply = ask(page, KILLED)
        assert "63, as of 6 Mar 2025" in reply.inner_text()
        reply.locator("details.earlier-reports summary").click()
        earlier = reply.locator("details.earlier-reports").inner_text()
        assert "47 · 4 Mar 2025 · " + TITLES["2025-03-04"] in earlier
        assert "12 · 3 Mar 2025 · " + TITLES["2025-03-03"] in earlier
        assert earlier.index("47") < earlier.index("12")  # newest first
        page.screenshot(path=str(shots / "developing-news-earlier-reports.png"))
        page.fill("#until textarea, #until input", "2025-03-05")
        reply = ask(page, KILLED)
        text = reply.inner_text()
        assert "47, as of 4 Mar 2025" in text and "Period used: up to 5 Mar 2025" in text
        page.screenshot(path=str(shots / "developing-news-date-range.png"))
        browser.close()

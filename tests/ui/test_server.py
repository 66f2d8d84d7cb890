"""The Gradio app served on a loopback port, used through gradio_client as a program would."""

from dataclasses import replace

import pytest
from gradio_client import Client

from articleqa.ui.server import serve
from benchmarks.common import free_port
from benchmarks.load import RestCaller
from tests.conftest import SEED, SEED_TITLE

# slow: processes, servers or the shipped reader (the fast tier, -m "not slow", leaves them out)
pytestmark = pytest.mark.slow


@pytest.fixture()
def served(answering_app):
    answering_app.add_files([SEED])
    settings = replace(answering_app.settings, port=free_port())
    demo, url = serve(answering_app, settings, block=False)
    try:
        yield Client(url, verbose=False), answering_app, demo
    finally:
        demo.close()


def test_named_endpoints(served):
    client, app, _ = served
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/ask", "/chat", "/add_article", "/articles", "/remove_article"} <= set(endpoints)

    answer = client.predict("Who leads HTS?", None, api_name="/ask")
    assert answer["answer"] and answer["sentence"][answer["start"] : answer["end"]] == answer["answer"]
    assert answer["article"].startswith("Syrian Rebels")

    assert "100,000 characters" in client.predict("x" * 100_000, None, api_name="/ask")["error"]
    assert "Please type a question" in client.predict("   ", None, api_name="/ask")["error"]

    reply, turn = client.predict("Who leads HTS?", [], api_name="/chat")
    assert "<mark>" in reply and turn["question"] == "Who leads HTS?"

    added = client.predict("Council news\n\nThe council <b>approved</b> a park.", "", api_name="/add_article")
    assert added["added"] == ["Council news"]
    titles = [a["title"] for a in client.predict(api_name="/articles")]
    assert titles == [SEED_TITLE, "Council news"]
    assert client.predict("Council news", api_name="/remove_article")["removed"] == ["Council news"]


def test_plain_http_as_the_readme_says(served):
    """The README's curl recipe: POST the four inputs, then read the result from the event stream."""
    client, _, _ = served
    caller = RestCaller(client.src)
    answer = caller.predict("Who leads HTS?", None, "", "", api_name="/ask")
    assert answer["answer"] and answer["article"].startswith("Syrian Rebels")
    follow_up = [{"question": answer["question"], "answer": answer["answer"], "article": answer["article"]}]
    assert caller.predict("When was it formed?", follow_up, "", "", api_name="/ask")["retrieval_query"] == (
        "When was HTS formed?"
    )


def test_binary_text_gets_a_message(served):
    client, _, _ = served
    result = client.predict("".join(map(chr, range(1, 256))) * 4, "photo.txt", api_name="/add_article")
    assert result["added"] == [] and "binary" in result["errors"][0]


def test_questions_do_not_rebuild_gradios_monitoring_summary(served):
    # Gradio rebuilds a pandas summary of up to 10,000 events after each one unless told otherwise (10 CPU
    # ms per question on a server that has answered 10,000); serve() makes it once per 1,000
    client, _, demo = served
    for question in ("Who leads HTS?", "Which city did the rebels capture last week?", "What is the capital of Syria?"):
        assert client.predict(question, None, api_name="/ask")["answer"]
    queue = demo._queue
    assert queue.events_recorded >= 3 and queue.event_count_at_last_cache == 0


def test_an_idle_server_polls_its_queue_less_often_than_gradio_would(served):
    # Gradio's queue looks for work every 1 ms while idle (7-8 % of a core here); serve() makes it 5 ms and
    # its progress updates 50 ms. If a Gradio upgrade renames these, this says so.
    from articleqa.ui.server import IDLE_POLL_S, PROGRESS_POLL_S

    client, _, demo = served
    assert (demo._queue.sleep_when_free, demo._queue.progress_update_sleep_when_free) == (IDLE_POLL_S, PROGRESS_POLL_S)
    assert client.predict("Who leads HTS?", None, api_name="/ask")["answer"]

"""The shipped reader over saved news pages: the stories answer, the boilerplate around them can't, and a
relative answer ("last week") comes with the date of the article that says it."""

import pytest

from tests.news_site import BOILERPLATE, BRIDGE_CANONICAL, LIFEBOAT_CANONICAL, news_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(shipped_app, tmp_path_factory):
    return news_app(shipped_app, tmp_path_factory.mktemp("news"))


@pytest.mark.parametrize(
    ("question", "expected", "source", "date", "url"),
    [
        (
            "How much did the lifeboat station cost?",
            "£4.2 million",
            "The Coastal Herald",
            "2024-12-06",
            LIFEBOAT_CANONICAL,
        ),
        ("What is the lifeboat called?", "Morwenna Rose", "The Coastal Herald", "2024-12-06", LIFEBOAT_CANONICAL),
        (
            "How long is the detour during the bridge closure?",
            "eleven miles",
            "Tamar Valley Gazette",
            "2025-03-14",
            BRIDGE_CANONICAL,
        ),
        ("When was the Old Mill Bridge built?", "1832", "Tamar Valley Gazette", "2025-03-14", BRIDGE_CANONICAL),
    ],
)
def test_the_stories_answer_with_their_source_date_and_link(app, question, expected, source, date, url):
    answer = app.ask(question)
    assert expected in answer.answer
    assert (answer.article_source, answer.article_date, answer.article_url) == (source, date, url)
    assert answer.message == ""  # an absolute answer needs no date note
    as_dict = answer.to_dict()
    assert (as_dict["article_source"], as_dict["article_date"], as_dict["article_url"]) == (source, date, url)


def test_a_relative_answer_carries_the_date_it_was_reported(app):
    answer = app.ask("When did the volunteer crew begin training on the new boat?")
    assert answer.answer == "last week" and answer.article_date == "2024-12-06"
    assert answer.message == "Reported on Fri 6 Dec 2024."


@pytest.mark.parametrize(
    "question",
    [
        "Which newsletter can readers sign up to?",
        "What did readers say about the potholes?",
        "What is the most read story?",
        "Which story is trending?",
        "Who did the llama visit?",
    ],
)
def test_the_boilerplate_is_not_stored_and_cannot_answer(app, question):
    stored = " ".join(a.text for a in app.store.articles).lower()
    assert not [words for words in BOILERPLATE if words.lower() in stored]
    answer = app.ask(question)
    for field in (answer.answer, answer.sentence, answer.context):
        assert not [words for words in BOILERPLATE if words.lower() in (field or "").lower()]

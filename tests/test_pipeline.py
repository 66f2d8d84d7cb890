import pytest
from articleqa.qa.pipeline import InvalidQuestion, Turn, clean_question, resolve_follow_up

from .conftest import SEED


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "Please type a question"),
        ("   \n\t ", "Please type a question"),
        ("?!...", "Please type a question"),
        ("x" * 100_000, "100,000 characters"),
        ("\x00\x01\x02\x03\x04\x05 ab", "not readable"),
        (None, "Please type a question"),
        (b"\xff\xfe\xfa", "not readable"),
    ],
)
def test_bad_questions_get_clear_messages(question, message):
    with pytest.raises(InvalidQuestion, match=message):
        clean_question(question, max_chars=1000)


def test_questions_are_cleaned_not_rejected():
    assert clean_question("  Who\tleads\nHTS?\x07 ", 1000) == "Who leads HTS?"
    assert clean_question("Qui dirige HTS ? — 誰が率いる?", 1000) == "Qui dirige HTS ? — 誰が率いる?"
    assert clean_question("<script>alert(1)</script> who?", 1000) == "<script>alert(1)</script> who?"


def test_follow_up_borrows_the_previous_turn():
    history = [Turn("Who leads HTS?", "Jolani", "Syrian Rebels Capture Hama")]
    question, query, article = resolve_follow_up("When was it formed?", history)
    assert question == "When was HTS formed?"
    assert query == question and article == "Syrian Rebels Capture Hama"  # resolved: the rewritten question is the query
    short, short_query, _ = resolve_follow_up("And in 2015?", history)  # nothing to resolve: borrow the turn
    assert short == "And in 2015?" and "Who leads HTS?" in short_query and "Jolani" in short_query
    assert resolve_follow_up("What is the bounty on him?", history)[0] == "What is the bounty on Jolani?"
    assert resolve_follow_up("Where was his base?", history)[0] == "Where was Jolani's base?"
    history.append(Turn("When was it formed?", "2016", "Syrian Rebels Capture Hama"))
    assert resolve_follow_up("What is the bounty on him?", history)[0] == "What is the bounty on Jolani?"
    assert resolve_follow_up("Who founded it?", history)[0] == "Who founded HTS?"
    standalone = "When did the offensive on Aleppo begin?"
    assert resolve_follow_up(standalone, history) == (standalone, standalone, None)
    assert resolve_follow_up("When was it formed?", []) == ("When was it formed?", "When was it formed?", None)


def test_answer_fields_are_consistent(tiny_app):
    tiny_app.add_files([SEED])
    tiny_app.reader.null_threshold = None  # the tiny reader is random: never abstain, check the plumbing
    answer = tiny_app.ask("Who leads HTS?")
    assert answer.answer and answer.article.startswith("Syrian Rebels Capture Hama")
    assert answer.sentence[answer.start : answer.end] == answer.answer
    assert answer.sentence in answer.context and answer.passage
    assert 0 <= answer.score <= 1
    for alternative in answer.alternatives:
        assert alternative.answer != answer.answer and alternative.answer in alternative.sentence
    as_dict = answer.to_dict()
    assert set(as_dict) >= {"question", "answer", "score", "article", "sentence", "start", "end", "alternatives"}


def test_abstention_offers_the_closest_passage(tiny_app):
    tiny_app.add_files([SEED])
    tiny_app.reader.null_threshold = 1e9  # nothing clears this bar
    answer = tiny_app.ask("What is the population of Hama?")
    assert answer.answer is None and answer.start is None
    assert "don't say" in answer.message and answer.sentence and answer.article


def test_no_articles_yet(tiny_app):
    answer = tiny_app.ask("Who leads HTS?")
    assert answer.answer is None and "No articles" in answer.message


def test_add_text_reports_problems_instead_of_raising(tiny_app):
    assert tiny_app.add_text(b"\x00\x01binary", "x.txt").errors
    assert tiny_app.add_text("", "").errors
    report = tiny_app.add_text("Fresh story\n\nThe council approved the new park on Tuesday.")
    assert [a.title for a in report.added] == ["Fresh story"]
    assert tiny_app.add_text("Fresh story\n\nThe council approved the new park on Tuesday.").duplicates
    assert tiny_app.remove("fresh story") == ["Fresh story"] and tiny_app.articles() == []

import pytest

from articleqa.qa.conversation import FollowUp, PronounResolver, Turn
from articleqa.qa.policy import AnswerPolicy
from articleqa.qa.question import InvalidQuestion, clean_question

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
    resolve = PronounResolver().resolve
    article = "Syrian Rebels Capture Hama"
    history = [Turn("Who leads HTS?", "Jolani", article)]
    # resolved: the rewritten question is also the query
    assert resolve("When was it formed?", history) == FollowUp("When was HTS formed?", "When was HTS formed?", article)
    short = resolve("And in 2015?", history)  # nothing to resolve: retrieval borrows the previous turn
    assert short.question == "And in 2015?" and "Who leads HTS?" in short.query and "Jolani" in short.query
    assert resolve("What is the bounty on him?", history).question == "What is the bounty on Jolani?"
    assert resolve("Where was his base?", history).question == "Where was Jolani's base?"
    history.append(Turn("When was it formed?", "2016", article))
    assert resolve("What is the bounty on him?", history).question == "What is the bounty on Jolani?"
    assert resolve("Who founded it?", history).question == "Who founded HTS?"
    standalone = "When did the offensive on Aleppo begin?"
    assert resolve(standalone, history) == FollowUp(standalone, standalone)
    assert resolve("When was it formed?", []) == FollowUp("When was it formed?", "When was it formed?")


def test_it_is_the_place_just_named_and_the_topic_outlives_pronoun_questions():
    resolve = PronounResolver().resolve
    history = [Turn("Who leads HTS?", "Jolani"), Turn("How big is the bounty on him?", "$10 million"),
               Turn("Which country designated it a Foreign Terrorist Organization?", "the United States")]
    # the topic comes from the last question that names its subject, not from one that says "it"
    assert resolve("Which city are they heading for next?", history).question == "Which city are HTS heading for next?"
    history.append(Turn("Which city are they heading for next?", "Homs"))
    assert resolve("How far is it from Hama?", history).question == "How far is Homs from Hama?"


def test_answer_fields_are_consistent(tiny_app):
    tiny_app.add_files([SEED])
    tiny_app.policy = tiny_app.policy.always_answering()  # the tiny reader is random: check the plumbing
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
    # a calibration that is never sure enough
    tiny_app.policy = AnswerPolicy(calibration={"features": ["margin"], "weights": [0.0], "bias": 0.0}, min_confidence=0.9)
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

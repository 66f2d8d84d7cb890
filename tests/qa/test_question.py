"""qa/question.py: what a question must be."""

import pytest

from articleqa.qa.question import InvalidQuestion, clean_question


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

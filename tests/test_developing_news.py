"""Developing news with the shipped reader: the newest report's answer is given as of its date with the earlier
reports beside it, a question that names a time is answered from that time's reports, a date range limits what
is searched, and undated articles (the seed) are answered exactly as before."""

import pytest

from articleqa.qa.periods import Scope
from articleqa.qa.pipeline import NOTHING_IN_RANGE
from tests.conftest import SEED_TITLE
from tests.developing import ASKED_ON, TITLES, developing_app

pytestmark = pytest.mark.slow
KILLED = "How many people were killed in the Karvan earthquake?"


@pytest.fixture(scope="module")
def app(shipped_app, tmp_path_factory):
    return developing_app(shipped_app, tmp_path_factory.mktemp("developing"))


def test_the_newest_report_wins_and_the_earlier_ones_come_with_their_dates(app):
    answer = app.ask(KILLED)
    assert (answer.answer, answer.as_of, answer.article) == ("63", "2025-03-06", TITLES["2025-03-06"])
    assert [(r.answer, r.date, r.article) for r in answer.earlier_reports] == [
        ("47", "2025-03-04", TITLES["2025-03-04"]),
        ("12", "2025-03-03", TITLES["2025-03-03"]),
    ]
    assert "47" in answer.earlier_reports[0].sentence and answer.period == ""
    assert "newest of 3 reports" in answer.message
    record = answer.to_dict()  # the /ask record and the CLI's --json
    assert record["as_of"] == "2025-03-06"
    assert record["earlier_reports"][0] == {
        "answer": "47",
        "date": "2025-03-04",
        "article": TITLES["2025-03-04"],
        "article_id": answer.earlier_reports[0].article_id,
        "sentence": answer.earlier_reports[0].sentence,
        "score": answer.earlier_reports[0].score,
    }


@pytest.mark.parametrize(
    ("question", "expected", "as_of", "period"),
    [
        (
            "How many people had been killed in the Karvan earthquake as of March 4?",
            "47",
            "2025-03-04",
            "as of 4 Mar 2025",
        ),
        (
            "How many people had been killed in the Karvan earthquake on Monday?",
            "12",
            "2025-03-03",
            "on Mon 3 Mar 2025",
        ),
        (
            "How many people were killed in the Karvan earthquake before 5 March 2025?",
            "47",
            "2025-03-04",
            "before 5 Mar 2025",
        ),
        # a time named by an event: the first report that tells of it dates it
        (
            "How many people had been killed in the Karvan earthquake before the search ended?",
            "47",
            "2025-03-04",
            "before the search ended (6 Mar 2025)",
        ),
    ],
)
def test_a_question_that_names_a_time_is_answered_from_that_time(app, question, expected, as_of, period):
    answer = app.ask(question, None, Scope(today=ASKED_ON))
    assert (answer.answer, answer.as_of, answer.period) == (expected, as_of, period)
    assert all(r.date < as_of for r in answer.earlier_reports)


def test_relative_times_count_from_the_settings_today(app):
    from dataclasses import replace

    settings = app.settings
    app.settings = replace(settings, today=ASKED_ON.isoformat())
    try:
        answer = app.ask("How many people had been killed in the Karvan earthquake on Tuesday?")
    finally:
        app.settings = settings
    assert (answer.answer, answer.period) == ("47", "on Tue 4 Mar 2025")


def test_a_fact_that_never_changed_is_still_right_with_no_earlier_report(app):
    answer = app.ask("Near which town was the epicentre of the Karvan earthquake?")
    assert answer.answer == "Dosht" and answer.earlier_reports == []


def test_a_date_range_limits_what_is_searched(app):
    answer = app.ask(KILLED, None, Scope(until="2025-03-05"))
    assert (answer.answer, answer.as_of, answer.period) == ("47", "2025-03-04", "up to 5 Mar 2025")
    assert [r.answer for r in answer.earlier_reports] == ["12"]
    nothing = app.ask(KILLED, None, Scope("2024-01-01", "2024-01-31"))
    assert nothing.answer is None and nothing.message == NOTHING_IN_RANGE.format(range="1 Jan 2024 – 31 Jan 2024")
    with pytest.raises(Exception, match="is not a date"):
        app.ask(KILLED, None, Scope("whenever"))


@pytest.mark.parametrize(
    "question", ["Who captured Hama?", "When was HTS formed?", "What happened in 2016?", "Who leads HTS?"]
)
def test_undated_articles_are_answered_exactly_as_before(app, shipped_app, question):
    """The seed has no date: read alone (shipped_app indexes only the seed) nothing is read apart and no
    period applies, so its answer takes the path it took before; beside dated reports an answer from it
    carries no date, earlier report or period either."""
    reading = shipped_app.read(question)
    assert reading.reports == () and reading.output.apart == () and reading.period is None
    assert shipped_app.decide(reading) == shipped_app.ask(question, None, Scope(today=ASKED_ON))
    answer = app.ask(question, None, Scope(today=ASKED_ON))
    if answer.article == SEED_TITLE:
        assert answer.as_of is None and answer.earlier_reports == [] and answer.period == ""

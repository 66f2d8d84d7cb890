"""The period a question names and the date range a user sets: dateparser finds and reads the date, the words
around it place it ("as of", "before", "since"), and words that only look like dates ("may", "march") are not
taken for one."""

from datetime import date

import pytest

from articleqa.qa.evidence import content_words
from articleqa.qa.periods import Period, date_range, event_period, named_event, named_period
from articleqa.qa.question import InvalidQuestion

TODAY = date(2025, 3, 7)  # a Friday


@pytest.mark.parametrize(
    ("question", "start", "end", "label"),
    [
        ("How many people had been killed as of March 4?", None, date(2025, 3, 4), "as of 4 Mar 2025"),
        ("What was the toll on Tuesday?", date(2025, 3, 4), date(2025, 3, 4), "on Tue 4 Mar 2025"),
        ("Who led the team last week?", date(2025, 2, 24), date(2025, 3, 2), "in the week of 24 Feb 2025"),
        ("Who won the cup in 2018?", date(2018, 1, 1), date(2018, 12, 31), "in 2018"),
        ("What was the rate in March 2019?", date(2019, 3, 1), date(2019, 3, 31), "in Mar 2019"),
        ("Who led the council before 20 October 2024?", None, date(2024, 10, 19), "before 20 Oct 2024"),
        ("What had the rebels captured by 9 January 2025?", None, date(2025, 1, 9), "as of 9 Jan 2025"),
        ("How many were killed since Monday?", date(2025, 3, 3), None, "since 3 Mar 2025"),
        ("What happened after 3 March?", date(2025, 3, 4), None, "after 3 Mar 2025"),
        ("What happened yesterday?", date(2025, 3, 6), date(2025, 3, 6), "on Thu 6 Mar 2025"),
    ],
)
def test_a_question_that_names_a_time(question, start, end, label):
    period, _ = named_period(question, TODAY)
    assert (period.start, period.end, period.label) == (start, end, label)


@pytest.mark.parametrize(
    "question",
    [
        "What is the death toll of the Karvan earthquake?",
        "Who may lead the party now?",
        "Where was the march held?",
        "Who is the mayor of Sun City?",
        "Which city did the rebels take from the army?",
        "When was HTS formed?",
    ],
)
def test_words_that_only_look_like_dates_name_no_time(question):
    assert named_period(question, TODAY) is None


def test_a_period_contains_iso_dates_and_nothing_undated():
    period = Period(date(2025, 3, 1), date(2025, 3, 6), "")
    assert period.contains("2025-03-06") and period.contains("2025-03-01T10:00:00")
    assert not period.contains("2025-03-07") and not period.contains("") and not period.contains(None)
    assert Period(None, date(2025, 3, 4), "").until_end().label == "as of 4 Mar 2025"


def test_a_date_range_from_iso_dates_or_words():
    assert date_range("", "", TODAY) is None
    assert date_range("2025-03-01", "2025-03-06", TODAY) == Period(
        date(2025, 3, 1), date(2025, 3, 6), "1 Mar 2025 – 6 Mar 2025"
    )
    last_week = date_range("last week", None, TODAY)
    assert (last_week.start, last_week.end, last_week.label) == (date(2025, 2, 24), None, "from 24 Feb 2025")
    until_march = date_range(None, "March 2025", TODAY)
    assert (until_march.start, until_march.end, until_march.label) == (None, date(2025, 3, 31), "up to 31 Mar 2025")


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("soon-ish", "", "is not a date"),
        ("2025-03-06", "2025-03-01", r"ends \(1 Mar 2025\) before it starts"),
    ],
)
def test_a_date_range_that_is_not_one_is_refused_with_a_message(since, until, message):
    with pytest.raises(InvalidQuestion, match=message):
        date_range(since, until, TODAY)


def test_a_time_named_by_an_event_is_dated_by_the_first_report_that_tells_of_it():
    assert named_event("How many had been killed before the search ended?") == ("before", "the search ended")
    assert named_event("Where does the council meet?") is None
    assert named_event("How many homes are without power after Storm Edda?") is None  # a cause, not a time
    reports = [
        ("2025-03-06", content_words("Rescuers ended the search for survivors on Thursday.")),
        ("2025-03-07", content_words("The search ended a day ago.")),
        ("2025-03-04", content_words("It rose.")),
    ]
    assert event_period("before", "the search ended", reports) == Period(
        None, date(2025, 3, 5), "before the search ended (6 Mar 2025)"
    )
    assert event_period("since", "the search ended", reports).start == date(2025, 3, 6)
    assert event_period("before", "the offensive", reports) is None  # no report tells of it

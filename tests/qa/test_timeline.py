"""Developing news, the choice alone (qa/timeline.py): the newest of the comparably sure reports answers, the
older ones that said otherwise are listed newest first, a named period picks its reports (or those before
it), and a newer report of another story never wins."""

from datetime import date

from articleqa.qa.periods import Period
from articleqa.qa.policy import Judgement
from articleqa.qa.reader import Span
from articleqa.qa.timeline import ReportReading, follow, proper_names, story_words

STORY = frozenset({"karvan"})


def report(article: int, day: str, answer: str, confidence: float, words=STORY, names=frozenset()) -> ReportReading:
    span = Span(answer, article, 0, len(answer), confidence, 1.0)
    return ReportReading(article, day, Judgement(span, confidence, confidence < 0.27), words, names)


MONDAY, TUESDAY, THURSDAY = (
    report(1, "2025-03-03", "12", 0.8),
    report(2, "2025-03-04", "47", 0.95),
    report(3, "2025-03-06", "63", 0.4),
)


def test_the_newest_comparably_sure_report_answers_and_the_earlier_ones_are_listed_newest_first():
    timeline = follow([TUESDAY, THURSDAY, MONDAY], STORY, comparable=0.15)
    assert timeline.chosen is THURSDAY
    assert [r.answer for r in timeline.earlier] == ["47", "12"]
    assert timeline.period == "" and "newest of 3 reports" in timeline.note


def test_a_report_much_less_sure_than_the_surest_does_not_count():
    unsure = report(3, "2025-03-06", "63", 0.1)
    timeline = follow([TUESDAY, unsure, MONDAY], STORY, comparable=0.15)
    assert timeline.chosen is TUESDAY and [r.answer for r in timeline.earlier] == ["12"]


def test_an_answer_that_never_changed_lists_no_earlier_report():
    same = [report(1, "2025-03-03", "Dosht", 0.9), report(2, "2025-03-04", "the town of Dosht", 0.7)]
    timeline = follow(same, STORY, comparable=0.15)
    assert timeline.chosen.answer == "the town of Dosht" and timeline.earlier == ()


def test_a_newer_report_of_another_story_never_wins():
    other = report(9, "2025-06-01", "2,500", 0.9, words=frozenset())
    timeline = follow([TUESDAY, MONDAY, other], STORY, comparable=0.15)
    assert timeline.chosen is TUESDAY


def test_one_report_alone_leaves_the_answer_as_it_was():
    assert follow([TUESDAY], STORY, comparable=0.15) is None


def test_a_named_period_picks_its_reports_or_else_the_latest_before_it():
    as_of = Period(None, date(2025, 3, 4), "as of 4 Mar 2025")
    timeline = follow([MONDAY, TUESDAY, THURSDAY], STORY, 0.15, as_of)
    assert timeline.chosen is TUESDAY and timeline.period == "as of 4 Mar 2025"
    wednesday = Period(date(2025, 3, 5), date(2025, 3, 5), "on Wed 5 Mar 2025")
    timeline = follow([MONDAY, TUESDAY, THURSDAY], STORY, 0.15, wednesday)
    assert timeline.chosen is TUESDAY and "the latest before it" in timeline.note
    later = Period(date(2026, 1, 1), None, "since 1 Jan 2026")
    timeline = follow([MONDAY, TUESDAY, THURSDAY], STORY, 0.15, later)
    assert timeline.chosen is THURSDAY and timeline.period == "" and "No report since 1 Jan 2026" in timeline.note


def test_the_story_is_what_the_question_names():
    assert story_words("What is the death toll of the Karvan earthquake?") == {"karvan"}
    assert story_words("How many homes are without power after Storm Edda?") == {"storm", "edda"}
    assert story_words("what is the toll?") == {"toll"}


def test_a_report_that_names_the_storys_people_is_about_the_story_without_its_words():
    # "Policymakers in Valoria lowered the benchmark rate again, to 4%": not "Central Bank", but its governor
    bank = frozenset({"central", "bank", "valoria"})
    november = report(1, "2018-11-08", "4.5%", 0.98, bank, frozenset({"Petra Novak", "Central Bank"}))
    february = report(2, "2019-02-07", "4.25%", 0.93, bank, frozenset())
    june = report(3, "2019-06-06", "4%", 0.59, frozenset({"valoria"}), frozenset({"Petra Novak", "Governor Petra"}))
    timeline = follow([november, february, june], bank, comparable=0.15)
    assert timeline.chosen is june
    # 4.25% and 4.5% are other answers than 4%, though "4" is in "425" and "45" once normalised
    assert [r.answer for r in timeline.earlier] == ["4.25%", "4.5%"]
    stranger = report(4, "2020-01-01", "3%", 0.9, frozenset({"valoria"}), frozenset({"Anna Kowal"}))
    assert follow([november, february, stranger], bank, comparable=0.15).chosen is february


def test_names_are_two_or_more_capitalised_words_of_running_text():
    text = "Governor Petra Novak cited weak exports. The Northern Front took Tarsk. Rescuers said so."
    assert proper_names(text) == {"Governor Petra", "Petra Novak", "Governor Petra Novak", "Northern Front"}

"""How the faces say developing news (no models): the answer as of its date, the earlier reports newest first
with their dates and articles, the period used; article text stays text in the chat."""

from articleqa.cli import answer_text, build_parser
from articleqa.qa.pipeline import Answer, EarlierReport
from articleqa.ui.render import answer_markdown

ANSWER = Answer(
    "How many people were killed?",
    "63",
    0.86,
    "Karvan mourns as search ends",
    "Officials said 63 people had been killed in the disaster.",
    14,
    16,
    article_date="2025-03-06",
    as_of="2025-03-06",
    message="The newest of 3 reports that answer differently (6 Mar 2025).",
    earlier_reports=[
        EarlierReport("47", "2025-03-04", "Karvan <b>toll</b> rises", 2, "It rose to 47.", 0.9),
        EarlierReport("12", "2025-03-03", "Earthquake strikes", 1, "At least 12 died.", 0.8),
    ],
)


def test_the_chat_says_the_date_and_lists_the_earlier_reports_in_a_disclosure():
    text = answer_markdown(ANSWER)
    assert text.startswith("**63**, as of 6 Mar 2025")
    assert '<details class="earlier-reports"><summary>Earlier reports (2)</summary>' in text
    assert text.index("**47** · 4 Mar 2025") < text.index("**12** · 3 Mar 2025")
    assert "<b>" not in text and "&lt;b&gt;toll&lt;/b&gt;" in text  # a title is text, never markup


def test_the_chat_names_the_period_used():
    from dataclasses import replace

    assert "Period used: as of 4 Mar 2025" in answer_markdown(replace(ANSWER, period="as of 4 Mar 2025"))
    assert "as of" not in answer_markdown(replace(ANSWER, as_of=None, earlier_reports=[], message=""))


def test_the_terminal_says_the_date_and_the_earlier_reports():
    text = answer_text(ANSWER)
    assert "A: 63, as of 6 Mar 2025  (score 0.86, Karvan mourns as search ends)" in text
    assert "earlier reports: 47 (4 Mar 2025, Karvan <b>toll</b> rises); 12 (3 Mar 2025, Earthquake strikes)" in text


def test_ask_takes_a_date_range():
    args = build_parser().parse_args(["ask", "--since", "2025-03-01", "--until", "last week", "What happened?"])
    assert (args.since, args.until, args.question) == ("2025-03-01", "last week", ["What happened?"])

"""Chat Markdown and panel HTML: what they say, and that article text in them is never markup."""

from articleqa.qa.pipeline import Alternative, Answer
from articleqa.seed import example_questions, seed_title
from articleqa.ui.render import answer_markdown, article_html, readable_date, start_markdown


def answer(**changes) -> Answer:
    values = dict(
        question="Who leads HTS?",
        answer="Jolani",
        score=0.72,
        article="Syrian <b>Rebels</b>",
        sentence="HTS was formed by Jolani.",
        start=18,
        end=24,
        passage=None,
        context=None,
        article_id=0,
    )
    return Answer(**{**values, **changes})


def test_an_answer_has_its_span_marked_its_article_and_its_confidence_in_words():
    text = answer_markdown(answer())
    assert "formed by <mark>Jolani</mark>." in text
    assert "*Syrian &lt;b&gt;Rebels&lt;/b&gt;*" in text and "<b>" not in text
    assert "**likely** (72%)" in text
    assert 'class="open-source"' in text


def test_date_and_source_are_shown_when_the_answer_has_them():
    dated = answer(score=0.9, article="T", article_date="2024-12-06", article_source="CNN")
    assert "*T* · CNN · 6 Dec 2024 · **very likely** (90%)" in answer_markdown(dated)
    assert readable_date("not a date") == "not a date" and readable_date(None) == ""


def test_alternatives_name_their_article_only_when_it_is_another_one():
    text = answer_markdown(
        answer(
            alternatives=[
                Alternative("HTS", 0.45, "Syrian <b>Rebels</b>", "s"),
                Alternative("Assad", 0.41, "Other story", "s"),
            ]
        )
    )
    assert "HTS (unsure, 45%)" in text and "Assad (unsure, 41%, *Other story*)" in text


def test_an_abstention_shows_the_closest_passage():
    text = answer_markdown(
        answer(
            answer=None,
            start=None,
            end=None,
            score=0.1,
            message="The articles don't say. The closest passage is shown.",
        )
    )
    assert text.startswith("**The articles don&#x27;t say.") and "> HTS was formed by Jolani." in text
    assert "open-source" in text and "<mark>" not in text


def test_the_start_message_says_what_is_indexed():
    assert "No articles are indexed yet" in start_markdown([], [])
    one = start_markdown([{"title": "Story <i>one</i>"}], ["Q?"])
    assert one.startswith("**1 article indexed:** *Story &lt;i&gt;one&lt;/i&gt;*") and "Try one of these" in one
    many = start_markdown([{"title": f"T{i}"} for i in range(1200)], [])
    assert "**1,200 articles indexed**, among them *T0*, *T1*, *T2* and 1,197 more" in many


def test_examples_come_from_the_seed_only_when_it_is_indexed():
    examples = example_questions(["Other", seed_title()])
    assert examples[0] == "Which city are the rebels heading for next?" and len(examples) == 4
    assert example_questions(["Other"]) == []


def test_the_article_panel_marks_the_evidence_and_keeps_markup_inert():
    text = "Title line\nFirst <script>x()</script> sentence. The answer is <b>here</b>. Last one."
    evidence = "The answer is <b>here</b>."
    start = text.index(evidence)
    article = {
        "id": 1,
        "title": "A <i>title</i>",
        "text": text,
        "sentences": [[0, 10], [11, 50]],
        "date": "2024-12-06",
        "source": "CNN",
        "url": "javascript:alert(1)",
        "evidence": [start, start + len(evidence)],
    }
    panel = article_html(article, span=(14, 25))
    assert '<mark id="evidence">The answer is <strong>&lt;b&gt;here&lt;/b&gt;</strong>.</mark>' in panel
    assert "<script>" not in panel and "<i>" not in panel and "javascript:" not in panel
    assert "6 Dec 2024 · CNN" in panel and "2 sentences" in panel
    article["url"] = 'https://example.com/a"b'
    assert 'href="https://example.com/a&quot;b"' in article_html(article)
    assert "Nothing here" in article_html(None, note="Nothing here")

"""The answer a face shows (frozen dataclasses, JSON by `to_dict`), assembled from a judged reading:
the span located in its sentence and article, or the closest passage when the policy abstains."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

from articleqa.index.store import StoredArticle
from articleqa.qa.dates import date_note
from articleqa.qa.evidence import SentenceFinder
from articleqa.qa.policy import Judgement
from articleqa.qa.reader import Span
from articleqa.qa.retriever import Passage
from articleqa.qa.text import normalize_answer
from articleqa.qa.timeline import Timeline

NO_ANSWER = "The articles don't say."
NO_ARTICLES = "No articles are indexed yet: add one first."


@dataclass(frozen=True)
class Alternative:
    answer: str
    score: float
    article: str
    sentence: str


@dataclass(frozen=True)
class EarlierReport:
    """What an older report of the same story said (developing news: qa/timeline.py)."""

    answer: str
    date: str  # ISO 8601 publication date
    article: str
    article_id: int
    sentence: str
    score: float  # the policy's confidence in it, read alone


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str | None = None  # None: the articles don't hold the answer
    score: float = 0.0  # confidence in [0, 1]: P(right) for the calibrated question mix
    article: str | None = None  # title of the article the answer (or the closest passage) came from
    sentence: str | None = None  # the evidence sentence
    start: int | None = None  # answer offsets within `sentence`
    end: int | None = None
    passage: str | None = None  # the text handed to the reader that held the answer
    context: str | None = None  # the evidence sentence with its neighbours, for "more context"
    article_id: int | None = None
    message: str = ""  # what to tell the user besides the answer
    alternatives: list[Alternative] = field(default_factory=list)
    retrieval_query: str = ""
    # Where and when the article was published, as far as it says
    article_date: str | None = None  # ISO 8601, YYYY-MM-DD
    article_source: str = ""  # the publisher or site
    article_url: str = ""
    # Developing news (qa/timeline.py): the date the answer holds as of (its report's), the older reports that
    # said otherwise (newest first), and the period used: one the question named, or the date range asked
    as_of: str | None = None
    earlier_reports: list[EarlierReport] = field(default_factory=list)
    period: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def assemble(
    question: str,
    query: str,
    judgement: Judgement,
    passages: Sequence[Passage],
    articles: dict[int, StoredArticle],
    timeline: Timeline | None = None,
    period: str = "",
    empty: str = NO_ARTICLES,
) -> Answer:
    """The Answer for a judged reading of `passages` (taken from the store snapshot `articles`); with a
    `timeline` (developing news), from its chosen report, with the earlier reports beside it. `period`: the
    date range asked, in words; `empty`: what to say when no passage was found."""
    if not passages:
        return Answer(question, message=empty, retrieval_query=query, period=period)
    if timeline is not None and not judgement.abstain:
        return _from_timeline(question, query, judgement, passages, articles, timeline, period)
    best = judgement.best
    if judgement.abstain:
        closest = passages[best.passage_index if best else 0]
        article = articles[closest.article_id]
        if best is not None:  # the sentence the reader leaned to, not the whole story
            _, _, position, start, end = _locate(best, passages, articles)
        else:
            position, start = closest.first_sentence, article.sentences[closest.first_sentence][0]
            end = article.sentences[closest.first_sentence][1]
        return Answer(
            question,
            None,
            round(judgement.confidence, 4),
            article.title,
            article.text[start:end],
            passage=closest.text,
            context=_context(article, position),
            article_id=article.id,
            message=f"{NO_ANSWER} The closest passage is shown.",
            retrieval_query=query,
            period=period,
            **_published(article),
        )
    passage, article, position, sentence_start, sentence_end = _locate(best, passages, articles)
    alternatives = []
    for span, confidence in judgement.alternatives:
        _, other, _, start, end = _locate(span, passages, articles)
        alternatives.append(Alternative(span.text, round(confidence, 4), other.title, other.text[start:end]))
    return Answer(
        question=question,
        answer=best.text,
        score=round(judgement.confidence, 4),
        article=article.title,
        sentence=article.text[sentence_start:sentence_end],
        start=passage.start + best.start - sentence_start,
        end=passage.start + best.end - sentence_start,
        passage=passage.text,
        context=_context(article, position),
        article_id=article.id,
        alternatives=alternatives,
        retrieval_query=query,
        # a relative answer ("last week") is placed on the calendar by the article's date
        message=date_note(best.text, article.meta.date),
        period=period,
        **_published(article),
    )


def _from_timeline(
    question: str,
    query: str,
    judgement: Judgement,
    passages: Sequence[Passage],
    articles: dict[int, StoredArticle],
    timeline: Timeline,
    period: str,
) -> Answer:
    """The answer of the timeline's chosen report, said as of its date, with the earlier reports' answers;
    the other possible answers are the reading's, less those the reports already give."""
    chosen = timeline.chosen.judgement
    earlier = []
    for report in timeline.earlier:
        _, other, _, start, end = _locate(report.judgement.best, passages, articles)
        earlier.append(
            EarlierReport(
                report.answer,
                report.date,
                other.title,
                other.id,
                other.text[start:end],
                round(report.judgement.confidence, 4),
            )
        )
    # the other possible answers: the reading's and the chosen report's, one per answer text, less what the
    # reports already say, as many as the policy shows
    said = [normalize_answer(text) for text in (timeline.chosen.answer, *(r.answer for r in timeline.earlier))]
    others: list[tuple[Span, float]] = []
    for span, confidence in judgement.alternatives + chosen.alternatives:
        key = normalize_answer(span.text)
        if not any(key in other or other in key for other in said):
            said.append(key)
            others.append((span, confidence))
    shown = max(len(judgement.alternatives), len(chosen.alternatives))
    answer = assemble(
        question, query, Judgement(chosen.best, chosen.confidence, False, tuple(others[:shown])), passages, articles
    )
    message = " ".join(filter(None, (answer.message, timeline.note)))
    return replace(
        answer, as_of=timeline.chosen.date, earlier_reports=earlier, period=timeline.period or period, message=message
    )


def _published(article: StoredArticle) -> dict:
    return {
        "article_date": article.meta.date or None,
        "article_source": article.meta.source,
        "article_url": article.meta.url,
    }


def _locate(span: Span, passages: Sequence[Passage], articles: dict[int, StoredArticle]):
    """The passage, article, first sentence position, and the character range of the sentence(s) that
    hold the span (a span may run over a sentence break)."""
    passage = passages[span.passage_index]
    article = articles[passage.article_id]
    first, last = SentenceFinder([passage.text], [passage.sentences]).covering(0, span.start, span.end)
    start, end = passage.sentences[first][0], max(passage.sentences[last][1], span.end)
    return passage, article, passage.first_sentence + first, passage.start + start, passage.start + end


def _context(article: StoredArticle, position: int, radius: int = 2) -> str:
    first = max(0, position - radius)
    last = min(len(article.sentences) - 1, position + radius)
    return article.text[article.sentences[first][0] : article.sentences[last][1]]

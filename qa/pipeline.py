"""Question in, Answer out: validation, follow-up handling, retrieval, reading, abstention."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from articleqa.index.documents import InvalidArticle, parse_article
from articleqa.index.embedder import Embedder
from articleqa.index.indexer import Indexer, IndexReport
from articleqa.index.store import SentenceStore, StoredArticle
from articleqa.qa.evaluation.squad_metric import normalize_answer
from articleqa.qa.reader import ExtractiveReader, Span
from articleqa.qa.retriever import HybridRetriever, Passage

from articleqa.config import Settings

log = logging.getLogger("articleqa")

NO_ANSWER = "The articles don't say."


class InvalidQuestion(ValueError):
    """A question that cannot be answered as typed; the message is meant for the user."""


@dataclass(frozen=True)
class Alternative:
    answer: str
    score: float
    article: str
    sentence: str


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, as the faces hand it back."""

    question: str
    answer: str | None = None
    article: str | None = None


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str | None  # None: the articles don't hold the answer
    score: float  # confidence in [0, 1]
    article: str | None  # title of the article the answer (or the closest passage) came from
    sentence: str | None  # the evidence sentence
    start: int | None  # answer offsets within `sentence`
    end: int | None
    passage: str | None  # the window of sentences handed to the reader
    context: str | None  # the evidence sentence with its neighbours, for "more context"
    article_id: int | None = None
    message: str = ""  # what to tell the user besides the answer
    alternatives: list[Alternative] = field(default_factory=list)
    retrieval_query: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def clean_question(question: object, max_chars: int) -> str:
    """The question as text, or InvalidQuestion with a message a user understands."""
    if question is None:
        raise InvalidQuestion("Please type a question.")
    if isinstance(question, bytes):
        try:
            question = question.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidQuestion("The question is not readable text.") from None
    text = unicodedata.normalize("NFC", str(question))
    if len(text) > max_chars:
        raise InvalidQuestion(f"The question is {len(text):,} characters long; please keep it under {max_chars:,}.")
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    if text and sum(not ch.isprintable() and not ch.isspace() for ch in text) > len(text) // 4:
        raise InvalidQuestion("The question is not readable text.")
    printable = " ".join(printable.split())
    if not any(ch.isalnum() for ch in printable):
        raise InvalidQuestion("Please type a question.")
    return printable


_PERSON_PRONOUN = re.compile(r"\b(he|him|she|her)\b", re.I)
_POSSESSIVE_PERSON = re.compile(r"\b(his|hers)\b", re.I)
_THING_PRONOUN = re.compile(r"\b(it|they|them)\b", re.I)
_POSSESSIVE_THING = re.compile(r"\b(its|their)\b", re.I)
_FOLLOW_UP = re.compile(r"\b(he|him|his|she|her|hers|it|its|they|them|their|theirs|this|that|there|then)\b", re.I)
_QUESTION_WORDS = {"who", "what", "when", "where", "which", "why", "how", "whom", "whose", "is", "are", "was",
                   "were", "did", "does", "do", "can", "in", "on", "the", "a", "an"}


def _topic(question: str) -> str | None:
    """The named thing a question is about: its capitalised words that are not question words."""
    words = re.findall(r"[\w'-]+", question)
    names = [w for i, w in enumerate(words) if w[:1].isupper() and (i > 0 or w.lower() not in _QUESTION_WORDS)]
    return " ".join(names) or None


def _is_name(text: str | None) -> bool:
    words = [w for w in (text or "").split() if any(ch.isalpha() for ch in w)]
    # "Abu Mohammed al-Jolani": name particles (al-, bin, de, van) may be lower-case
    return 0 < len(words) <= 5 and words[0][:1].isupper() and 2 * sum(w[:1].isupper() for w in words) >= len(words)


def resolve_follow_up(question: str, history: list[Turn]) -> tuple[str, str, str | None]:
    """(question for the reader, query for retrieval, article to lean towards) in a conversation.

    A question with a pronoun (or a very short one) is read in the light of the conversation: "he/his"
    become the latest answer that is a name, "it/its/they" the latest question's topic, so "When was it
    formed?" after "Who leads HTS?" asks "When was HTS formed?". When no pronoun could be resolved
    ("And in 2015?"), retrieval also gets the previous question and answer. The previous answer's article
    is preferred either way."""
    turns = [t for t in reversed(history) if t.question]
    if not turns or not (_FOLLOW_UP.search(question) or len(question.split()) <= 3):
        return question, question, None
    previous = turns[0]
    topic = next(filter(None, (_topic(t.question) for t in turns)), None)
    person = next((t.answer for t in turns if _is_name(t.answer)), None) or topic
    topic = topic or person
    rewritten = question
    if person:
        rewritten = _PERSON_PRONOUN.sub(person, rewritten)
        rewritten = _POSSESSIVE_PERSON.sub(f"{person}'s", rewritten)
    if topic:
        rewritten = _THING_PRONOUN.sub(topic, rewritten)
        rewritten = _POSSESSIVE_THING.sub(f"{topic}'s", rewritten)
    if rewritten != question:  # the pronoun now names what it meant: more words would only blur retrieval
        return rewritten, rewritten, previous.article
    query = " ".join(part for part in (rewritten, previous.question, previous.answer) if part)
    return rewritten, query, previous.article


def load_reader(settings: Settings) -> ExtractiveReader:
    return ExtractiveReader.from_pretrained(settings.reader, max_answer_tokens=settings.max_answer_tokens,
                                            precision=settings.precision)


@dataclass(frozen=True)
class Reading:
    """What retrieval and the reader found for one question, before answering or abstaining."""

    question: str
    query: str  # the retrieval query (a follow-up's is rewritten from the conversation)
    passages: list[Passage]
    spans: list[Span]  # best first
    articles: dict[int, StoredArticle]  # the store snapshot the passages came from

    @property
    def best(self) -> Span | None:
        return self.spans[0] if self.spans else None


class ArticleQA:
    """The product's core: an index of articles and the models that answer questions about them."""

    def __init__(self, settings: Settings, embedder: Embedder, store: SentenceStore,
                 reader: ExtractiveReader) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.reader = reader
        self.indexer = Indexer(store, embedder)
        self.retriever = HybridRetriever(store, embedder, settings.candidates, settings.window, settings.rrf_k)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, in_memory: bool = False) -> ArticleQA:
        settings = settings or Settings.from_env()
        embedder = Embedder(settings.embedder, precision=settings.precision)
        store = SentenceStore(None if in_memory else settings.index_dir, embedder.dimension, embedder.model_id,
                              store="faiss" if in_memory else settings.store)
        return cls(settings, embedder, store, load_reader(settings))

    # ---- articles ------------------------------------------------------------------------------
    def add_text(self, text: str | bytes, name: str = "") -> IndexReport:
        """Index one pasted or uploaded article; a problem comes back in report.errors, never raised."""
        report = IndexReport()
        try:
            article = parse_article(text, name, self.settings.max_article_bytes)
        except InvalidArticle as error:
            report.errors.append(str(error))
            return report
        return self.indexer.add_articles([article])

    def warm_up(self) -> None:
        """One query embedding and one reader pass, so the first user doesn't wait for kernel set-up."""
        self.embedder.embed_query("warm-up question")
        self.reader.read("What is this?", ["A warm-up passage of a few words."], top_k=1)

    def add_files(self, paths: list[str | Path], progress: bool = False) -> IndexReport:
        return self.indexer.add_files(paths, self.settings.max_article_bytes, progress=progress)

    def articles(self) -> list[dict]:
        return [{"id": a.id, "title": a.title, "sentences": len(a.sentences), "source": a.source}
                for a in self.store.articles]

    def remove(self, title_or_id: str) -> list[str]:
        found = self.store.find(title_or_id)
        return [a.title for a in self.store.remove(a.id for a in found)]

    # ---- queries for the faces (the chat's source panel and library) -----------------------------
    def article(self, article_id: int, evidence: str | None = None) -> dict | None:
        """One article in full: id, title, text, sentences ((start, end) in text), date, source, url, and
        `evidence`: the (start, end) of an answer's sentence or passage in text, when it is given and found."""
        stored = self.store.article(article_id)
        if stored is None:
            return None
        found = stored.text.find(evidence) if evidence else -1
        listed = next((a for a in self.articles() if a["id"] == article_id), {})
        return {"id": stored.id, "title": stored.title, "text": stored.text,
                "sentences": [list(span) for span in stored.sentences],
                "date": listed.get("date"), "source": listed.get("source"), "url": listed.get("url"),
                "evidence": [found, found + len(evidence)] if found >= 0 else None}

    # ---- questions -----------------------------------------------------------------------------
    def read(self, question: object, history: list[Turn] | None = None) -> Reading:
        """Retrieve and read, without deciding yet: what `ask` decides on, and what calibration learns
        from. Raises InvalidQuestion for input that is not a question."""
        question = clean_question(question, self.settings.max_question_chars)
        reader_question, query, prefer_title = resolve_follow_up(question, history or [])
        snapshot = self.store.snapshot()  # one state for the whole question, whatever is added meanwhile
        prefer = None
        if prefer_title:
            matches = self.store.find(prefer_title, snapshot)
            prefer = matches[0].id if matches else None
        passages = self.retriever.retrieve(query, self.settings.passages, prefer_article=prefer, snapshot=snapshot)
        spans = self.reader.read(reader_question, [p.text for p in passages],
                                 top_k=1 + 3 * self.settings.alternatives) if passages else []
        return Reading(question, query, passages, spans, snapshot.articles)

    def ask(self, question: object, history: list[Turn] | None = None) -> Answer:
        """Answer one question; raises InvalidQuestion for input that is not a question."""
        return self.decide(self.read(question, history))

    def decide(self, reading: Reading) -> Answer:
        """Answer from a reading, or say the articles don't hold the answer."""
        question, query, passages, spans, articles = (reading.question, reading.query, reading.passages,
                                                      reading.spans, reading.articles)
        if not passages:
            return Answer(question, None, 0.0, None, None, None, None, None, None,
                          message="No articles are indexed yet: add one first.", retrieval_query=query)
        best = reading.best
        if self.reader.abstains(best, spans):
            return self._abstention(question, query, passages, articles, best, spans)
        answer = self._answer_from(question, query, best, passages, articles, spans)
        return replace(answer, alternatives=self._alternatives(best, spans, passages, articles))

    def _alternatives(self, best: Span, spans: list[Span], passages: list[Passage],
                      articles: dict[int, StoredArticle]) -> list[Alternative]:
        """Other answers close in score (at least a third of the best), one per distinct answer text."""
        seen = [normalize_answer(best.text)]
        result = []
        for span in spans:
            key = normalize_answer(span.text)
            # "in 2017" is not an alternative to "2017": skip answers that contain one another
            if span is best or any(key in other or other in key for other in seen) or not key:
                continue
            if span.probability < best.probability / 3 or self.reader.abstains(span, spans):
                continue
            seen.append(key)
            passage, article, _, start, end = self._locate(span, passages, articles)
            result.append(Alternative(span.text, round(self.reader.confidence(span, spans), 4), article.title,
                                      article.text[start:end]))
            if len(result) == self.settings.alternatives:
                break
        return result

    @staticmethod
    def _locate(span: Span, passages: list[Passage], articles: dict[int, StoredArticle]):
        """The passage, article, first sentence position, and the character range of the sentence(s)
        that hold the span (a span may run over a sentence break)."""
        passage = passages[span.passage_index]
        article = articles[passage.article_id]
        absolute_start, absolute_end = passage.start + span.start, passage.start + span.end
        positions = range(passage.first_sentence, passage.last_sentence + 1)
        first = next((p for p in positions if absolute_start < article.sentences[p][1]), passage.last_sentence)
        last = next((p for p in positions if absolute_end <= article.sentences[p][1]), passage.last_sentence)
        return passage, article, first, article.sentences[first][0], max(article.sentences[last][1], absolute_end)

    @staticmethod
    def _context(article: StoredArticle, position: int, radius: int = 2) -> str:
        first = max(0, position - radius)
        last = min(len(article.sentences) - 1, position + radius)
        return article.text[article.sentences[first][0] : article.sentences[last][1]]

    def _answer_from(self, question: str, query: str, best: Span, passages: list[Passage],
                     articles: dict[int, StoredArticle], spans: list[Span]) -> Answer:
        passage, article, position, sentence_start, sentence_end = self._locate(best, passages, articles)
        absolute_start = passage.start + best.start
        absolute_end = passage.start + best.end
        sentence = article.text[sentence_start:sentence_end]
        return Answer(
            question=question,
            answer=best.text,
            score=round(self.reader.confidence(best, spans), 4),
            article=article.title,
            sentence=sentence,
            start=absolute_start - sentence_start,
            end=absolute_end - sentence_start,
            passage=passage.text,
            context=self._context(article, position),
            article_id=article.id,
            retrieval_query=query,
        )

    def _abstention(self, question: str, query: str, passages: list[Passage], articles: dict[int, StoredArticle],
                    best: Span | None, spans: list[Span]) -> Answer:
        closest = passages[best.passage_index if best else 0]
        article = articles[closest.article_id]
        score = round(self.reader.confidence(best, spans), 4) if best else 0.0
        return Answer(question, None, score, closest.title, closest.text, None, None, closest.text,
                      self._context(article, closest.first_sentence),
                      article_id=closest.article_id,
                      message=f"{NO_ANSWER} The closest passage is shown.", retrieval_query=query)

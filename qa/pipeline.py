"""ArticleQA: a question in, an Answer out. Composes the parts, in the order the data flows:
conversation (follow-ups) -> retriever (stories, then passages within a token budget) -> reader (spans
and "no answer") -> policy (confidence, abstention) -> answer (span located in its sentence)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from articleqa.config import Settings
from articleqa.index.embedder import Embedder
from articleqa.index.fetch import FetchLimits
from articleqa.index.indexer import IndexReport
from articleqa.index.library import ArticleLibrary
from articleqa.index.store import SentenceStore, StoredArticle
from articleqa.qa.answer import NO_ANSWER, Alternative, Answer, assemble
from articleqa.qa.conversation import FollowUp, FollowUpResolver, PronounResolver, Turn
from articleqa.qa.policy import AnswerPolicy
from articleqa.qa.question import InvalidQuestion, clean_question
from articleqa.qa.reader import ExtractiveReader, ReaderOutput, Span
from articleqa.qa.retriever import HybridRetriever, Passage

__all__ = ["NO_ANSWER", "Alternative", "Answer", "ArticleQA", "InvalidQuestion", "Reading", "Turn"]


@dataclass(frozen=True)
class Reading:
    """What retrieval and the reader found for one question, before answering or abstaining."""

    question: str
    follow_up: FollowUp  # the question as read and searched (rewritten from the conversation)
    passages: tuple[Passage, ...]
    output: ReaderOutput
    articles: dict[int, StoredArticle]  # the store snapshot the passages came from

    @property
    def query(self) -> str:
        return self.follow_up.query

    @property
    def spans(self) -> tuple[Span, ...]:
        return self.output.spans

    @property
    def best(self) -> Span | None:
        return self.output.spans[0] if self.output.spans else None


class ArticleQA:
    """The product's core: an index of articles and the models that answer questions about them."""

    def __init__(self, settings: Settings, embedder: Embedder, store: SentenceStore, reader: ExtractiveReader,
                 policy: AnswerPolicy | None = None, follow_ups: FollowUpResolver | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.reader = reader
        self.policy = policy or AnswerPolicy(alternatives=settings.alternatives)
        self.follow_ups = follow_ups or PronounResolver()
        self.library = ArticleLibrary(store, embedder, settings.max_article_bytes,
                                      FetchLimits(allow_private=settings.private_urls_allowed,
                                                  max_bytes=settings.max_article_bytes))
        self.retriever = HybridRetriever(store, embedder, candidates=settings.candidates, window=settings.window,
                                         rrf_k=settings.rrf_k, stories=settings.stories, budget=settings.budget,
                                         count_tokens=reader.count_tokens)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, in_memory: bool = False) -> ArticleQA:
        settings = settings or Settings.from_env()
        embedder = Embedder(settings.embedder, precision=settings.precision)
        store = SentenceStore(None if in_memory else settings.index_dir, embedder.dimension, embedder.model_id,
                              store="faiss" if in_memory else settings.store)
        reader = ExtractiveReader.from_pretrained(settings.reader, max_answer_tokens=settings.max_answer_tokens,
                                                  precision=settings.precision)
        policy = AnswerPolicy.for_reader(settings.reader, alternatives=settings.alternatives)
        return cls(settings, embedder, store, reader, policy)

    def warm_up(self) -> None:
        """One query embedding and one reader pass, so the first user doesn't wait for kernel set-up."""
        self.embedder.embed_query("warm-up question")
        self.reader.read("What is this?", ["A warm-up passage of a few words."], top_k=1)

    # ---- articles (the library's, for the faces) ---------------------------------------------------
    @property
    def indexer(self):
        return self.library.indexer

    def add_text(self, text: str | bytes, name: str = "") -> IndexReport:
        return self.library.add_text(text, name)

    def add_files(self, paths: list[str | Path], progress: bool = False) -> IndexReport:
        return self.library.add_files(paths, progress=progress)

    def add_url(self, url: str) -> IndexReport:
        return self.library.add_url(url)

    def add_feed(self, url_or_path: str, progress: bool = False) -> IndexReport:
        return self.library.add_feed(url_or_path, progress=progress)

    def articles(self) -> list[dict]:
        return self.library.articles()

    def article(self, article_id: int, evidence: str | None = None) -> dict | None:
        return self.library.article(article_id, evidence)

    def remove(self, title_id_or_url: str) -> list[str]:
        return self.library.remove(title_id_or_url)

    # ---- questions ----------------------------------------------------------------------------------
    def read(self, question: object, history: list[Turn] | None = None, budget: int | None = None) -> Reading:
        """Retrieve and read, without deciding yet: what `ask` decides on, and what calibration learns
        from. Raises InvalidQuestion for input that is not a question."""
        question = clean_question(question, self.settings.max_question_chars)
        follow_up = self.follow_ups.resolve(question, history or [])
        snapshot = self.store.snapshot()  # one state for the whole question, whatever is added meanwhile
        prefer = None
        if follow_up.article:
            matches = self.store.find(follow_up.article, snapshot)
            prefer = matches[0].id if matches else None
        passages = tuple(self.retriever.retrieve(follow_up.query, budget, prefer_article=prefer, snapshot=snapshot))
        output = self.reader.read(follow_up.question, [p.text for p in passages],
                                  top_k=1 + 3 * self.settings.alternatives)
        return Reading(question, follow_up, passages, output, snapshot.articles)

    def decide(self, reading: Reading) -> Answer:
        """Answer from a reading, or say the articles don't hold the answer."""
        return assemble(reading.question, reading.query, self.policy.judge(reading.output), reading.passages,
                        reading.articles)

    def ask(self, question: object, history: list[Turn] | None = None) -> Answer:
        """Answer one question; raises InvalidQuestion for input that is not a question."""
        return self.decide(self.read(question, history))

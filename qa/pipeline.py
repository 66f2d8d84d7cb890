"""ArticleQA: a question in, an Answer out. Composes the parts, in the order the data flows:
conversation (follow-ups) -> retriever (stories, then passages within a token budget) -> reader (spans
and "no answer") -> similarity (each span's sentence against the question) -> policy (confidence,
abstention) -> answer (span located in its sentence)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from articleqa.config import Settings
from articleqa.index.compute import use_threads
from articleqa.index.documents import SUPPORTED_SUFFIXES
from articleqa.index.embedder import Embedder
from articleqa.index.fetch import FetchLimits
from articleqa.index.indexer import IndexReport
from articleqa.index.library import ArticleLibrary
from articleqa.index.store import SentenceStore, Snapshot, StoredArticle
from articleqa.qa.answer import NO_ANSWER, Alternative, Answer, assemble
from articleqa.qa.conversation import FollowUp, FollowUpResolver, PronounResolver, Turn
from articleqa.qa.policy import AnswerPolicy
from articleqa.qa.question import InvalidQuestion, clean_question
from articleqa.qa.reader import ExtractiveReader, ReaderOutput, Span
from articleqa.qa.retriever import HybridRetriever, Passage
from articleqa.qa.similarity import SentenceSimilarity

__all__ = ["NO_ANSWER", "SUPPORTED_SUFFIXES", "Alternative", "Answer", "ArticleQA", "InvalidQuestion", "Reading", "Turn"]


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
                                         whole_first=settings.whole_first, count_tokens=reader.count_tokens)
        self.similarity = SentenceSimilarity(embedder)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, in_memory: bool = False) -> ArticleQA:
        settings = settings or Settings.from_env()
        # Before the models load: OpenVINO and ONNX Runtime take the count when they compile, so every face
        # (serve, ask, eval, benchmarks) runs the models on the threads the settings give.
        use_threads(settings.threads)
        embedder = Embedder(settings.embedder, precision=settings.precision, runtime=settings.runtime,
                            onnx_dir=settings.onnx_dir)
        store = SentenceStore(None if in_memory else settings.index_dir, embedder.dimension, embedder.model_id,
                              store="faiss" if in_memory else settings.store).open()
        reader = ExtractiveReader.from_pretrained(settings.reader, max_answer_tokens=settings.max_answer_tokens,
                                                  precision=settings.precision, runtime=settings.runtime,
                                                  onnx_dir=settings.onnx_dir)
        policy = AnswerPolicy.for_reader(settings.reader, alternatives=settings.alternatives)
        return cls(settings, embedder, store, reader, policy)

    def warm_up(self, wait: bool = True) -> None:
        """Ready the models for a long run: where torch runs them faster than their ONNX exports (bf16 on a
        CPU with native bf16), load it and switch (`wait=False`: in the background, answering meanwhile on
        ONNX Runtime); then one query embedding and one reader pass, so the first user doesn't wait for
        kernel set-up."""
        self.embedder.take_over(wait)
        self.reader.take_over(wait)
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
        reading = self.read_many([(question, history)], budget)[0]
        if isinstance(reading, InvalidQuestion):
            raise reading
        return reading

    def read_many(self, questions: Sequence[tuple[object, list[Turn] | None]],
                  budget: int | None = None) -> list[Reading | InvalidQuestion]:
        """`read` for several (question, history) pairs at once, in order: their queries embedded in one
        call and their passages read in shared forward passes. A question that is not one comes back as
        its InvalidQuestion, without failing the others."""
        snapshot = self.store.snapshot()  # one state for the whole batch, whatever is added meanwhile
        follow_ups: list[tuple[str, FollowUp] | InvalidQuestion] = []
        for question, history in questions:
            try:
                cleaned = clean_question(question, self.settings.max_question_chars)
            except InvalidQuestion as error:
                follow_ups.append(error)
                continue
            follow_ups.append((cleaned, self.follow_ups.resolve(cleaned, history or [])))
        valid = [item for item in follow_ups if not isinstance(item, InvalidQuestion)]
        queries = [follow_up.query for _, follow_up in valid]
        # an empty index needs no vectors (retrieve returns nothing without embedding)
        vectors = self.embedder.embed_queries(queries) if snapshot.size else [None] * len(queries)
        passages = [tuple(self.retriever.retrieve(follow_up.query, budget, self._preferred(follow_up, snapshot),
                                                  snapshot, vector))
                    for (_, follow_up), vector in zip(valid, vectors, strict=True)]
        texts = [[p.text for p in found] for found in passages]
        outputs = self.reader.read_many([(follow_up.question, read)
                                         for (_, follow_up), read in zip(valid, texts, strict=True)],
                                        top_k=1 + 3 * self.settings.alternatives)
        # A follow-up rewritten from the conversation ("And which city are HTS heading for next?") is a
        # machine-made question, vaguer than any the calibration was fitted on: its similarity would count
        # against every such answer, so it is not measured (the policy counts it as average). Nor is anything
        # read from an empty index (no vectors, no spans).
        measured = [vector if follow_up.query == question else None
                    for (question, follow_up), vector in zip(valid, vectors, strict=True)]
        outputs = iter(self.similarity.annotate(list(zip(measured, texts, outputs, strict=True))))
        found_of = iter(passages)
        return [item if isinstance(item, InvalidQuestion) else
                Reading(item[0], item[1], next(found_of), next(outputs), snapshot.articles) for item in follow_ups]

    def _preferred(self, follow_up: FollowUp, snapshot: Snapshot) -> int | None:
        """The id of the article a follow-up leans towards (the previous answer's), if it is still indexed."""
        if not follow_up.article:
            return None
        matches = self.store.find(follow_up.article, snapshot)
        return matches[0].id if matches else None

    def decide(self, reading: Reading) -> Answer:
        """Answer from a reading, or say the articles don't hold the answer."""
        return assemble(reading.question, reading.query, self.policy.judge(reading.output), reading.passages,
                        reading.articles)

    def ask(self, question: object, history: list[Turn] | None = None) -> Answer:
        """Answer one question; raises InvalidQuestion for input that is not a question."""
        return self.decide(self.read(question, history))

    def ask_many(self, questions: Sequence[tuple[object, list[Turn] | None]]) -> list[Answer | InvalidQuestion]:
        """Answer several (question, history) pairs in one batched pass, in order; a question that is not
        one comes back as its InvalidQuestion (the others are answered all the same)."""
        return [reading if isinstance(reading, InvalidQuestion) else self.decide(reading)
                for reading in self.read_many(questions)]

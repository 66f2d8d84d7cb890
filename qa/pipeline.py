"""ArticleQA: a question in, an Answer out. Composes the parts, in the order the data flows:
conversation (follow-ups) -> retriever (stories, then passages within a token budget) -> reader (spans
and "no answer") -> similarity (each span's sentence against the question) -> policy (confidence,
abstention) -> answer (span located in its sentence)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from articleqa.config import Settings
from articleqa.index.documents import SUPPORTED_SUFFIXES
from articleqa.index.embedder import Embedder
from articleqa.index.fetch import FetchLimits
from articleqa.index.indexer import Indexer, IndexReport
from articleqa.index.library import ArticleLibrary
from articleqa.index.store import SentenceStore, Snapshot, StoredArticle
from articleqa.qa.answer import NO_ANSWER, NO_ARTICLES, Alternative, Answer, EarlierReport, assemble
from articleqa.qa.cascade import CascadeReader
from articleqa.qa.conversation import FollowUp, FollowUpResolver, PronounResolver, Turn
from articleqa.qa.evidence import SentenceFinder, content_words
from articleqa.qa.periods import Period, Scope, date_range, event_period, named_event, named_period
from articleqa.qa.policy import AnswerPolicy
from articleqa.qa.question import InvalidQuestion, clean_question
from articleqa.qa.reader import ExtractiveReader, ReaderOutput, Span
from articleqa.qa.retriever import HybridRetriever, Passage
from articleqa.qa.similarity import SentenceSimilarity
from articleqa.qa.timeline import ReportReading, follow, proper_names, story_words
from articleqa.runtime.backbone import merged_reader
from articleqa.runtime.compute import use_threads

__all__ = [
    "NO_ANSWER",
    "SUPPORTED_SUFFIXES",
    "Alternative",
    "Answer",
    "ArticleQA",
    "EarlierReport",
    "InvalidQuestion",
    "Reading",
    "Scope",
    "Turn",
]
NOTHING_IN_RANGE = "No dated article falls in {range} (articles without a date are left out of a date range)."


@dataclass(frozen=True)
class Reading:
    """What retrieval and the reader found for one question, before answering or abstaining."""

    question: str
    follow_up: FollowUp  # the question as read and searched (rewritten from the conversation)
    passages: tuple[Passage, ...]
    output: ReaderOutput
    articles: dict[int, StoredArticle]  # the store snapshot the passages came from
    # Developing news (qa/timeline.py): the dated articles read, each also read alone (output.apart, in this
    # order); the period the question names; the date range asked
    reports: tuple[int, ...] = ()
    period: Period | None = None
    date_range: Period | None = None
    # A follow-up whose "it" could mean two things (FollowUp.other): the question read the other way
    other: Reading | None = None

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

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder,
        store: SentenceStore,
        reader: ExtractiveReader | CascadeReader,
        policy: AnswerPolicy,
        library: ArticleLibrary,
        retriever: HybridRetriever,
        similarity: SentenceSimilarity,
        follow_ups: FollowUpResolver,
    ) -> None:
        """The parts, as built (from_settings builds them): nothing here loads or reads configuration."""
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.reader = reader
        self.policy = policy
        self.library = library
        self.retriever = retriever
        self.similarity = similarity
        self.follow_ups = follow_ups

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        in_memory: bool = False,
        always_answering: bool = False,
        embedder: Embedder | None = None,
        reader: ExtractiveReader | CascadeReader | None = None,
        policy: AnswerPolicy | None = None,
        index_embedder: Embedder | None = None,
    ) -> ArticleQA:
        """Every part built from the settings, the one place that reads them. A part passed in is used as it
        is: models shared between apps (tests, evaluation), a policy under test, or `index_embedder`, which
        embeds what is indexed (a Ray pool: `articleqa index --ray`) while `embedder` embeds the questions.
        `always_answering`: the policy never abstains (to measure the reader alone)."""
        settings = settings or Settings.from_env()
        # Before the models load: OpenVINO and ONNX Runtime take the count when they compile, so every face
        # (serve, ask, eval, benchmarks) runs the models on the threads the settings give.
        use_threads(settings.threads)
        embedder = embedder or Embedder(
            settings.embedder, precision=settings.precision, runtime=settings.runtime, onnx_dir=settings.onnx_dir
        )
        store = SentenceStore(
            None if in_memory else settings.index_dir,
            embedder.dimension,
            embedder.model_id,
            store="faiss" if in_memory else settings.store,
        ).open()
        reader = reader or reader_from_settings(settings)
        policy = policy or AnswerPolicy.for_reader(settings.reader, alternatives=settings.alternatives)
        if always_answering:
            policy = policy.always_answering()
        library = ArticleLibrary(
            store,
            Indexer(store, index_embedder or embedder),
            settings.max_article_bytes,
            FetchLimits(allow_private=settings.private_urls_allowed, max_bytes=settings.max_article_bytes),
        )
        retriever = HybridRetriever(
            store,
            embedder,
            candidates=settings.candidates,
            window=settings.window,
            rrf_k=settings.rrf_k,
            stories=settings.stories,
            budget=settings.budget,
            whole_first=settings.whole_first,
            count_tokens=reader.count_tokens,
            dated_stories=settings.dated_stories,
        )
        return cls(
            settings,
            embedder=embedder,
            store=store,
            reader=reader,
            policy=policy,
            library=library,
            retriever=retriever,
            similarity=SentenceSimilarity(embedder),
            follow_ups=PronounResolver(),
        )

    def ready_for_serving(self, wait: bool = True) -> None:
        """For a long run (the models are loaded already): where torch runs them faster than their ONNX
        exports (bf16 on a CPU with native bf16), load it and switch (`wait=False`: in the background,
        answering meanwhile on ONNX Runtime); then one query embedding and one reader pass, so the first user
        doesn't wait for kernel set-up."""
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

    def read_many(
        self,
        questions: Sequence[tuple[object, list[Turn] | None] | tuple[object, list[Turn] | None, Scope | None]],
        budget: int | None = None,
    ) -> list[Reading | InvalidQuestion]:
        """`read` for several (question, history[, scope]) at once, in order: their queries embedded in one
        call and their passages read in shared forward passes. A question that is not one (or a date range
        that is not one) comes back as its InvalidQuestion, without failing the others."""
        snapshot = self.store.snapshot()  # one state for the whole batch, whatever is added meanwhile
        follow_ups: list[tuple[str, FollowUp, Period | None, date] | InvalidQuestion] = []
        for question, history, *rest in questions:
            scope = (rest[0] if rest else None) or Scope()
            today = scope.today or self._today()
            try:
                cleaned = clean_question(question, self.settings.max_question_chars)
                asked_range = date_range(scope.since, scope.until, today)
            except InvalidQuestion as error:
                follow_ups.append(error)
                continue
            follow_ups.append((cleaned, self.follow_ups.resolve(cleaned, history or []), asked_range, today))
        valid = [item for item in follow_ups if not isinstance(item, InvalidQuestion)]
        # a follow-up whose "it" could mean two things is read both ways, in the same batch (decide compares)
        ambiguous = [(q, follow_up.other, asked, today) for q, follow_up, asked, today in valid if follow_up.other]
        both = self._read_resolved(valid + ambiguous, budget, snapshot)
        read, other = iter(both[: len(valid)]), iter(both[len(valid) :])
        readings: list[Reading | InvalidQuestion] = []
        for item in follow_ups:
            if isinstance(item, InvalidQuestion):
                readings.append(item)
            else:
                reading = next(read)
                readings.append(replace(reading, other=next(other)) if reading.follow_up.other else reading)
        return readings

    def _read_resolved(
        self, valid: list[tuple[str, FollowUp, Period | None, date]], budget: int | None, snapshot: Snapshot
    ) -> list[Reading]:
        """Retrieve and read questions already resolved against their conversations, in one batch."""
        if not valid:
            return []
        queries = [follow_up.query for _, follow_up, _, _ in valid]
        # an empty index needs no vectors (retrieve returns nothing without embedding)
        vectors = self.embedder.embed_queries(queries) if snapshot.size else [None] * len(queries)
        passages = [
            tuple(
                self.retriever.retrieve(
                    follow_up.query, budget, self._preferred(follow_up, snapshot), snapshot, vector, _in(asked_range)
                )
            )
            for (_, follow_up, asked_range, _), vector in zip(valid, vectors, strict=True)
        ]
        texts = [[p.text for p in found] for found in passages]
        # where each passage's sentences are, as the store split them: the reader and the similarity both ask
        finders = [
            SentenceFinder(read, [p.sentences for p in found]) for read, found in zip(texts, passages, strict=True)
        ]
        # Dated articles are also read one by one (from the same forward passes), for developing news
        reports = [_dated(found, snapshot.articles) for found in passages]
        groups = [
            [[i for i, p in enumerate(found) if p.article_id == article] for article in dated]
            for found, dated in zip(passages, reports, strict=True)
        ]
        outputs = self.reader.read_many(
            [(follow_up.question, read) for (_, follow_up, _, _), read in zip(valid, texts, strict=True)],
            top_k=1 + 3 * self.settings.alternatives,
            groups=groups,
            sentences=finders,
        )
        # A follow-up rewritten from the conversation ("And which city are HTS heading for next?") is a
        # machine-made question, vaguer than any the calibration was fitted on: its similarity would count
        # against every such answer, so it is not measured (the policy counts it as average). Nor is anything
        # read from an empty index (no vectors, no spans).
        measured = [
            vector if follow_up.query == question else None
            for (question, follow_up, _, _), vector in zip(valid, vectors, strict=True)
        ]
        outputs = self._annotate(measured, finders, outputs)
        readings = []
        for (question, follow_up, asked_range, today), found, output, dated in zip(
            valid, passages, outputs, reports, strict=True
        ):
            # a period the question names matters only where there are dated reports to choose from; the one
            # the asker named (an elided follow-up is read with the exchange before it, and its period)
            period = self._named_period(question, today, dated, snapshot) if dated else None
            readings.append(
                Reading(
                    question,
                    follow_up,
                    found,
                    output,
                    snapshot.articles,
                    dated,
                    period.within(asked_range) if period else None,
                    asked_range,
                )
            )
        return readings

    def _annotate(
        self, measured: list, finders: list[SentenceFinder], outputs: list[ReaderOutput]
    ) -> list[ReaderOutput]:
        """Each span's sentence similarity, in the readings and in their reports read alone, in one call."""
        items = [(vector, read, output) for vector, read, output in zip(measured, finders, outputs, strict=True)]
        items += [
            (vector, read, apart)
            for vector, read, output in zip(measured, finders, outputs, strict=True)
            for apart in output.apart
        ]
        annotated = iter(self.similarity.annotate(items))
        whole = [next(annotated) for _ in outputs]
        return [replace(output, apart=tuple(next(annotated) for _ in output.apart)) for output in whole]

    @staticmethod
    def _named_period(question: str, today: date, dated: tuple[int, ...], snapshot: Snapshot) -> Period | None:
        """The period a question names: by a date ("as of March 4"), or by an event the reports tell of
        ("before the search ended": up to the day before the first report that tells of it)."""
        named = named_period(question, today)
        if named:
            return named[0]
        event = named_event(question)
        if event is None:
            return None
        reports = [(snapshot.articles[a].meta.date, content_words(snapshot.articles[a].text)) for a in dated]
        return event_period(*event, reports)

    def _today(self) -> date:
        return date.fromisoformat(self.settings.today) if self.settings.today else date.today()

    def _preferred(self, follow_up: FollowUp, snapshot: Snapshot) -> int | None:
        """The id of the article a follow-up leans towards (the previous answer's), if it is still indexed."""
        if not follow_up.article:
            return None
        matches = self.store.find(follow_up.article, snapshot)
        return matches[0].id if matches else None

    def decide(self, reading: Reading) -> Answer:
        """Answer from a reading, or say the articles don't hold the answer. Where dated reports of a story
        answer differently, the newest (or the one of the period the question names) answers: qa/timeline.py.
        A follow-up read two ways (its "it" could mean two things) is answered by the surer reading: the
        reader is sure where the words fit what the article says ("Who placed the bounty?" against "Who placed
        HTS?")."""
        answer = self._decided(reading)
        if reading.other is None:
            return answer
        return max(answer, self._decided(reading.other), key=lambda said: said.score)

    def _decided(self, reading: Reading) -> Answer:
        judgement = self.policy.judge(reading.output)
        timeline = None
        if reading.reports and not judgement.abstain:
            asked_about = story_words(reading.follow_up.question)

            def words(article: int) -> frozenset[str]:
                stored = reading.articles[article]
                return asked_about & content_words(f"{stored.title} {stored.text}")

            reports = [
                ReportReading(
                    article,
                    reading.articles[article].meta.date,
                    self.policy.judge(apart),
                    words(article),
                    proper_names(reading.articles[article].text),
                )
                for article, apart in zip(reading.reports, reading.output.apart, strict=True)
            ]
            anchor = words(reading.passages[judgement.best.passage_index].article_id)
            timeline = follow(reports, anchor, self.settings.comparable, reading.period)
        asked = reading.date_range.label if reading.date_range else ""
        empty = NOTHING_IN_RANGE.format(range=asked) if asked and reading.articles else NO_ARTICLES
        return assemble(
            reading.question, reading.query, judgement, reading.passages, reading.articles, timeline, asked, empty
        )

    def ask(self, question: object, history: list[Turn] | None = None, scope: Scope | None = None) -> Answer:
        """Answer one question (within `scope`'s date range); raises InvalidQuestion for input that is not
        a question."""
        reading = self.read_many([(question, history, scope)])[0]
        if isinstance(reading, InvalidQuestion):
            raise reading
        return self.decide(reading)

    def ask_many(
        self, questions: Sequence[tuple[object, list[Turn] | None] | tuple[object, list[Turn] | None, Scope | None]]
    ) -> list[Answer | InvalidQuestion]:
        """Answer several (question, history[, scope]) in one batched pass, in order; a question that is not
        one comes back as its InvalidQuestion (the others are answered all the same)."""
        return [
            reading if isinstance(reading, InvalidQuestion) else self.decide(reading)
            for reading in self.read_many(questions)
        ]


def reader_from_settings(settings: Settings) -> ExtractiveReader | CascadeReader:
    """The settings' reader, or the cascade its scout reads for (qa/cascade.py) where they name one."""
    reader = load_reader(settings, settings.reader)
    if settings.scout_reader:
        scout = load_reader(settings, settings.scout_reader)
        return CascadeReader(scout, reader, settings.reread, settings.scout_weight)
    return reader


def load_reader(settings: Settings, name_or_path: str) -> ExtractiveReader:
    """A reader folder, HF id or adapter over a packaged backbone, as the settings run it."""
    return ExtractiveReader.from_pretrained(
        merged_reader(name_or_path, settings.models_dir),
        max_answer_tokens=settings.max_answer_tokens,
        precision=settings.precision,
        runtime=settings.runtime,
        onnx_dir=settings.onnx_dir,
    )


def _dated(passages: Sequence[Passage], articles: dict[int, StoredArticle]) -> tuple[int, ...]:
    """The dated articles among the passages, in order: none where fewer than one is dated (an undated corpus
    is read exactly as before)."""
    return tuple(dict.fromkeys(p.article_id for p in passages if articles[p.article_id].meta.date))


def _in(asked: Period | None):
    """Which articles a date range lets retrieval see (None: all)."""
    return None if asked is None else (lambda article: asked.contains(article.meta.date))

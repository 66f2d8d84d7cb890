"""Training groups for a shared-normalised reader (Clark & Gardner 2018).

Each question becomes a group of K windows: a window that holds its answer (or, for an unanswerable
question, the window over its own paragraph), windows of the same document that look like it (word
overlap with the question, as retrieval would hand them over), and a window of another document. The
reader's span scores are then normalised over all K windows together, plus one "no answer" score, so
that a window without the answer learns to score low in absolute terms, not only relative to itself.
"""

from __future__ import annotations

import hashlib
import logging
import math
import pickle
import random
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from articleqa.qa.evaluation.squad_data import read_squad_json
from articleqa.qa.evaluation.squad_metric import normalize_answer
from articleqa.runtime.tokens import plain_copy

log = logging.getLogger("articleqa.train")


@dataclass(frozen=True)
class DocumentQuestion:
    id: str
    question: str
    answers: list[str]  # empty: the document does not answer it
    answer_starts: list[int]  # character offsets in the document
    anchor: int  # character offset of the question's own paragraph (where the annotator looked)


@dataclass(frozen=True)
class Document:
    """A whole article: its paragraphs joined, with the questions asked of it."""

    source: str
    title: str
    text: str
    questions: list[DocumentQuestion] = field(default_factory=list)


@dataclass(frozen=True)
class DocumentSource:
    file: str  # relative to the data directory
    cap: int | None = None  # at most this many questions (seeded sample)
    unanswerable_only: bool = False
    # each question makes this many groups (each with its own draw of look-alike windows): a set's weight in
    # a run that sees only part of an epoch
    repeat: int = 1


# Only sets whose licence allows a shipped model (../shared/data/qa/README.md, extra/README.md). The mix
# leans on whole Wikipedia articles (SQuAD, SQuAD-shifts new_wiki) and TimeQA's long articles, which
# teach picking the answer out of a long document; SQuAD 2.0's unanswerable questions and TimeQA's
# impossible ones teach the no-answer score.
SHARED_MIX: dict[str, DocumentSource] = {
    "squad": DocumentSource("squad-v1.1-dev.train.json.gz"),
    "squad2-unanswerable": DocumentSource("squad-v2.0-dev.train.json.gz", unanswerable_only=True),
    "squadshifts-wiki": DocumentSource("extra/squadshifts-new_wiki.json.gz"),
    "timeqa": DocumentSource("extra/timeqa-human-train.json.gz"),
    "qed-train": DocumentSource("extra/qed-nq-train.json.gz", cap=3000),
    "fairytale": DocumentSource("extra/fairytaleqa-train.json.gz", cap=1500),
    "squadshifts-reddit": DocumentSource("extra/squadshifts-reddit.json.gz", cap=800),
    "quoref": DocumentSource("extra/quoref-contrast-original.json.gz"),
}

# For a run with the compute for several epochs (a GPU): the same sets uncapped or capped higher, and the
# small licence-fit sets the first readers saw (QAMR's Wikinews and Wikipedia sentences, ROPES, DROP, TAT-QA).
BROAD_MIX: dict[str, DocumentSource] = {
    **SHARED_MIX,
    "qed-train": replace(SHARED_MIX["qed-train"], cap=None),
    "fairytale": replace(SHARED_MIX["fairytale"], cap=None),
    "squadshifts-reddit": replace(SHARED_MIX["squadshifts-reddit"], cap=3000),
    "squadshifts-amazon": DocumentSource("extra/squadshifts-amazon.json.gz", cap=1500),
    "qamr": DocumentSource("extra/qamr-filtered-dev.json.gz", cap=2000),
    "ropes": DocumentSource("extra/ropes-contrast-original.json.gz"),
    "drop": DocumentSource("extra/drop-contrast-spans.json.gz"),
    "tatqa": DocumentSource("extra/tatqa-textspan-dev.json.gz"),
}

# The broad mix leaning on what the reader still reads worst: "no answer" (SQuAD 2.0's unanswerable
# questions, ~10 % of the broad mix, twice: ~18 %) and time-scoped questions over long articles (TimeQA twice).
WEIGHTED_MIX: dict[str, DocumentSource] = {
    **BROAD_MIX,
    "squad2-unanswerable": replace(BROAD_MIX["squad2-unanswerable"], repeat=2),
    "timeqa": replace(BROAD_MIX["timeqa"], repeat=2),
}


def present_sources(data_dir: Path, mix: dict, counts: dict[str, int]) -> Iterator[tuple[str, DocumentSource, Path]]:
    """(name, source, path) of each entry of a mix whose file is in `data_dir`; a missing one counts 0."""
    for name, source in mix.items():
        path = data_dir / source.file
        if path.exists():
            yield name, source, path
        else:
            counts[name] = 0


def answer_tokens(offsets, first: int, last: int, answer_start: int, answer_end: int) -> tuple[int, int] | None:
    """First and last token of the answer's characters among context tokens first..last of a window, or
    None when the window doesn't hold the whole answer. An answer inside one token labels that token."""
    if not (offsets[first][0] <= answer_start and offsets[last][1] >= answer_end):
        return None
    start = first
    while start <= last and offsets[start][1] <= answer_start:
        start += 1
    end = last
    while end >= first and offsets[end][0] >= answer_end:
        end -= 1
    return start, max(end, start)


MIXES = {"shared": SHARED_MIX, "broad": BROAD_MIX, "weighted": WEIGHTED_MIX}


# The longest real article in the mixes is TimeQA's 92,584 characters. Two sets file every paragraph under one
# title (SQuAD-shifts Reddit: 2,035 unrelated comments, 1.57 M characters; ROPES: 647 paragraphs): read as
# one document, each question's windows were the whole file's (~3,000 windows to rank per question), and
# the tokenising worker that drew the file ran for many minutes after the others had finished.
MAX_DOCUMENT_CHARS = 100_000


def load_documents(
    path: Path, source: str, unanswerable_only: bool = False, max_chars: int = MAX_DOCUMENT_CHARS
) -> list[Document]:
    """The articles of a SQuAD-format file, each with all its paragraphs joined by blank lines; an article
    over `max_chars` is cut into documents of consecutive paragraphs that fit (a paragraph longer than
    that on its own stays whole)."""
    documents = []
    for article in read_squad_json(path)["data"]:
        parts: list[str] = []
        questions: list[DocumentQuestion] = []
        offset = 0
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            if parts and offset + len(context) > max_chars:
                documents.append(Document(source, article.get("title", ""), "\n\n".join(parts), questions))
                parts, questions, offset = [], [], 0
            for qa in paragraph["qas"]:
                impossible = bool(qa.get("is_impossible")) or not qa.get("answers")
                if unanswerable_only and not impossible:
                    continue
                answers = [] if impossible else qa["answers"]
                questions.append(
                    DocumentQuestion(
                        id=str(qa["id"]),
                        question=qa["question"].strip(),
                        answers=[a["text"] for a in answers],
                        answer_starts=[offset + int(a["answer_start"]) for a in answers],
                        anchor=offset,
                    )
                )
            parts.append(context)
            offset += len(context) + 2
        documents.append(Document(source, article.get("title", ""), "\n\n".join(parts), questions))
    return documents


def build_documents(
    data_dir: Path, seed: int, mix: dict[str, DocumentSource] = SHARED_MIX
) -> tuple[list[Document], dict[str, int]]:
    rng = random.Random(seed)
    documents: list[Document] = []
    counts: dict[str, int] = {}
    for name, source, path in present_sources(data_dir, mix, counts):
        docs = load_documents(path, name, source.unanswerable_only)
        total = sum(len(d.questions) for d in docs)
        if source.cap is not None and total > source.cap:
            keep = set(rng.sample([(i, j) for i, d in enumerate(docs) for j in range(len(d.questions))], source.cap))
            docs = [
                Document(d.source, d.title, d.text, [q for j, q in enumerate(d.questions) if (i, j) in keep])
                for i, d in enumerate(docs)
            ]
        docs = [d for d in docs if d.questions]
        if source.repeat > 1:
            docs = [replace(d, questions=repeated(d.questions, source.repeat)) for d in docs]
        counts[name] = sum(len(d.questions) for d in docs)
        documents.extend(docs)
    return documents, counts


def repeated(questions: list[DocumentQuestion], times: int) -> list[DocumentQuestion]:
    """Each question `times` over, the copies' ids marked (`id#2`, ...) so every group keeps an id of its own."""
    return [q if k == 1 else replace(q, id=f"{q.id}#{k}") for q in questions for k in range(1, times + 1)]


# A name: capitalised words, or a year. Not at the start of the text, where every word is capitalised.
_NAME = re.compile(r"(?<!^)\b(?:[A-Z][\w'-]*(?:\s+(?:of|the|de|du|von|van|al)?\s*[A-Z][\w'-]*)*|1\d{3}|20\d{2})\b")


def question_id(group_id: str) -> str:
    """The question a group asks: a repeated question's copies (`id#2`) ask the question itself."""
    return group_id.split("#", 1)[0]


def _names(text: str) -> list[re.Match]:
    return [m for m in _NAME.finditer(text) if m.start() > 0]


def entity_swapped_questions(documents: list[Document], count: int, seed: int) -> int:
    """Unanswerable questions made from answerable ones: a name or year that the question shares with its
    document is swapped for one of the same shape (as many words; a year for a year) from another document
    of the same set, which this document never mentions. "When did Tesla move to New York?" asked of an
    article that never names Edison becomes "When did Edison move to New York?": still close to the
    paragraph in its words, no longer answered by it. SQuAD 2.0's unanswerable questions are partly of
    this kind, and v4 told them from answerable ones with an AUC of only 0.70 (MODEL.md, session 12; a run
    with 6,000 of these moved it to 0.715). Appended to their documents with no answer; returns how many
    were made."""
    rng = random.Random(seed)
    by_source: dict[str, list[str]] = {}
    for document in documents:
        names = by_source.setdefault(document.source, [])
        names.extend(m.group(0) for m in _names(document.text))
    pools: dict[tuple[str, bool, int], list[str]] = {}
    for source, names in by_source.items():
        for name in set(names):
            pools.setdefault((source, name.isdigit(), len(name.split())), []).append(name)
    for pool in pools.values():
        pool.sort()  # set order varies between processes; the draw must not
    candidates = [(d, q) for d in documents for q in d.questions if q.answers]
    rng.shuffle(candidates)
    made = 0
    for document, q in candidates:
        if made >= count:
            break
        lowered = document.text.lower()
        shared = [
            m
            for m in _names(q.question)
            if m.group(0).lower() in lowered
            and not any(m.group(0).lower() in a.lower() or a.lower() in m.group(0).lower() for a in q.answers)
        ]
        rng.shuffle(shared)
        swap = next(
            (
                (name, other)
                for name in shared
                for other in _draws(
                    rng, pools.get((document.source, name.group(0).isdigit(), len(name.group(0).split())), [])
                )
                if other.lower() not in lowered
            ),
            None,
        )
        if swap is None:
            continue
        name, other = swap
        question = q.question[: name.start()] + other + q.question[name.end() :]
        document.questions.append(DocumentQuestion(f"swap-{q.id}", question, [], [], q.anchor))
        made += 1
    return made


def _draws(rng: random.Random, pool: list[str], tries: int = 10) -> list[str]:
    return [rng.choice(pool) for _ in range(tries)] if pool else []


_WORD = re.compile(r"\w+")
_STOP = set(
    "the a an of in on at to for and or is was were are be by with as from that this which who what when "
    "where why how did does do its it his her their".split()
)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def confuser_positions(text: str, confusers: list[dict]) -> list[int]:
    """Character offsets in a document of a reader's wrong answers (training/confusers.py), found by the
    text around them; those whose text is not found as it is are left out."""
    positions = []
    for confuser in confusers:
        at = text.find(confuser["context"])
        if at >= 0:
            positions.append(at + confuser["offset"])
    return positions


def question_groups(
    documents: list[Document],
    tokenizer,
    *,
    max_length: int,
    stride: int,
    windows: int,
    seed: int,
    max_question_tokens: int = 64,
    confusers: dict[str, list[dict]] | None = None,
    part: tuple[int, int] = (0, 1),
) -> list[dict]:
    """One group per question: `windows` tokenised windows and, per window, the gold start/end token
    lists (empty where the window doesn't hold the answer). Unanswerable questions have no gold tokens.
    With `confusers` (question id -> a reader's wrong answers), the same-document windows that hold them
    come first among the look-alikes, most probable wrong answer first. `part` (i, n): only the questions
    of every n-th document from the i-th (parallel_question_groups); other documents still lend windows."""
    index, parts = part
    rng = random.Random(seed if parts == 1 else f"{seed}/{index}/{parts}")
    by_source: dict[str, list[int]] = {}
    for i, d in enumerate(documents):
        by_source.setdefault(d.source, []).append(i)

    cache: dict[tuple[int, int], tuple] = {}
    # windows made by the tokenizers library as the reader makes them (qa/reader.py), not by transformers'
    # tokenizer(...) call, whose overflowing windows differ between transformers 5.17 and 5.25
    overflowing = plain_copy(tokenizer.backend_tokenizer)
    overflowing.enable_truncation(max_length, stride=stride, strategy="only_second")
    first_window = plain_copy(tokenizer.backend_tokenizer)
    first_window.enable_truncation(max_length, strategy="only_second")

    def windows_of(doc_index: int, question: str) -> tuple:
        """(encoding, context char spans, normalised window texts). Windows depend on the question only
        through its token count, so they are computed once per document and question length."""
        n_tokens = len(tokenizer(question, add_special_tokens=False)["input_ids"])
        key = (doc_index, n_tokens)
        if key not in cache:
            if cache and next(iter(cache))[0] != doc_index:
                cache.clear()  # groups are built document by document
            text = documents[doc_index].text
            encoded = _Windows(overflowing.encode(question, text))
            spans = [_context_span(encoded, w) for w in range(len(encoded["input_ids"]))]
            cache[key] = (encoded, spans, [normalize_answer(text[s:e]) for s, e in spans])
        return cache[key]

    groups = []
    for doc_index, document in enumerate(documents):
        if doc_index % parts != index:
            continue
        for q in document.questions:
            question = _clip(tokenizer, q.question, max_question_tokens)
            encoded, spans, normalised = windows_of(doc_index, question)
            n = len(spans)
            # the question's own ids in place of the cached question's (same length, same windows)
            own = tokenizer(question, add_special_tokens=False)["input_ids"]
            answer_keys = [normalize_answer(a) for a in q.answers if normalize_answer(a)]
            golds = {
                w: _gold_tokens(encoded, w, q)
                for w in range(n)
                if q.answers and spans[w][0] <= q.answer_starts[0] < spans[w][1]
            }
            if q.answers:
                positives = [w for w, gold in golds.items() if gold[0]]
                if not positives:
                    continue  # answer cut by the window limit: nothing to learn from
                # the window where the answer sits most centrally, as a retriever's sentence window would
                centre = q.answer_starts[0]
                first = min(positives, key=lambda w: abs((spans[w][0] + spans[w][1]) / 2 - centre))
            else:
                first = min(
                    range(n),
                    key=lambda w: abs(spans[w][0] - q.anchor) if spans[w][0] <= q.anchor + 1 else 10**9 + spans[w][0],
                )
            chosen = [first]
            # same-document windows that don't repeat the answer text, most question words first
            words = _words(q.question)
            others = [w for w in range(n) if w != first and not any(k in normalised[w] for k in answer_keys)]
            others.sort(key=lambda w: (-len(words & set(normalised[w].split())), rng.random()))
            mined_for = confusers.get(question_id(q.id)) if confusers else None
            if mined_for:
                # the window where each wrong answer sits most centrally, in the reader's order
                held = [
                    min(
                        (w for w in others if spans[w][0] <= at < spans[w][1]),
                        key=lambda w: abs((spans[w][0] + spans[w][1]) / 2 - at),
                        default=None,
                    )
                    for at in confuser_positions(document.text, mined_for)
                ]
                mined = list(dict.fromkeys(w for w in held if w is not None))
                others = mined + [w for w in others if w not in mined]
            hard = others[: max(0, windows - 2)]
            chosen.extend(hard)
            rows = [_row(encoded, w, golds.get(w, ([], [])), own) for w in chosen]
            # the rest from other documents of the same set (another article about something else)
            pool = by_source[document.source]
            attempts = 0
            while len(rows) < windows and attempts < 20:
                attempts += 1
                other = rng.choice(pool)
                if other == doc_index:
                    continue
                text = documents[other].text
                begin = rng.choice([0] + [m.end() for m in re.finditer(r"\n\n", text)])
                piece = text[begin : begin + 1500]
                if any(k in normalize_answer(piece) for k in answer_keys):
                    continue
                other_encoded = first_window.encode(question, piece)
                rows.append(
                    {"input_ids": other_encoded.ids, "token_type_ids": other_encoded.type_ids, "starts": [], "ends": []}
                )
            if len(rows) < windows:
                continue
            groups.append({"id": q.id, "source": document.source, "windows": rows})
    rng.shuffle(groups)
    return groups


def _build_part(inputs: Path, part: tuple[int, int], results) -> None:
    with inputs.open("rb") as file:
        documents, tokenizer, settings = pickle.load(file)
    results.put((part[0], question_groups(documents, tokenizer, part=part, **settings)))


def parallel_question_groups(
    documents: list[Document], tokenizer, *, workers: int, seed: int, **settings
) -> list[dict]:
    """question_groups split over `workers` processes by document (tokenising ~37,000 questions into
    windows takes ~10 minutes on one core); deterministic for a given number of workers. The workers are
    spawned, not forked: a process that has imported JAX (bm25s does, where it is installed) deadlocks in
    a forked child. A worker that dies without its part (a script without an `if __name__ == "__main__":`
    guard kills each at start-up) raises here instead of leaving the parent waiting for ever. The documents
    reach the workers through a file: `Process.start()` writes its arguments into a pipe whose reading end
    the parent keeps open, so arguments larger than the pipe block the parent for good if the worker dies
    while reading them."""
    if workers <= 1:
        return question_groups(documents, tokenizer, seed=seed, **settings)
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    started = time.perf_counter()
    log.info("tokenising %d documents in %d spawned workers", len(documents), workers)
    with tempfile.TemporaryDirectory() as folder:
        inputs = Path(folder) / "inputs.pickle"
        with inputs.open("wb") as file:
            pickle.dump((documents, tokenizer, {**settings, "seed": seed}), file, protocol=pickle.HIGHEST_PROTOCOL)
        processes = [context.Process(target=_build_part, args=(inputs, (i, workers), results)) for i in range(workers)]
        for process in processes:
            process.start()
        parts = _collect_parts(processes, results, started)
    groups = [g for i in range(workers) for g in parts[i]]
    random.Random(seed).shuffle(groups)
    return groups


def _collect_parts(processes: list, results, started: float) -> dict[int, list[dict]]:
    """Each worker's groups by its number, logged as they come; a worker that died without them raises."""
    import queue

    workers, parts = len(processes), {}
    try:
        while len(parts) < workers:
            try:
                number, part = results.get(timeout=2)
            except queue.Empty:
                # a worker that ended well has put its part first: only a failed one is missed here
                failed = [i for i, p in enumerate(processes) if i not in parts and p.exitcode not in (None, 0)]
                if failed:
                    raise RuntimeError(
                        f"worker {failed[0] + 1} of {workers} died (exit code {processes[failed[0]].exitcode}) "
                        "before returning its groups; see its error above (a script that spawns them needs an "
                        '`if __name__ == "__main__":` guard)'
                    ) from None
                continue
            parts[number] = part
            log.info("part %d of %d: %d groups (%.0f s)", number + 1, workers, len(part), time.perf_counter() - started)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
    return parts


def save_question_groups(
    path: Path,
    data_dir: Path,
    mix: dict[str, DocumentSource],
    tokenizer,
    *,
    seed: int,
    workers: int = 1,
    swapped: int = 0,
    order_of: list[dict] | None = None,
    **settings,
) -> tuple[list[dict], dict[str, int]]:
    """The mix's documents (plus `swapped` entity-swapped questions) as question groups, in the order of
    `order_of`'s questions where it is given (in_order_of), saved compact to `path`; the groups and the
    questions per source."""
    import torch

    documents, counts = build_documents(data_dir, seed, mix)
    if swapped:
        counts["entity-swapped"] = entity_swapped_questions(documents, swapped, seed)
    groups = parallel_question_groups(documents, tokenizer, workers=workers, seed=seed, **settings)
    if order_of is not None:
        groups, made_up = in_order_of(groups, order_of)
        log.info("in an earlier run's order of questions (%d groups made up from its windows)", len(made_up))
    torch.save(compact(groups), path)
    return groups, counts


def compact(groups: list[dict]) -> list[dict]:
    """Groups with their token ids as numpy arrays: a file of ~37,000 groups of 8 windows loads in seconds
    instead of a minute and a half of unpickling Python ints."""
    return [
        {
            **g,
            "windows": [
                {
                    **w,
                    "input_ids": np.asarray(w["input_ids"], dtype=np.int32),
                    "token_type_ids": np.asarray(w["token_type_ids"], dtype=np.int8),
                }
                for w in g["windows"]
            ],
        }
        for g in groups
    ]


def load_groups(path: Path) -> list[dict]:
    import torch

    return torch.load(path, weights_only=False)  # our own file: numpy arrays (compact), or lists before


def in_order_of(groups: list[dict], earlier: list[dict]) -> tuple[list[dict], list[str]]:
    """`groups` in the order of `earlier`'s ids, so that an order seed and `--from-batch` meet the same
    questions as in the run that trained on `earlier` (a rebuild with more windows can drop a few groups for
    want of a window to draw, which reshuffles every batch). Groups `earlier` lacks are left out; where this
    build lacks one, `earlier`'s is kept with its last window repeated to make up the count. Returns the
    groups and the ids so made up."""
    windows = len(groups[0]["windows"])
    by_id = {group["id"]: group for group in groups}
    aligned, made_up = [], []
    for group in earlier:
        if group["id"] in by_id:
            aligned.append(by_id[group["id"]])
            continue
        kept = group["windows"][:windows]
        aligned.append({**group, "windows": kept + [kept[-1]] * (windows - len(kept))})
        made_up.append(group["id"])
    return aligned, made_up


def groups_fingerprint(groups: list[dict]) -> str:
    """The groups' question ids in their order, hashed: two files that give the same fingerprint give a run
    the same batches for the same order seed (a groups file rebuilt on another machine can be checked)."""
    return hashlib.sha256("\n".join(group["id"] for group in groups).encode()).hexdigest()[:16]


def batches_per_epoch(groups: int, per_batch: int) -> int:
    return math.ceil(groups / per_batch)


def batch_groups(groups: int, per_batch: int, seed: int, batch: int) -> list[int]:
    """The groups of the `batch`-th batch: each epoch is a fresh shuffle of all groups by `seed` + epoch, so
    the same seed gives the same batches in any run."""
    epoch, position = divmod(batch, batches_per_epoch(groups, per_batch))
    order = list(range(groups))
    random.Random(seed + epoch).shuffle(order)
    return order[position * per_batch : (position + 1) * per_batch]


class _Windows:
    """A question's windows over a text (an encoding and its overflowing parts), read the way transformers'
    BatchEncoding is: encoded["input_ids"][w], encoded["offset_mapping"][w], encoded.sequence_ids(w)."""

    _FIELDS = {"input_ids": "ids", "token_type_ids": "type_ids", "offset_mapping": "offsets"}

    def __init__(self, encoding) -> None:
        # Each read of an Encoding's field copies it into a new Python list: copied once here, since
        # reading every window's field per window read made a long document's windows quadratic (a
        # 90-window article: 8,100 copies instead of 90).
        parts = [encoding, *encoding.overflowing]
        self._fields = {key: [getattr(part, name) for part in parts] for key, name in self._FIELDS.items()}
        self._sequence_ids = [part.sequence_ids for part in parts]

    def __getitem__(self, key: str) -> list:
        return self._fields[key]

    def sequence_ids(self, w: int) -> list[int | None]:
        return self._sequence_ids[w]


def _row(encoded, w: int, gold: tuple[list[int], list[int]], question_ids: list[int]) -> dict:
    ids = list(encoded["input_ids"][w])
    ids[1 : 1 + len(question_ids)] = question_ids  # [CLS] question [SEP] context [SEP]
    return {"input_ids": ids, "token_type_ids": encoded["token_type_ids"][w], "starts": gold[0], "ends": gold[1]}


def _context_span(encoded, w: int) -> tuple[int, int]:
    offsets = encoded["offset_mapping"][w]
    tokens = [i for i, s in enumerate(encoded.sequence_ids(w)) if s == 1]
    return (offsets[tokens[0]][0], offsets[tokens[-1]][1]) if tokens else (0, 0)


def _gold_tokens(encoded, w: int, q: DocumentQuestion) -> tuple[list[int], list[int]]:
    """Start and end tokens of every gold answer that lies wholly inside window w."""
    offsets = encoded["offset_mapping"][w]
    context = [i for i, s in enumerate(encoded.sequence_ids(w)) if s == 1]
    if not context:
        return [], []
    first, last = context[0], context[-1]
    starts, ends = [], []
    for text, answer_start in zip(q.answers, q.answer_starts, strict=True):
        answer_end = answer_start + len(text)
        tokens = answer_tokens(offsets, first, last, answer_start, answer_end)
        if tokens is None:
            continue
        s, e = tokens
        if (s, e) not in zip(starts, ends, strict=True):
            starts.append(s)
            ends.append(e)
    return starts, ends


def _clip(tokenizer, question: str, max_tokens: int) -> str:
    offsets = tokenizer(
        question, add_special_tokens=False, truncation=True, max_length=max_tokens, return_offsets_mapping=True
    )["offset_mapping"]
    return question[: offsets[-1][1]] if offsets else question

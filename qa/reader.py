"""Extractive reader: scores answer spans of passages for a question, and the chance that none holds it.

Every window of every passage shares one softmax, with one no-answer score (the log-mean-exp of the
windows' [CLS] logits): the reader was trained that way (shared normalisation, Clark & Gardner 2018;
training/train_shared.py), so a span's probability compares across windows and passages, and a
window without the answer scores low in absolute terms. The reader only reads: deciding to answer or
abstain, and how sure to sound, is the AnswerPolicy's job (qa/policy.py).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from articleqa.qa.evidence import SentenceFinder, content_words, sentence_evidence
from articleqa.qa.text import (
    abbreviation_long_forms,
    brackets_balance,
    long_form_occurrences,
    name_end,
    normalize_answer,
    restates_long_form,
    whole_words,
)
from articleqa.runtime.forward import Forward, TieredForward, TorchForward, load_forward
from articleqa.runtime.tokens import load_tokenizer, pad_batch, pad_id, plain_copy

READER_CONFIG = "articleqa_reader.json"  # window settings and the calibration, stored beside the weights
# Reading windows in tokens, and the overlap of consecutive ones: the reader is trained, exported and read
# with the same ones (a reader trained on 256 but read in 384 scored 2.8 F1 lower on val articles).
WINDOW_TOKENS = 256
WINDOW_STRIDE = 128


@dataclass(frozen=True)
class Span:
    """One answer candidate inside one passage."""

    text: str
    passage_index: int
    start: int  # character offsets within the passage
    end: int
    probability: float  # p(start) * p(end) under one softmax over every window of the reading
    margin: float  # log probability minus the reading's no-answer log probability; higher = more sure
    evidence: float = 0.0  # share of the question's words its sentence repeats (qa/evidence.py)
    similarity: float | None = None  # cosine of the question's and its sentence's embeddings; None: not measured


@dataclass(frozen=True)
class Stretch:
    """A piece of one passage to read: characters `start` to `end` of passage `passage`."""

    passage: int
    start: int
    end: int


@dataclass(frozen=True)
class ReaderOutput:
    """What the reader saw in a set of passages: the best spans, best first, and P(no answer)."""

    spans: tuple[Span, ...]
    no_answer_log_probability: float
    windows: int  # how many model windows were read
    # the same windows scored per group of passages (`read_many`'s groups), each under its own softmax: what
    # each source says read alone, where the shared softmax gives nearly all the mass to the one whose words
    # match the question best
    apart: tuple[ReaderOutput, ...] = ()


class ExtractiveReader:
    """Reads passages for a question: all windows in batched forward passes, scored under one softmax."""

    SPANS_PER_WINDOW = 20  # candidates taken from each window before the occurrences of one answer are summed
    RANKED_BY_EVIDENCE = 20  # the most probable answers, re-ranked with their sentence evidence

    def __init__(
        self,
        forward: Forward,
        tokenizer: Tokenizer,
        *,
        max_length: int = WINDOW_TOKENS,
        stride: int = WINDOW_STRIDE,
        max_answer_tokens: int = 30,
        max_question_tokens: int = 64,
        batch_size: int = 32,
        evidence_weight: float = 0.0,
    ) -> None:
        """`forward`: the QA model's pass on numpy arrays (runtime/forward.py); `tokenizer`: its fast tokenizer;
        `evidence_weight`: how much an answer's sentence evidence counts against its log probability when
        the candidates are ranked (0: by probability alone; stored beside a reader's weights)."""
        self.forward = forward
        self.evidence_weight = evidence_weight
        self.max_length = max_length
        self.stride = stride
        self.max_answer_tokens = max_answer_tokens
        self.max_question_tokens = max_question_tokens
        self.batch_size = batch_size
        # one copy per setting: a tokenizer's truncation is its state, and encoding with it is thread-safe
        self._counter = plain_copy(tokenizer)
        self._windows = plain_copy(tokenizer)
        self._windows.enable_truncation(max_length, stride=stride, strategy="only_second")
        self._pad_id = pad_id(tokenizer)
        # every question counts its stories' tokens for the reading budget: the same texts, over and over
        self._token_counts = functools.lru_cache(maxsize=4096)(self._count)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        runtime: str = "auto",
        precision: str = "auto",
        onnx_dir: Path | None = None,
        **kwargs,
    ) -> ExtractiveReader:
        """A reader folder (or HF id) with its stored window settings, on ONNX Runtime when it has an export
        ("auto"), else on torch in `precision`."""
        name_or_path = str(name_or_path)
        kwargs = {**reading_settings(name_or_path), **kwargs}
        forward = load_forward(name_or_path, "question-answering", runtime, precision, onnx_dir)
        return cls(forward, load_tokenizer(name_or_path), **kwargs)

    @classmethod
    def from_model(cls, model, tokenizer, precision: str = "auto", **kwargs) -> ExtractiveReader:
        """A reader around a torch model in memory and its transformers tokenizer (training's evaluation)."""
        return cls(TorchForward(model, "question-answering", precision), tokenizer.backend_tokenizer, **kwargs)

    def take_over(self, wait: bool = True) -> None:
        """Move the model from ONNX Runtime to torch where torch runs it faster (runtime/forward.py)."""
        if isinstance(self.forward, TieredForward):
            self.forward.take_over(wait)

    def count_tokens(self, text: str) -> int:
        """Model tokens of a text (what a reading budget is counted in)."""
        return self._token_counts(text)

    def _count(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def _truncate_question(self, question: str) -> str:
        # the windows need room for at least `stride` passage tokens beside the question
        keep = max(1, min(self.max_question_tokens, self.max_length - self.stride - 4))
        offsets = self._counter.encode(question, add_special_tokens=False).offsets[:keep]
        return question[: offsets[-1][1]] if offsets else question

    def _encode(
        self, question: str, passages: Sequence[str], stretches: Sequence[Stretch] | None = None
    ) -> list[_Window]:
        """Every window of every passage, question first (a long passage overflows into several), as
        transformers' tokenizer(..., truncation="only_second", return_overflowing_tokens=True) makes them.
        `stretches`: only these pieces of the passages, each windowed as a passage of its own, with offsets
        into its whole passage."""
        question = self._truncate_question(question)
        if stretches is None:
            stretches = [Stretch(index, 0, len(passage)) for index, passage in enumerate(passages)]
        pieces = [(question, passages[s.passage][s.start : s.end]) for s in stretches]
        windows = []
        for stretch, encoding in zip(stretches, self._windows.encode_batch(pieces), strict=True):
            for part in (encoding, *encoding.overflowing):
                context = np.array([s == 1 for s in part.sequence_ids], dtype=bool)
                offsets = part.offsets
                if stretch.start:
                    offsets = [
                        (a + stretch.start, b + stretch.start) if inside else (a, b)
                        for (a, b), inside in zip(offsets, context.tolist(), strict=True)
                    ]
                windows.append(_Window(part.ids, part.type_ids, offsets, context, stretch.passage))
        return windows

    def read(self, question: str, passages: Sequence[str], top_k: int = 5) -> ReaderOutput:
        """The best `top_k` answers over all passages (one span per answer text) and P(no answer)."""
        return self.read_many([(question, passages)], top_k)[0]

    def read_many(
        self,
        readings: Sequence[tuple[str, Sequence[str]]],
        top_k: int = 5,
        groups: Sequence[Sequence[Sequence[int]]] | None = None,
        sentences: Sequence[SentenceFinder] | None = None,
        stretches: Sequence[Sequence[Stretch]] | None = None,
    ) -> list[ReaderOutput]:
        """`read` for several questions at once: the windows of all of them share length-sorted forward
        passes (fewer, fuller batches), then each question's windows are scored under their own softmax,
        exactly as if it had been read alone. `groups` (per question, groups of passage indices) also
        scores each group's windows apart (ReaderOutput.apart), from the same forward passes. `sentences`
        (per question, a SentenceFinder over its passages, built from the stored sentences) says where the
        sentences are; without it each passage is split (qa/evidence.SentenceFinder). `stretches` (per
        question): read only these pieces of its passages (a cascade's second reading, qa/cascade.py); the
        spans' offsets stay those of the whole passages."""
        encodings = [
            self._encode(question, passages, stretches[q] if stretches is not None else None) if passages else []
            for q, (question, passages) in enumerate(readings)
        ]
        logits = self._logits(encodings)
        outputs = []
        for q, (windows, (question, passages)) in enumerate(zip(encodings, readings, strict=True)):
            if not windows:
                outputs.append(ReaderOutput((), 0.0, 0))
                continue
            own = [logits[q, w] for w in range(len(windows))]
            finder = sentences[q] if sentences else SentenceFinder(passages)
            output = self._score(question, windows, finder, own, top_k)
            apart = []
            for group in groups[q] if groups else ():
                chosen = [w for w, window in enumerate(windows) if window.passage in set(group)]
                apart.append(
                    self._score(question, [windows[w] for w in chosen], finder, [own[w] for w in chosen], top_k)
                    if chosen
                    else ReaderOutput((), 0.0, 0)
                )
            outputs.append(replace(output, apart=tuple(apart)) if apart else output)
        return outputs

    def _score(
        self,
        question: str,
        windows: list[_Window],
        sentences: SentenceFinder,
        logits: list[tuple[np.ndarray, np.ndarray]],
        top_k: int,
    ) -> ReaderOutput:
        """One question's spans and P(no answer), under one softmax over all of its windows. A span that names
        in full what the question calls by an abbreviation ("Who leads HTS?" -> "Hayat Tahrir al-Sham") is
        not an answer to it: the softmax is taken without the starts and ends inside the name, and candidates
        that still hold it are dropped."""
        per_window = max(top_k, self.SPANS_PER_WINDOW)
        passages = sentences.passages
        long_forms = {
            form: abbreviation
            for passage in passages
            for form, abbreviation in abbreviation_long_forms(question, passage).items()
        }
        if long_forms:
            logits = self._without_restatements(logits, windows, passages, long_forms)
        n_windows = len(logits)
        log_n = math.log(n_windows)
        null_start = _logsumexp(np.array([s[0] for s, _ in logits])) - log_n
        null_end = _logsumexp(np.array([e[0] for _, e in logits])) - log_n
        z_start = _logsumexp(
            np.concatenate([s[w.context] for (s, _), w in zip(logits, windows, strict=True)] + [[null_start]])
        )
        z_end = _logsumexp(
            np.concatenate([e[w.context] for (_, e), w in zip(logits, windows, strict=True)] + [[null_end]])
        )
        null_log_p = float(null_start - z_start + null_end - z_end)
        spans: list[Span] = []
        for (start, end), window in zip(logits, windows, strict=True):
            spans.extend(self._spans_of_window(start - z_start, end - z_end, window, passages, per_window, null_log_p))
        spans.sort(key=lambda s: s.probability, reverse=True)
        answers = [
            span
            for span in self._merge(spans, null_log_p)
            if not (long_forms and restates_long_form(span.text, long_forms))
        ]
        answers = self.ranked_with_evidence(question, sentences, answers)
        return ReaderOutput(tuple(answers[:top_k]), null_log_p, n_windows)

    @staticmethod
    def _without_restatements(
        logits: list[tuple[np.ndarray, np.ndarray]],
        windows: list[_Window],
        passages: Sequence[str],
        long_forms: dict[tuple[str, ...], str],
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """The logits with every start and end inside an occurrence of a long form taken out (-inf). The
        reader scores starts and ends apart, so this is its distribution given that the answer neither
        starts nor ends inside the name: when it puts 80 % of its start mass on "Hayat" and 76 % of its end
        mass on "Sham", the rest goes to the other answers in proportion, as p(start) p(end) implies; the
        margins over "no answer" do not change. Only the name's own positions go: elsewhere the same words
        may begin an answer ("ABC" of "ABC News Now" where the question asks about ABC). A candidate that
        holds the name and more is dropped afterwards, without renormalising."""
        names = [long_form_occurrences(passage, long_forms) for passage in passages]
        if not any(names):
            return logits
        masked = []
        for (start, end), window in zip(logits, windows, strict=True):
            occurrences = names[window.passage]
            if occurrences:
                start, end = start.copy(), end.copy()
                for k in np.flatnonzero(window.context):
                    first, last = window.offsets[k]
                    if any(a <= first < b for a, b in occurrences):
                        start[k] = -np.inf
                    if any(a < last <= b for a, b in occurrences):
                        end[k] = -np.inf
            masked.append((start, end))
        return masked

    def ranked_with_evidence(self, question: str, sentences: SentenceFinder, answers: list[Span]) -> list[Span]:
        """The most probable answers ranked by log p + weight x sentence evidence (qa/evidence.py), whole
        ones (ending in the sentence they start in, brackets closed) first. Evidence is measured even at
        weight 0, because a calibration may use it as a feature."""
        asked = content_words(question)
        head = [
            replace(
                span, evidence=sentence_evidence(asked, span.text, sentences.sentence(span.passage_index, span.start))
            )
            for span in answers[: self.RANKED_BY_EVIDENCE]
        ]
        if self.evidence_weight:
            head.sort(key=self.ranking_score, reverse=True)
        # An answer that runs on into the next sentence joins pieces of two ("week-long offensive, which has
        # thrown [...] into disarray. After capturing Aleppo last week"), and one that opens a bracket it does
        # not close (or closes one it did not open) is a piece of a phrase: they go after the whole ones.
        whole, pieces = [], []
        for span in head:
            piece = not brackets_balance(span.text) or sentences.crosses(span.passage_index, span.start, span.end)
            (pieces if piece else whole).append(span)
        return whole + pieces + answers[self.RANKED_BY_EVIDENCE :]

    def ranked_output(
        self, question: str, sentences: SentenceFinder, reading: ReaderOutput, top_k: int
    ) -> ReaderOutput:
        """`reading` (its spans most probable first) with its answers ranked as this reader ranks its own, the
        best `top_k` kept."""
        ranked = self.ranked_with_evidence(question, sentences, list(reading.spans))
        return replace(reading, spans=tuple(ranked[:top_k]))

    def ranking_score(self, span: Span) -> float:
        """What the most probable answers are ranked by: log p + evidence weight x sentence evidence."""
        return math.log(max(span.probability, 1e-12)) + self.evidence_weight * span.evidence

    @staticmethod
    def _merge(spans: list[Span], null_log_p: float) -> list[Span]:
        """One span per answer text, best first. Every occurrence of an answer (and a position seen in two
        overlapping windows) is an entry of the one softmax, so their probabilities add up, as the "summed"
        training objective counts them; the answer is shown at its most probable occurrence."""
        merged: dict[str, tuple[Span, float]] = {}
        for span in spans:  # most probable first
            key = normalize_answer(span.text) or span.text
            best, total = merged.get(key, (span, 0.0))
            merged[key] = (best, total + span.probability)
        result = [
            replace(best, probability=total, margin=math.log(total) - null_log_p) for best, total in merged.values()
        ]
        return sorted(result, key=lambda s: s.probability, reverse=True)

    def _logits(self, encodings: list[list[_Window]]) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
        """(start, end) logits (float32) of every (question, window), in batches of similar length (little
        padding), whichever question a window belongs to."""
        order = sorted(
            ((q, w) for q, windows in enumerate(encodings) for w in range(len(windows))),
            key=lambda key: len(encodings[key[0]][key[1]].ids),
        )
        logits: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        for begin in range(0, len(order), self.batch_size):
            keys = order[begin : begin + self.batch_size]
            batch = pad_batch([(encodings[q][w].ids, encodings[q][w].type_ids) for q, w in keys], self._pad_id)
            start_logits, end_logits = self.forward(batch)
            for row, (q, w) in enumerate(keys):
                n = len(encodings[q][w].ids)
                logits[q, w] = (start_logits[row, :n].astype(np.float32), end_logits[row, :n].astype(np.float32))
        return logits

    def _spans_of_window(
        self,
        start_log_p: np.ndarray,
        end_log_p: np.ndarray,
        window: _Window,
        passages: Sequence[str],
        top_k: int,
        null_log_p: float,
    ) -> list[Span]:
        length = len(window.ids)
        # pairs (start i, end j) with i <= j < i + max_answer_tokens, both inside the passage
        valid = _short_spans(length, self.max_answer_tokens) & window.context[:, None] & window.context[None, :]
        candidates = np.flatnonzero(valid)
        if candidates.size == 0:
            return []
        pair = (start_log_p[:, None] + end_log_p[None, :]).ravel()[candidates]
        k = min(top_k, candidates.size)
        best = np.argpartition(-pair, k - 1)[:k]
        best = best[np.argsort(-pair[best], kind="stable")]
        passage = passages[window.passage]
        result = []
        for log_p, index in zip(pair[best].tolist(), candidates[best].tolist(), strict=True):
            if log_p == -math.inf:  # a start or end taken out (_without_restatements)
                break
            i, j = divmod(index, length)
            start_char, end_char = whole_words(passage, window.offsets[i][0], window.offsets[j][1])
            # the reader often stops a multi-word name short ("al-Nusra" for "al-Nusra Front"); the whole name
            # then merges with the spans that hold it (_merge), adding up their probabilities
            end_char = name_end(passage, start_char, end_char)
            result.append(
                Span(
                    text=passage[start_char:end_char],
                    passage_index=window.passage,
                    start=start_char,
                    end=end_char,
                    probability=math.exp(log_p),
                    margin=log_p - null_log_p,
                )
            )
        return result


@dataclass(frozen=True)
class _Window:
    """One model window: question and a stretch of one passage, with each token's character offsets."""

    ids: list[int]
    type_ids: list[int]
    offsets: list[tuple[int, int]]
    context: np.ndarray  # True where the token is passage text (not the question or a special token)
    passage: int  # which passage it reads


@functools.lru_cache(maxsize=64)
def _short_spans(length: int, max_tokens: int) -> np.ndarray:
    """(i, j) -> i <= j < i + max_tokens, for a window of `length` tokens (read-only: it is shared)."""
    ones = np.ones((length, length), dtype=bool)
    mask = np.triu(ones) & ~np.triu(ones, max_tokens)
    mask.flags.writeable = False
    return mask


def _logsumexp(values: np.ndarray) -> float:
    peak = float(np.max(values))
    return peak + math.log(float(np.sum(np.exp(values - peak))))


READING_SETTINGS = ("max_length", "stride", "max_answer_tokens", "evidence_weight")  # how a reader reads


def reading_settings(name_or_path: str | Path) -> dict:
    """The reading settings (READING_SETTINGS) stored beside a reader's weights."""
    return {k: v for k, v in reader_settings(name_or_path).items() if k in READING_SETTINGS}


def reader_settings(name_or_path: str | Path) -> dict:
    """The settings stored beside a reader's weights (empty for an HF id or a bare checkpoint)."""
    config_file = Path(name_or_path) / READER_CONFIG
    return json.loads(config_file.read_text()) if config_file.is_file() else {}

"""Extractive reader: scores answer spans of passages for a question, and the chance that none holds it.

Every window of every passage shares one softmax, with one no-answer score (the log-mean-exp of the
windows' [CLS] logits): the reader was trained that way (shared normalisation, Clark & Gardner 2018;
qa/training/train_shared.py), so a span's probability compares across windows and passages, and a
window without the answer scores low in absolute terms. The reader only reads: deciding to answer or
abstain, and how sure to sound, is the AnswerPolicy's job (qa/policy.py).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from articleqa.index.compute import inference_precision, resolve_precision
from articleqa.qa.text import abbreviation_long_forms, normalize_answer, restates_long_form

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


@dataclass(frozen=True)
class ReaderOutput:
    """What the reader saw in a set of passages: the best spans, best first, and P(no answer)."""

    spans: tuple[Span, ...]
    no_answer_log_probability: float
    windows: int  # how many model windows were read


class ExtractiveReader:
    """Reads passages for a question: all windows in batched forward passes, scored under one softmax."""

    SPANS_PER_WINDOW = 20  # candidates taken from each window before the occurrences of one answer are summed

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        *,
        max_length: int = WINDOW_TOKENS,
        stride: int = WINDOW_STRIDE,
        max_answer_tokens: int = 30,
        max_question_tokens: int = 64,
        batch_size: int = 32,
        precision: str = "auto",
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.stride = stride
        self.max_answer_tokens = max_answer_tokens
        self.max_question_tokens = max_question_tokens
        self.batch_size = batch_size
        self.precision = resolve_precision(precision)
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, **kwargs) -> ExtractiveReader:
        name_or_path = str(name_or_path)
        settings = reader_settings(name_or_path)
        model = AutoModelForQuestionAnswering.from_pretrained(name_or_path)
        model = model.float()  # weights may be stored in fp16 to stay small
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        for key in ("max_length", "stride", "max_answer_tokens"):
            if key in settings and key not in kwargs:
                kwargs[key] = settings[key]
        return cls(model, tokenizer, **kwargs)

    def count_tokens(self, text: str) -> int:
        """Model tokens of a text (what a reading budget is counted in)."""
        # verbose=False: a whole story is longer than the model's window, which is fine for counting
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def _truncate_question(self, question: str) -> str:
        encoded = self.tokenizer(
            question,
            add_special_tokens=False,
            truncation=True,
            # the tokenizer needs room for at least `stride` passage tokens beside the question
            max_length=max(1, min(self.max_question_tokens, self.max_length - self.stride - 4)),
            return_offsets_mapping=True,
        )
        offsets = encoded["offset_mapping"]
        return question[: offsets[-1][1]] if offsets else question

    def _encode(self, question: str, passages: Sequence[str]):
        """Every window of every passage, question first (a long passage overflows into several)."""
        return self.tokenizer(
            [self._truncate_question(question)] * len(passages),
            list(passages),
            truncation="only_second",
            max_length=self.max_length,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=False,
        )

    def read(self, question: str, passages: Sequence[str], top_k: int = 5) -> ReaderOutput:
        """The best `top_k` answers over all passages (one span per answer text) and P(no answer)."""
        return self.read_many([(question, passages)], top_k)[0]

    @torch.inference_mode()
    def read_many(self, readings: Sequence[tuple[str, Sequence[str]]], top_k: int = 5) -> list[ReaderOutput]:
        """`read` for several questions at once: the windows of all of them share length-sorted forward
        passes (fewer, fuller batches), then each question's windows are scored under their own softmax,
        exactly as if it had been read alone."""
        encodings = [self._encode(question, passages) if passages else None for question, passages in readings]
        windows = [(q, w) for q, encoded in enumerate(encodings) if encoded is not None
                   for w in range(len(encoded["input_ids"]))]
        logits = self._logits(encodings, windows)
        outputs = []
        for q, (encoded, (question, passages)) in enumerate(zip(encodings, readings, strict=True)):
            if encoded is None:
                outputs.append(ReaderOutput((), 0.0, 0))
                continue
            own = [logits[q, w] for w in range(len(encoded["input_ids"]))]
            outputs.append(self._score(question, encoded, passages, own, top_k))
        return outputs

    def _score(self, question: str, encoded, passages: Sequence[str],
               logits: list[tuple[torch.Tensor, torch.Tensor]], top_k: int) -> ReaderOutput:
        """One question's spans and P(no answer), under one softmax over all of its windows. A span that names
        in full what the question calls by an abbreviation ("Who leads HTS?" -> "Hayat Tahrir al-Sham") is
        not an answer to it, so it is not a candidate."""
        n_windows = len(logits)
        contexts = [torch.tensor([s == 1 for s in encoded.sequence_ids(w)]) for w in range(n_windows)]
        log_n = math.log(n_windows)
        null_start = torch.logsumexp(torch.stack([s[0] for s, _ in logits]), 0) - log_n
        null_end = torch.logsumexp(torch.stack([e[0] for _, e in logits]), 0) - log_n
        all_start = torch.cat([s[c] for (s, _), c in zip(logits, contexts, strict=True)] + [null_start[None]])
        all_end = torch.cat([e[c] for (_, e), c in zip(logits, contexts, strict=True)] + [null_end[None]])
        z_start, z_end = torch.logsumexp(all_start, 0), torch.logsumexp(all_end, 0)
        null_log_p = float(null_start - z_start + null_end - z_end)
        spans: list[Span] = []
        per_window = max(top_k, self.SPANS_PER_WINDOW)
        for w in range(n_windows):
            spans.extend(self._spans_of_window(
                logits[w][0] - z_start, logits[w][1] - z_end, contexts[w], encoded["offset_mapping"][w],
                passages, encoded["overflow_to_sample_mapping"][w], per_window, null_log_p))
        spans.sort(key=lambda s: s.probability, reverse=True)
        long_forms = set().union(*(abbreviation_long_forms(question, passage) for passage in passages))
        answers, restated = [], 0.0
        for span in self._merge(spans, null_log_p):
            if restates_long_form(span.text, long_forms):
                restated += span.probability
            else:
                answers.append(span)
        if restated:  # the distribution given that the answer is not a restatement (margins are unchanged)
            rest = max(1e-12, 1.0 - restated)
            answers = [replace(span, probability=span.probability / rest) for span in answers]
            null_log_p -= math.log(rest)
        return ReaderOutput(tuple(answers[:top_k]), null_log_p, n_windows)

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
        result = [replace(best, probability=total, margin=math.log(total) - null_log_p)
                  for best, total in merged.values()]
        return sorted(result, key=lambda s: s.probability, reverse=True)

    def _logits(self, encodings: list, windows: list[tuple[int, int]]
                ) -> dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]]:
        """(start, end) logits of every (question, window), in batches of similar length (little padding),
        whichever question a window belongs to."""
        def length(window: tuple[int, int]) -> int:
            return len(encodings[window[0]]["input_ids"][window[1]])

        order = sorted(windows, key=length)
        logits: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
        for begin in range(0, len(order), self.batch_size):
            batch_windows = order[begin : begin + self.batch_size]
            features = [
                {k: encodings[q][k][w] for k in ("input_ids", "attention_mask", "token_type_ids") if k in encodings[q]}
                for q, w in batch_windows
            ]
            batch = self.tokenizer.pad(features, return_tensors="pt")
            with self._lock, inference_precision(self.precision):
                output = self.model(**batch)
            for row, window in enumerate(batch_windows):
                n = length(window)
                logits[window] = (output.start_logits[row, :n].float(), output.end_logits[row, :n].float())
        return logits

    def _spans_of_window(self, start_log_p, end_log_p, context, offsets, passages, passage_index, top_k, null_log_p):
        length = len(context)
        minus_inf = torch.finfo(start_log_p.dtype).min
        pair = start_log_p[:, None] + end_log_p[None, :]
        band = torch.ones(length, length, dtype=torch.bool).triu().tril(self.max_answer_tokens - 1)
        valid = band & context[:, None] & context[None, :]
        pair = pair.masked_fill(~valid, minus_inf)
        k = min(top_k, int(valid.sum()))
        if k == 0:
            return []
        values, indices = pair.flatten().topk(k)
        passage = passages[passage_index]
        result = []
        for log_p, index in zip(values.tolist(), indices.tolist(), strict=True):
            i, j = divmod(index, length)
            start_char, end_char = offsets[i][0], offsets[j][1]
            result.append(Span(text=passage[start_char:end_char], passage_index=passage_index, start=start_char,
                               end=end_char, probability=math.exp(log_p), margin=log_p - null_log_p))
        return result


def reader_settings(name_or_path: str | Path) -> dict:
    """The settings stored beside a reader's weights (empty for an HF id or a bare checkpoint)."""
    config_file = Path(name_or_path) / READER_CONFIG
    return json.loads(config_file.read_text()) if config_file.is_file() else {}

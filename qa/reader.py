"""Extractive reader: finds the answer span in a set of passages with a QA model."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from articleqa.index.compute import inference_precision, resolve_precision
from articleqa.qa.evaluation.squad_metric import normalize_answer
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

READER_CONFIG = "articleqa_reader.json"  # null threshold etc., stored beside the weights


@dataclass(frozen=True)
class Span:
    """One answer candidate inside one passage."""

    text: str
    passage_index: int
    start: int  # character offsets within the passage
    end: int
    probability: float  # p(start) * p(end) within its window, [CLS] included
    margin: float  # span logit minus the window's no-answer logit; higher = more sure


class ExtractiveReader:
    """Scores spans of passages for a question, all windows in batched forward passes."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        *,
        max_length: int = 384,
        stride: int = 128,
        max_answer_tokens: int = 30,
        max_question_tokens: int = 64,
        batch_size: int = 32,
        null_threshold: float | None = 0.0,
        calibration: dict | None = None,
        min_confidence: float | None = None,
        precision: str = "auto",
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.stride = stride
        self.max_answer_tokens = max_answer_tokens
        self.max_question_tokens = max_question_tokens
        self.batch_size = batch_size
        # Without calibration: abstain when "no answer" out-scores the best span by the margin
        # `null_threshold` (0.0 is the usual SQuAD 2.0 rule; None never abstains). With calibration
        # (fitted on validation data, stored beside the weights): abstain below `min_confidence`.
        self.null_threshold = null_threshold
        self.calibration = calibration
        self.min_confidence = min_confidence
        self.precision = resolve_precision(precision)
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, **kwargs) -> ExtractiveReader:
        name_or_path = str(name_or_path)
        settings = {}
        config_file = Path(name_or_path) / READER_CONFIG
        if config_file.is_file():
            settings = json.loads(config_file.read_text())
        model = AutoModelForQuestionAnswering.from_pretrained(name_or_path)
        model = model.float()  # weights may be stored in fp16 to stay small
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        for key in ("null_threshold", "calibration", "min_confidence", "max_length", "stride", "max_answer_tokens"):
            if key in settings and key not in kwargs:
                kwargs[key] = settings[key]
        return cls(model, tokenizer, **kwargs)

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

    @torch.inference_mode()
    def read(self, question: str, passages: list[str], top_k: int = 5) -> list[Span]:
        """Best spans over all passages, best first (at most one per window position)."""
        if not passages:
            return []
        question = self._truncate_question(question)
        encoded = self.tokenizer(
            [question] * len(passages),
            passages,
            truncation="only_second",
            max_length=self.max_length,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=False,
        )
        n_windows = len(encoded["input_ids"])
        order = sorted(range(n_windows), key=lambda i: len(encoded["input_ids"][i]))
        spans: list[Span] = []
        for begin in range(0, n_windows, self.batch_size):
            batch_ids = order[begin : begin + self.batch_size]
            features = [
                {k: encoded[k][i] for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded}
                for i in batch_ids
            ]
            batch = self.tokenizer.pad(features, return_tensors="pt")
            with self._lock, inference_precision(self.precision):
                output = self.model(**batch)
            for row, window in enumerate(batch_ids):
                spans.extend(
                    self._spans_of_window(
                        output.start_logits[row].float(),
                        output.end_logits[row].float(),
                        encoded.sequence_ids(window),
                        encoded["offset_mapping"][window],
                        passages,
                        encoded["overflow_to_sample_mapping"][window],
                        top_k,
                    )
                )
        spans.sort(key=lambda s: s.probability, reverse=True)
        unique: list[Span] = []
        seen: set[tuple[int, int, int]] = set()
        for span in spans:
            key = (span.passage_index, span.start, span.end)
            if key not in seen:
                seen.add(key)
                unique.append(span)
        return unique[:top_k]

    def _spans_of_window(self, start_logits, end_logits, sequence_ids, offsets, passages, passage_index, top_k):
        length = len(sequence_ids)
        start_logits, end_logits = start_logits[:length], end_logits[:length]
        context = torch.tensor([s == 1 for s in sequence_ids])
        allowed = context.clone()
        allowed[0] = True  # [CLS] stays in the softmax so "no answer" takes probability mass
        minus_inf = torch.finfo(start_logits.dtype).min
        start_log_p = torch.log_softmax(start_logits.masked_fill(~allowed, minus_inf), -1)
        end_log_p = torch.log_softmax(end_logits.masked_fill(~allowed, minus_inf), -1)
        pair = start_log_p[:, None] + end_log_p[None, :]
        band = torch.ones(length, length, dtype=torch.bool).triu().tril(self.max_answer_tokens - 1)
        valid = band & context[:, None] & context[None, :]
        pair = pair.masked_fill(~valid, minus_inf)
        null_logit = float(start_logits[0] + end_logits[0])
        flat = pair.flatten()
        k = min(top_k, int(valid.sum()))
        if k == 0:
            return []
        values, indices = flat.topk(k)
        passage = passages[passage_index]
        result = []
        for log_p, index in zip(values.tolist(), indices.tolist(), strict=True):
            i, j = divmod(index, length)
            start_char, end_char = offsets[i][0], offsets[j][1]
            result.append(
                Span(
                    text=passage[start_char:end_char],
                    passage_index=passage_index,
                    start=start_char,
                    end=end_char,
                    probability=float(torch.tensor(log_p).exp()),
                    margin=float(start_logits[i] + end_logits[j]) - null_logit,
                )
            )
        return result

    def always_answer(self) -> None:
        """Never abstain (to measure the reader alone, or to compare with readers that always answer)."""
        self.min_confidence = self.null_threshold = None

    def confidence(self, span: Span, spans: Sequence[Span] = ()) -> float:
        """P(the span is right): calibrated on validation data when the model has a calibration.
        `spans` are all candidates of the same reading (they tell how much the evidence agrees)."""
        if not self.calibration:
            return span.probability
        return calibrated_confidence(self.calibration, answer_features(span, spans))

    def abstains(self, best: Span | None, spans: Sequence[Span] = ()) -> bool:
        """True when the articles (as far as the reader sees) don't hold the answer."""
        if best is None:
            return True
        if self.calibration and self.min_confidence is not None:
            return self.confidence(best, spans) < self.min_confidence
        return self.null_threshold is not None and best.margin < self.null_threshold


def _overlaps(a: Span, b: Span) -> bool:
    return a.passage_index == b.passage_index and a.start < b.end and b.start < a.end


def answer_features(best: Span, spans: Sequence[Span] = ()) -> dict[str, float]:
    """What the calibration sees of an answer. Besides the span's own scores: `log_support`, the mass of
    all candidates that overlap it or say the same ("$10 million" and "10 million" split the model's
    probability between them); `log_lead`, how far it is ahead of the best different answer; and the
    rank of its passage in retrieval."""
    key = normalize_answer(best.text)
    support = best.probability
    rival = 0.0
    for span in spans:
        if (span.passage_index, span.start, span.end) == (best.passage_index, best.start, best.end):
            continue
        if _overlaps(span, best) or normalize_answer(span.text) == key:
            support += span.probability
        else:
            rival = max(rival, span.probability)
    log_p = math.log(max(best.probability, 1e-9))
    return {
        "margin": best.margin,
        "log_probability": log_p,
        "log_support": math.log(max(min(support, 1.0), 1e-9)),
        "log_lead": min(10.0, log_p - math.log(max(rival, 1e-9))),
        "passage_rank": float(best.passage_index),
    }


LEGACY_FEATURES = ("margin", "log_probability")  # calibrations stored before features were named


def calibrated_confidence(calibration: dict, features: dict[str, float]) -> float:
    """Logistic regression over the answer's features (weights fitted by qa.training.calibrate)."""
    names = calibration.get("features", LEGACY_FEATURES)
    z = calibration["bias"] + sum(w * features[name] for w, name in zip(calibration["weights"], names, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

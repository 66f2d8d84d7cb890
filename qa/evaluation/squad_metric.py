"""The official SQuAD EM/F1, as in evaluate-v1.1.py and evaluate-v2.0.py.

Normalisation (lower-case, strip punctuation and English articles, collapse white space) and
token-level F1 are copied in behaviour from the official scripts; for v2.0 an empty prediction means
"no answer" and scores 1 only against a question without answers.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping

from articleqa.qa.text import normalize_answer

__all__ = ["exact_match", "f1", "normalize_answer", "score_one", "squad_scores"]


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def exact_match(prediction: str, gold: str) -> int:
    return int(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    pred_tokens, gold_tokens = _tokens(prediction), _tokens(gold)
    if not pred_tokens or not gold_tokens:
        # v2.0 rule: no-answer agrees only with no-answer.
        return float(pred_tokens == gold_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def score_one(prediction: str, golds: Iterable[str]) -> tuple[float, float]:
    """(EM, F1) of one prediction against its gold answers; no gold answers means unanswerable."""
    golds = [g for g in golds if normalize_answer(g)] or [""]
    return (
        float(max(exact_match(prediction, g) for g in golds)),
        max(f1(prediction, g) for g in golds),
    )


def squad_scores(predictions: Mapping[str, str], gold_answers: Mapping[str, list[str]]) -> dict[str, float]:
    """EM/F1 in percent over every question of `gold_answers`; split into HasAns/NoAns when both occur."""
    totals: dict[str, list[float]] = {"all": [0, 0, 0], "HasAns": [0, 0, 0], "NoAns": [0, 0, 0]}
    for qid, golds in gold_answers.items():
        em, f = score_one(predictions.get(qid, ""), golds)
        group = "HasAns" if any(normalize_answer(g) for g in golds) else "NoAns"
        for key in ("all", group):
            totals[key][0] += em
            totals[key][1] += f
            totals[key][2] += 1
    result: dict[str, float] = {}
    for key, (em, f, n) in totals.items():
        if n == 0 or (key != "all" and totals["NoAns"][2] == 0):
            continue
        prefix = "" if key == "all" else f"{key}_"
        result[f"{prefix}exact"] = 100.0 * em / n
        result[f"{prefix}f1"] = 100.0 * f / n
        result[f"{prefix}total"] = n
    return result

"""SQuAD-style training features: windows with doc stride and token-level answer labels."""

from __future__ import annotations

from articleqa.qa.evaluation.squad_data import SquadQuestion


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


def training_features(
    examples: list[SquadQuestion], tokenizer, max_length: int, stride: int, max_question_tokens: int = 64
) -> list[dict]:
    """One feature per window: input ids, token types and start/end labels ([CLS] = no answer here)."""
    features: list[dict] = []
    chunk = 1000
    for begin in range(0, len(examples), chunk):
        part = examples[begin : begin + chunk]
        questions = [_clip(tokenizer, q.question.strip(), max_question_tokens) for q in part]
        encoded = tokenizer(
            questions,
            [q.context for q in part],
            truncation="only_second",
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        for window, offsets in enumerate(encoded["offset_mapping"]):
            example = part[encoded["overflow_to_sample_mapping"][window]]
            sequence_ids = encoded.sequence_ids(window)
            start_token = end_token = 0
            if example.answerable:
                answer_start = example.answer_starts[0]
                answer_end = answer_start + len(example.answers[0])
                context_tokens = [i for i, s in enumerate(sequence_ids) if s == 1]
                first, last = context_tokens[0], context_tokens[-1]
                start_token, end_token = answer_tokens(offsets, first, last, answer_start, answer_end) or (0, 0)
            features.append(
                {
                    "input_ids": encoded["input_ids"][window],
                    "token_type_ids": encoded["token_type_ids"][window],
                    "start": start_token,
                    "end": end_token,
                }
            )
    return features


def _clip(tokenizer, question: str, max_tokens: int) -> str:
    offsets = tokenizer(question, add_special_tokens=False, truncation=True, max_length=max_tokens,
                        return_offsets_mapping=True)["offset_mapping"]
    return question[: offsets[-1][1]] if offsets else question

"""Which reader is better (training/selection.py), for a run's best checkpoint and the GPU sweep's
choice alike: the seed first, then `val`."""

import pytest

from training.selection import seed_checks, selection_key
from training.sweep import ranking


def _val(mean: float) -> dict[str, float]:
    return {"gold_f1": mean, "multi_f1": mean, "v2_best_f1": mean}


def test_a_candidate_that_loses_seed_questions_ranks_after_every_one_that_keeps_them():
    scores = {
        "backbone": {**_val(70.0), "seed_right": 56},
        "bold": {**_val(74.0), "seed_right": 53},  # best on val, but it loses three seed answers
        "soup": {**_val(71.0), "seed_right": 56},
        "gentle": {**_val(70.5), "seed_right": 58},
    }
    assert ranking(scores) == ["soup", "gentle", "backbone", "bold"]
    # without seed figures (the checks failed there) the val mean decides
    assert ranking({name: _val(70.0 + i) for i, name in enumerate(scores)})[0] == "gentle"


def test_a_run_keeps_a_step_that_loses_seed_answers_only_over_none():
    floor = 56
    start = {**_val(70.0), "seed_right": floor}
    assert selection_key({**_val(70.5), "seed_right": floor}, floor) > selection_key(start, floor)
    assert selection_key({**_val(75.0), "seed_right": floor - 1}, floor) < selection_key(start, floor)
    # a step whose seed checks failed is not taken for one that kept the seed
    assert selection_key(_val(75.0), floor) < selection_key(start, floor)


@pytest.mark.slow
def test_seed_checks_ask_every_answerable_seed_question_turn_and_paraphrase(tiny_reader_dir):
    from articleqa.qa.reader import ExtractiveReader
    from articleqa.seed import seed_conversation, seed_paraphrases, seed_questions

    reader = ExtractiveReader.from_pretrained(str(tiny_reader_dir), runtime="torch")
    right, asked = seed_checks(reader)
    answerable = [q for q in seed_questions() + seed_conversation() + seed_paraphrases() if q.answers]
    assert asked == len(answerable) and 0 <= right <= asked

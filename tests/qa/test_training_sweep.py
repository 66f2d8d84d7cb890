"""The GPU sweep's choice of a candidate (qa/training/sweep.py): the seed first, then `val`."""

from articleqa.qa.training.sweep import ranking, seed_checks


def test_a_candidate_that_loses_seed_questions_ranks_after_every_one_that_keeps_them():
    scores = {"backbone": {"mean": 70.0, "seed_right": 56},
              "bold": {"mean": 74.0, "seed_right": 53},  # best on val, but it loses three seed answers
              "soup": {"mean": 71.0, "seed_right": 56},
              "gentle": {"mean": 70.5, "seed_right": 58}}
    assert ranking(scores) == ["soup", "gentle", "backbone", "bold"]
    # without seed figures (the checks failed there) the val mean decides
    assert ranking({name: {"mean": s["mean"]} for name, s in scores.items()})[0] == "bold"


def test_seed_checks_ask_every_answerable_seed_question_turn_and_paraphrase(tiny_reader_dir):
    from articleqa.qa.reader import ExtractiveReader
    from articleqa.seed import seed_conversation, seed_paraphrases, seed_questions

    reader = ExtractiveReader.from_pretrained(str(tiny_reader_dir), runtime="torch")
    right, asked = seed_checks(reader)
    answerable = [q for q in seed_questions() + seed_conversation() + seed_paraphrases() if q.answers]
    assert asked == len(answerable) and 0 <= right <= asked

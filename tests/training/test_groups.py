"""Training groups (training/groups.py): names swapped for unanswerable questions, look-alike windows, their order."""

import gzip
import json
from dataclasses import replace

import pytest

from training.groups import Document, DocumentQuestion, entity_swapped_questions


def _documents() -> list[Document]:
    tesla = Document(
        "wiki",
        "Tesla",
        "In 1884 Tesla moved to New York. He worked for the Edison company at first.",
        [
            DocumentQuestion("q1", "When did Tesla move to New York?", ["1884"], [3], 0),
            DocumentQuestion("q2", "Did Tesla or Edison move to New York?", ["Tesla"], [8], 0),
            DocumentQuestion("q3", "Where did he move?", ["New York"], [23], 0),  # no name of its own to swap
        ],
    )
    marconi = Document("wiki", "Marconi", "In 1895 Marconi built a radio in Bologna.", [])
    return [tesla, marconi]


def test_a_name_the_question_shares_with_its_article_is_swapped_for_one_the_article_never_mentions():
    documents = _documents()
    assert entity_swapped_questions(documents, 10, seed=1) == 2
    tesla = documents[0]
    originals = {q.id: q.question for q in tesla.questions if not q.id.startswith("swap-")}
    swapped = [q for q in tesla.questions if q.id.startswith("swap-")]
    assert sorted(q.id for q in swapped) == ["swap-q1", "swap-q2"]
    for q in swapped:
        assert q.answers == [] and q.answer_starts == [] and q.anchor == 0
        before, after = originals[q.id.removeprefix("swap-")].split(), q.question.split()
        changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert len(changed) == 1  # one word for one word: same shape
        old, new = (word.strip("?") for word in changed[0])
        assert old in tesla.text and new not in tesla.text and new in documents[1].text
        assert old.isdigit() == new.isdigit()  # a year for a year, a name for a name
    # never the answer itself: q2 is answered by Tesla, so Edison goes (New York has no two-word stand-in)
    assert next(q.question for q in swapped if q.id == "swap-q2").startswith("Did Tesla or ")


def test_no_more_than_asked_and_the_same_for_the_same_seed():
    first, second = _documents(), _documents()
    assert entity_swapped_questions(first, 1, seed=3) == 1 == entity_swapped_questions(second, 1, seed=3)
    assert [q.question for q in first[0].questions] == [q.question for q in second[0].questions]
    assert len(first[0].questions) == 4


def test_the_windows_holding_a_readers_wrong_answers_come_first_among_the_look_alikes():
    from transformers import AutoTokenizer

    from articleqa.config import SHIPPED_READER
    from training.groups import confuser_positions, question_groups

    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_READER)
    filler = " ".join(f"Paragraph {i} talks about the weather in the hills and the rain." for i in range(12))
    text = (
        f"The rebels took Hama in December. {filler}\n\nLater the army moved north to Aleppo, a city "
        f"taken years before. {filler}"
    )
    question = DocumentQuestion("q", "Which city did the rebels take?", ["Hama"], [text.index("Hama")], 0)
    documents = [
        Document("news", "Syria", text, [question]),
        Document("news", "Other", "An unrelated story about a harbour and its boats. " * 20, []),
    ]
    at = text.index("Aleppo")
    confusers = {"q": [{"answer": "Aleppo", "probability": 0.4, "context": text[at - 30 : at + 36], "offset": 30}]}
    assert confuser_positions(text, confusers["q"]) == [at]
    assert confuser_positions(text, [{**confusers["q"][0], "context": "not in the text"}]) == []

    def look_alike(mined):
        (group,) = question_groups(documents, tokenizer, max_length=64, stride=32, windows=3, seed=0, confusers=mined)
        return tokenizer.decode(group["windows"][1]["input_ids"])

    assert "aleppo" in look_alike(confusers)
    # a repeated question's copy (`q#2`, a weighted mix) meets the wrong answers mined for the question
    documents[0] = Document("news", "Syria", text, [replace(question, id="q#2")])
    assert "aleppo" in look_alike(confusers)
    documents[0] = Document("news", "Syria", text, [question])
    lost = {"q": [{**confusers["q"][0], "context": "not in the text"}]}
    assert look_alike(lost) == look_alike(None)  # a wrong answer not found: word overlap decides, as before


@pytest.mark.slow
def test_groups_built_by_spawned_workers_are_the_parts_built_here_shuffled_by_the_seed():
    import random

    from transformers import AutoTokenizer

    from articleqa.config import SHIPPED_READER
    from training.groups import parallel_question_groups, question_groups

    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_READER)
    documents = [
        Document(
            "news",
            f"Story {n}",
            f"In {1900 + n} the mayor of town {n} opened a bridge. " + "The river was high that spring. " * 12,
            [DocumentQuestion(f"q{n}", f"When did the mayor of town {n} open a bridge?", [str(1900 + n)], [3], 0)],
        )
        for n in range(6)
    ]
    settings = {"max_length": 48, "stride": 16, "windows": 3, "seed": 7}
    spawned = parallel_question_groups(documents, tokenizer, workers=2, **settings)
    here = [g for i in range(2) for g in question_groups(documents, tokenizer, part=(i, 2), **settings)]
    random.Random(7).shuffle(here)
    assert len(spawned) == 6 and spawned == here
    assert all(any(w["starts"] for w in g["windows"]) for g in spawned)  # each holds its answer's window


def _refuse_to_load():
    raise RuntimeError("this tokenizer cannot be loaded in a worker")


class _TokenizerThatKillsItsWorker:
    """Pickles in the parent; unpickling it in the spawned worker raises, so the worker dies at start-up
    as it does under a script without a `__main__` guard."""

    def __reduce__(self):
        return (_refuse_to_load, ())


@pytest.mark.slow
def test_a_worker_that_dies_before_returning_its_groups_is_an_error_not_a_wait_for_ever():
    from training.groups import parallel_question_groups

    with pytest.raises(RuntimeError, match=r"worker \d of 2 died \(exit code 1\)"):
        parallel_question_groups(_documents(), _TokenizerThatKillsItsWorker(), workers=2, seed=7, max_length=48)


def test_an_article_longer_than_the_cap_becomes_documents_of_whole_paragraphs_with_their_answers(tmp_path):
    import gzip
    import json

    from training.groups import load_documents

    def paragraph(n: int) -> dict:
        context = f"Comment {n}: the ferry to island {n} leaves at {n} o'clock. " + "Noise. " * 10
        answer = f"{n} o'clock"
        return {
            "context": context,
            "qas": [
                {
                    "id": f"q{n}",
                    "question": f"When does the ferry to island {n} leave?",
                    "answers": [{"text": answer, "answer_start": context.index(answer)}],
                }
            ],
        }

    paragraphs = [paragraph(n) for n in range(30)]
    path = tmp_path / "one-title.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump({"data": [{"title": "All comments", "paragraphs": paragraphs}]}, f)

    whole = load_documents(path, "comments", max_chars=100_000)
    cut = load_documents(path, "comments", max_chars=600)
    assert len(whole) == 1 and len(cut) > 3
    assert all(len(d.text) <= 600 for d in cut)
    assert "\n\n".join(d.text for d in cut) == whole[0].text  # nothing lost, nothing split mid-paragraph
    assert sorted(q.id for d in cut for q in d.questions) == sorted(q.id for q in whole[0].questions)
    for document in cut:
        for q in document.questions:
            assert document.text[q.answer_starts[0] :].startswith(q.answers[0])
            assert document.text[q.anchor :].startswith("Comment")


def _write_squad(path, articles: list[dict]) -> None:
    """A training set in the data folder's form: SQuAD JSON, gzipped."""
    with gzip.open(path, "wt") as f:
        json.dump({"data": articles}, f)


def test_a_repeated_set_weighs_each_of_its_questions_that_many_times_under_ids_of_their_own(tmp_path):
    from training.groups import DocumentSource, build_documents

    def squad_file(name: str, questions: int) -> None:
        context = "The ferry leaves at noon. The bus leaves at nine."
        qas = [
            {
                "id": f"{name}{n}",
                "question": "When does the ferry leave?",
                "answers": [{"text": "noon", "answer_start": 20}],
            }
            for n in range(questions)
        ]
        _write_squad(tmp_path / f"{name}.json.gz", [{"title": name, "paragraphs": [{"context": context, "qas": qas}]}])

    squad_file("plain", 3)
    squad_file("weighted", 2)
    mix = {"plain": DocumentSource("plain.json.gz"), "weighted": DocumentSource("weighted.json.gz", repeat=3)}
    documents, counts = build_documents(tmp_path, seed=1, mix=mix)
    assert counts == {"plain": 3, "weighted": 6}
    ids = [q.id for d in documents for q in d.questions]
    assert len(ids) == len(set(ids)) == 9
    weighted = [q for d in documents if d.source == "weighted" for q in d.questions]
    assert sorted(q.id.split("#")[0] for q in weighted) == ["weighted0"] * 3 + ["weighted1"] * 3
    assert all(q.answers == ["noon"] for q in weighted)


def test_mining_for_a_run_asks_the_questions_its_batches_hold_and_no_others():
    pytest.importorskip("sklearn")  # confusers runs the product's evaluation (the `train` extra)
    from training.confusers import questions_met
    from training.train_shared import batch_groups

    groups = [{"id": f"q{i}"} for i in range(10)] + [{"id": f"q{i}#2"} for i in range(10)]
    met = questions_met(groups, per_batch=4, seed=23, from_batch=2, batches=2)
    held = [groups[i]["id"] for b in (2, 3) for i in batch_groups(20, 4, 23, b)]
    assert met == {h.split("#")[0] for h in held}
    assert len(held) == 8 and len(met) <= 8
    before = {groups[i]["id"].split("#")[0] for b in (0, 1) for i in batch_groups(20, 4, 23, b)}
    assert met != before  # another stretch of the order meets other questions


def test_groups_rebuilt_with_more_windows_take_the_earlier_order_and_make_up_what_they_lack():
    from training.groups import groups_fingerprint, in_order_of

    def group(id_: str, windows: int) -> dict:
        return {"id": id_, "source": "s", "windows": [{"input_ids": [id_, w]} for w in range(windows)]}

    earlier = [group(i, 3) for i in ("c", "a", "d", "b")]
    rebuilt = [group(i, 4) for i in ("a", "b", "c", "e")]  # d could not be built again; e is new
    aligned, made_up = in_order_of(rebuilt, earlier)
    assert groups_fingerprint(aligned) == groups_fingerprint(earlier)
    assert [g["id"] for g in aligned] == ["c", "a", "d", "b"] and made_up == ["d"]
    assert all(len(g["windows"]) == 4 for g in aligned)
    assert aligned[0] is rebuilt[2]  # the rebuilt group, not the earlier one
    assert aligned[2]["windows"][3] == earlier[2]["windows"][2]  # its last window, once more
    assert len(earlier[2]["windows"]) == 3  # the earlier groups are left as they were


def test_groups_saved_in_an_earlier_files_order_keep_its_batches_with_more_windows(tmp_path, tiny_reader_dir):
    """The path `train_shared --order-of` takes: groups built again with another number of windows are
    saved in the earlier file's order of questions, so a run's --from-batch meets the questions it did not."""
    pytest.importorskip("torch")
    from transformers import AutoTokenizer

    from training.groups import DocumentSource, groups_fingerprint, load_groups, save_question_groups

    def article(town: str, hour: str) -> dict:
        context = (
            f"The ferry from {town} leaves at {hour}. " + "The harbour is quiet and the gulls circle the old pier. " * 4
        )
        qas = [
            {
                "id": f"{town}-{n}",
                "question": f"When does the ferry from {town} leave?",
                "answers": [{"text": hour, "answer_start": context.index(hour)}],
            }
            for n in range(2)
        ]
        return {"title": town, "paragraphs": [{"context": context, "qas": qas}]}

    towns = {
        "ferries": [("Bari", "noon"), ("Split", "nine"), ("Ancona", "dawn")],
        "buses": [("Zadar", "six"), ("Pula", "ten")],
    }
    for name, places in towns.items():
        _write_squad(tmp_path / f"{name}.json.gz", [article(town, hour) for town, hour in places])
    mix = {name: DocumentSource(f"{name}.json.gz") for name in towns}
    tokenizer = AutoTokenizer.from_pretrained(tiny_reader_dir)
    settings = {"max_length": 32, "stride": 8}
    earlier, _ = save_question_groups(tmp_path / "two.pt", tmp_path, mix, tokenizer, seed=1, windows=2, **settings)
    earlier = earlier[::-1]  # another order than a build with this seed gives
    saved = tmp_path / "three.pt"
    groups, counts = save_question_groups(
        saved, tmp_path, mix, tokenizer, seed=1, windows=3, order_of=earlier, **settings
    )
    assert counts == {"ferries": 6, "buses": 4}
    reloaded = load_groups(saved)
    assert [g["id"] for g in reloaded] == [g["id"] for g in groups] == [g["id"] for g in earlier]
    assert groups_fingerprint(reloaded) == groups_fingerprint(earlier)
    assert {len(g["windows"]) for g in reloaded} == {3}
    assert {len(g["windows"]) for g in earlier} == {2}

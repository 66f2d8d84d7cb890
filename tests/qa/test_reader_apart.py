"""The reader's groups scored apart (developing news reads each dated report alone): the same spans and
probabilities as reading that group's passages by themselves, from one set of forward passes."""

import pytest

from articleqa.qa.reader import ExtractiveReader

PASSAGES = [
    "At least 12 people were killed when houses collapsed in Karvan on Monday.",
    "The death toll of the Karvan earthquake rose to 47 on Tuesday.",
    "Officials said 63 people had been killed in the disaster.",
]


@pytest.fixture(scope="module")
def reader(tiny_reader_dir):
    return ExtractiveReader.from_pretrained(tiny_reader_dir)


def test_a_group_scored_apart_is_the_group_read_alone(reader):
    question = "How many people were killed?"
    [output] = reader.read_many([(question, PASSAGES)], top_k=5, groups=[[[0], [1, 2]]])
    assert output.spans == reader.read(question, PASSAGES, top_k=5).spans  # the joint reading is unchanged
    alone_first = reader.read(question, PASSAGES[:1], top_k=5)
    assert [(s.text, s.passage_index) for s in output.apart[0].spans] == [
        (s.text, s.passage_index) for s in alone_first.spans
    ]
    assert [s.probability for s in output.apart[0].spans] == pytest.approx([s.probability for s in alone_first.spans])
    alone_rest = reader.read(question, PASSAGES[1:], top_k=5)
    assert [(s.text, s.passage_index - 1) for s in output.apart[1].spans] == [
        (s.text, s.passage_index) for s in alone_rest.spans
    ]
    assert output.apart[1].no_answer_log_probability == pytest.approx(alone_rest.no_answer_log_probability)


def test_without_groups_nothing_is_scored_apart(reader):
    [output] = reader.read_many([("Who?", PASSAGES)], top_k=3)
    assert output.apart == ()

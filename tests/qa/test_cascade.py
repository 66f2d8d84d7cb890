"""The reading cascade (qa/cascade.py): the stretches a large reader re-reads, reading stretches at the whole
passage's offsets, and the cascade end to end with a tiny reader and with the shipped one on the seed."""

import pytest

from articleqa.qa.cascade import CascadeReader, stretches_to_reread
from articleqa.qa.evidence import SentenceFinder
from articleqa.qa.reader import ExtractiveReader, Span, Stretch

STORY = (
    "Rebels captured Hama on Thursday. "
    "The city is the fourth largest in Syria. "
    "Hayat Tahrir al-Sham led the offensive. "
    "Its leader is Abu Mohammed al-Jolani. "
    "The army said it had pulled out of the city."
)
OTHER = "Aleppo fell to the rebels a week earlier. Russia carried out air strikes."


def words(text: str) -> int:
    return len(text.split())


def span_of(text: str, passage: str, index: int = 0) -> Span:
    start = passage.index(text)
    return Span(text, index, start, start + len(text), probability=0.5, margin=1.0)


def test_a_stretch_is_whole_sentences_around_the_answer_grown_within_the_room():
    finder = SentenceFinder([STORY])
    [alone] = stretches_to_reread([span_of("Jolani", STORY)], finder, room=1, count_tokens=words)
    assert STORY[alone.start : alone.end] == "Its leader is Abu Mohammed al-Jolani."
    [grown] = stretches_to_reread([span_of("Jolani", STORY)], finder, room=16, count_tokens=words)
    # the next sentence first (6 + 10 words), then the one before: 6 more would not fit
    assert (
        STORY[grown.start : grown.end]
        == "Its leader is Abu Mohammed al-Jolani. The army said it had pulled out of the city."
    )
    [everything] = stretches_to_reread([span_of("Jolani", STORY)], finder, room=1000, count_tokens=words)
    assert (everything.start, everything.end) == (0, len(STORY))


def test_overlapping_stretches_of_a_passage_are_joined_and_others_kept_apart():
    finder = SentenceFinder([STORY, OTHER])
    spans = [span_of("Hama", STORY), span_of("fourth largest", STORY), span_of("Aleppo", OTHER, 1)]
    stretches = stretches_to_reread(spans, finder, room=14, count_tokens=words)
    assert [s.passage for s in stretches] == [0, 1]
    assert STORY[stretches[0].start : stretches[0].end].startswith("Rebels captured Hama")
    assert "fourth largest" in STORY[stretches[0].start : stretches[0].end]


@pytest.fixture(scope="module")
def tiny(tiny_reader_dir):
    return ExtractiveReader.from_pretrained(tiny_reader_dir, max_length=64, stride=16)


def test_a_stretch_is_read_at_its_passage_offsets(tiny):
    start = STORY.index("Its leader")
    [output] = tiny.read_many(
        [("Who leads HTS?", [OTHER, STORY])], top_k=5, stretches=[[Stretch(1, start, len(STORY))]]
    )
    assert output.spans and all(s.passage_index == 1 and s.start >= start for s in output.spans)
    assert all(STORY[s.start : s.end] == s.text for s in output.spans)
    # a stretch of a whole passage reads as the passage does
    [whole] = tiny.read_many([("Who leads HTS?", [STORY])], top_k=5, stretches=[[Stretch(0, 0, len(STORY))]])
    assert whole.spans == tiny.read("Who leads HTS?", [STORY], top_k=5).spans


def test_the_cascade_reads_only_around_the_scouts_answers_and_each_group_apart(tiny):
    cascade = CascadeReader(tiny, tiny, reread=1)
    passages = [STORY, OTHER, STORY.replace("Thursday", "Friday")]
    [output] = cascade.read_many([("Who leads HTS?", passages)], top_k=5, groups=[[[0], [2]]])
    [scouted] = tiny.read_many([("Who leads HTS?", passages)], top_k=1, groups=[[[0], [2]]])
    read = {s.passage_index for s in output.spans}
    around = {scouted.spans[0].passage_index, *(a.spans[0].passage_index for a in scouted.apart)}
    assert read and read <= around
    assert len(output.apart) == 2 and all(a.spans for a in output.apart)
    assert output.windows <= len(around) * 2  # a stretch is one window, two where a sentence is longer than one
    assert cascade.count_tokens(STORY) == tiny.count_tokens(STORY)


@pytest.mark.slow
def test_the_shipped_reader_over_itself_as_a_cascade_answers_the_seed(tmp_path, embedder, shipped_app):
    from dataclasses import replace

    from articleqa.config import SEEDS_DIR
    from articleqa.qa.pipeline import ArticleQA

    settings = replace(shipped_app.settings, data_dir=tmp_path, scout="shipped", reread=2)
    app = ArticleQA.from_settings(settings, embedder=embedder)
    assert isinstance(app.reader, CascadeReader)
    app.add_files([SEEDS_DIR])
    for question in ("Who leads HTS?", "Which city did the rebels capture?"):
        cascaded, whole = app.ask(question), shipped_app.ask(question)
        # read around the scout's two best answers, the shipped reader finds the answer it finds reading all
        assert cascaded.answer == whole.answer and cascaded.sentence == whole.sentence

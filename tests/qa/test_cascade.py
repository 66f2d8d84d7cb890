"""The reading cascade (qa/cascade.py): the stretches a large reader re-reads, reading stretches at the whole
passage's offsets, both readings judged jointly, and the cascade end to end with a tiny reader and with the
shipped one on the seed."""

import math

import pytest

from articleqa.qa.cascade import CascadeReader, jointly, stretches_to_reread
from articleqa.qa.evidence import SentenceFinder
from articleqa.qa.reader import ExtractiveReader, ReaderOutput, Span, Stretch

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


def reading(answers: dict[str, float], passage: str = STORY, no_answer: float = 0.05) -> ReaderOutput:
    spans = tuple(span_of(text, passage) for text in answers)
    spans = tuple(
        Span(s.text, s.passage_index, s.start, s.end, p, math.log(p / no_answer))
        for s, p in zip(spans, answers.values(), strict=True)
    )
    return ReaderOutput(spans, math.log(no_answer), windows=2)


def test_judged_jointly_an_answer_both_readers_find_likely_wins_over_each_ones_best():
    scout = reading({"Hama": 0.5, "Jolani": 0.4, "Syria": 0.05})
    large = reading({"Abu Mohammed al-Jolani": 0.5, "Jolani": 0.45, "Thursday": 0.03})
    joint = jointly(scout, large, 0.5)
    assert joint.spans[0].text == "Jolani"
    # one distribution over the answers and "no answer"
    total = sum(s.probability for s in joint.spans) + math.exp(joint.no_answer_log_probability)
    assert total == pytest.approx(1.0)
    # an answer one reader did not list counts at the least probability that reader listed
    by_text = {s.text: s for s in joint.spans}
    assert by_text["Hama"].margin == pytest.approx(0.5 * math.log(0.5) + 0.5 * math.log(0.03) - math.log(0.05))
    assert joint.windows == large.windows


def test_judged_by_the_large_reader_alone_its_order_and_margins_stand():
    scout = reading({"Hama": 0.9})
    large = reading({"Jolani": 0.6, "Hama": 0.2, "Thursday": 0.1})
    joint = jointly(scout, large, 0.0)
    assert [s.text for s in joint.spans] == ["Jolani", "Hama", "Thursday"]
    assert [s.margin for s in joint.spans] == pytest.approx([s.margin for s in large.spans])


def test_an_answer_is_shown_where_the_large_reader_read_it():
    doubled = STORY + " " + STORY
    scout = ReaderOutput((Span("Hama", 0, doubled.index("Hama"), doubled.index("Hama") + 4, 0.6, 2.0),), -3.0, 1)
    second = doubled.index("Hama", doubled.index("Hama") + 1)
    large = ReaderOutput((Span("Hama", 0, second, second + 4, 0.7, 2.5),), -3.0, 1)
    [shown] = jointly(scout, large, 0.5).spans
    assert shown.start == second


def test_an_answer_is_shown_in_full_where_the_scout_read_more_of_it_than_the_comparison_keeps():
    story = "The United States placed a $10 million bounty on him."
    scout = ReaderOutput((span_of("$10 million", story),), -3.0, 1)
    large = ReaderOutput((span_of("10 million", story),), -3.0, 1)
    [shown] = jointly(scout, large, 0.5).spans
    assert shown.text == "$10 million" and story[shown.start : shown.end] == shown.text


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


def test_a_cascade_keeps_its_stretches_within_the_tokens_it_is_given(tiny):
    question = "Who leads HTS?"
    filling, capped = CascadeReader(tiny, tiny, reread=1), CascadeReader(tiny, tiny, reread=1, reread_tokens=12)
    assert capped._room(question) == 12 < filling._room(question)
    [output] = capped.read_many([(question, [STORY])], top_k=5)
    assert output.spans and output.windows == 1
    [best] = tiny.read(question, [STORY], top_k=1).spans
    [stretch] = stretches_to_reread([best], SentenceFinder([STORY]), room=12, count_tokens=tiny.count_tokens)
    assert stretch.end - stretch.start < len(STORY)
    assert all(stretch.start <= s.start and s.end <= stretch.end for s in output.spans)


def test_a_judging_cascade_weighs_both_readings_and_each_group_apart(tiny):
    passages = [STORY, OTHER, STORY.replace("Thursday", "Friday")]
    judging = CascadeReader(tiny, tiny, reread=1, scout_weight=0.5)
    [output] = judging.read_many([("Who leads HTS?", passages)], top_k=5, groups=[[[0], [2]]])
    assert output.spans and all(passages[s.passage_index][s.start : s.end] == s.text for s in output.spans)
    assert len(output.apart) == 2 and all(a.spans for a in output.apart)
    total = sum(s.probability for s in output.spans) + math.exp(output.no_answer_log_probability)
    assert total <= 1.0 + 1e-9


@pytest.mark.slow
def test_the_shipped_pair_judges_the_seed_jointly_reading_few_large_windows(tmp_path, embedder, shipped_app):
    from dataclasses import replace

    from articleqa.config import SEEDS_DIR
    from articleqa.qa.evaluation.squad_metric import score_one
    from articleqa.qa.pipeline import ArticleQA
    from articleqa.seed import seed_questions

    # the product's default: the small reader scouts for the large one, and both judge the answer
    assert isinstance(shipped_app.reader, CascadeReader) and shipped_app.reader.scout_weight == 0.5
    alone = ArticleQA.from_settings(replace(shipped_app.settings, data_dir=tmp_path, scout="none"), embedder=embedder)
    assert isinstance(alone.reader, ExtractiveReader)
    alone.add_files([SEEDS_DIR])
    asked = [q for q in seed_questions() if q.answers][:4]
    for item in asked:
        jointly_judged = shipped_app.ask(item.question)
        assert score_one(jointly_judged.answer or "", item.answers)[1] >= 0.5, item.question
        # the large reader re-reads one stretch where, alone, it reads every window of the article
        cascaded, whole = shipped_app.read(item.question), alone.read(item.question)
        assert cascaded.output.windows < whole.output.windows and whole.best is not None

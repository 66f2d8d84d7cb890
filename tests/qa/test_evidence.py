"""qa/evidence.py and the reader's ranking: the words of the question an answer's sentence repeats."""

import math

from articleqa.qa.evidence import SentenceFinder, content_words, sentence_evidence
from articleqa.qa.reader import ExtractiveReader
from articleqa.seed import SEED_ARTICLE

SEED = SEED_ARTICLE.read_text(encoding="utf-8")


def test_content_words_leave_out_stop_and_question_words():
    assert content_words("When was HTS formed?") == {"hts", "formed"}
    assert content_words("Who is the president of Syria?") == {"president", "syria"}


def test_the_sentence_that_says_what_was_asked_is_the_better_evidence():
    asked = content_words("When was HTS formed?")
    finder = SentenceFinder([SEED])
    formed = finder.sentence(0, SEED.index("2016"))
    designated = finder.sentence(0, SEED.index("2018"))
    assert "formed" in formed and "2018" in designated and formed != designated
    assert sentence_evidence(asked, "2016", formed) == 1.0
    assert sentence_evidence(asked, "2018", designated) == 0.5  # it names HTS, not its forming
    # the answer's own words are not evidence for it: "HTS" answering "Who leads HTS?" gets no credit for "HTS"
    assert sentence_evidence(content_words("Who leads HTS?"), "HTS", "HTS is a group.") == 0.0


def test_the_reader_ranks_its_candidates_by_probability_and_evidence(tiny_reader_dir):
    passages = ["The bridge was opened in 1932 by the mayor.", "The river flooded the town in 1954 and 1962."]
    question = "When was the bridge opened?"
    plain = ExtractiveReader.from_pretrained(tiny_reader_dir).read(question, passages, top_k=20)
    ranked = ExtractiveReader.from_pretrained(tiny_reader_dir, evidence_weight=3.0).read(question, passages, top_k=20)
    assert sorted(s.text for s in plain.spans) == sorted(s.text for s in ranked.spans)  # the same candidates
    assert ranked.no_answer_log_probability == plain.no_answer_log_probability
    scores = [math.log(s.probability) + 3.0 * s.evidence for s in ranked.spans]
    assert scores == sorted(scores, reverse=True)
    assert {s.evidence for s in ranked.spans if s.passage_index == 1} == {0.0}  # "flooded the town" says nothing asked
    assert all(
        s.evidence == 1.0
        for s in ranked.spans
        if s.passage_index == 0 and "bridge" not in s.text and "opened" not in s.text
    )
    # at weight 0 the order is by probability alone, but the evidence is still measured: a calibration
    # fitted with it as a feature must not see zeros when the weight is changed
    probabilities = [s.probability for s in plain.spans]
    assert probabilities == sorted(probabilities, reverse=True)
    measured = {s.text: s.evidence for s in ranked.spans}
    assert [s.evidence for s in plain.spans[: ExtractiveReader.RANKED_BY_EVIDENCE]] == [
        measured[s.text] for s in plain.spans[: ExtractiveReader.RANKED_BY_EVIDENCE]
    ]
    assert any(s.evidence > 0 for s in plain.spans)


def test_an_answer_that_runs_into_the_next_sentence_ranks_after_those_that_do_not(tiny_reader_dir):
    finder = SentenceFinder([SEED])
    start = SEED.index("week-long offensive")
    end = SEED.index("Aleppo last week") + len("Aleppo last week")  # on into "After capturing Aleppo last week"
    assert finder.crosses(0, start, end)
    assert not finder.crosses(0, SEED.index("Aleppo last week"), end)
    passages = ["The bridge was opened in 1932. The mayor cut the ribbon in June.", "It flooded in 1954."]
    reader = ExtractiveReader.from_pretrained(tiny_reader_dir, evidence_weight=3.0)
    spans = reader.read("When was the bridge opened?", passages, top_k=20).spans
    runs_on = [SentenceFinder(passages).crosses(s.passage_index, s.start, s.end) for s in spans]
    assert any(runs_on) and not all(runs_on)  # the tiny reader's candidates have both kinds
    assert runs_on == sorted(runs_on)  # every answer within one sentence first
    scores = [
        math.log(s.probability) + 3.0 * s.evidence for s, crossing in zip(spans, runs_on, strict=True) if not crossing
    ]
    assert scores == sorted(scores, reverse=True)


def test_the_store_s_sentences_are_used_where_given_and_a_passage_is_split_only_without_them():
    passage = "Gen. Smith spoke. Troops left at dawn."
    split = SentenceFinder([passage])
    # the stored split says where sentences end, even where splitting the text again would say otherwise
    stored = SentenceFinder([passage], [[(0, len(passage))]])
    at = passage.index("dawn")
    assert split.sentence(0, at) == "Troops left at dawn."
    assert stored.sentence(0, at) == passage
    assert split.crosses(0, 0, at) and not stored.crosses(0, 0, at)
    assert split.spans(0) == ((0, 17), (18, len(passage)))


def test_covering_gives_the_first_and_last_sentence_of_a_range():
    passage = "One two. Three four. Five six."
    finder = SentenceFinder([passage])
    assert finder.covering(0, 0, 3) == (0, 0)
    assert finder.covering(0, passage.index("Three"), passage.index("Five") + 4) == (1, 2)
    assert finder.covering(0, passage.index(" Three"), passage.index("four") + 4) == (1, 1)  # the gap: the next one
    assert finder.covering(0, len(passage) - 3, len(passage) + 5) == (2, 2)  # past the end: the last
    assert finder.sentence(0, passage.index(" Three")) == passage  # the gap between sentences holds none

"""qa/reader.py: spans under one softmax over every window, in bf16 and fp32."""

import itertools
import math

from articleqa.qa.evidence import SentenceFinder
from articleqa.qa.reader import ExtractiveReader
from articleqa.qa.text import abbreviation_long_forms, restates_long_form


def test_reader_spans_are_slices_of_their_passage(tiny_reader_dir):
    reader = ExtractiveReader.from_pretrained(tiny_reader_dir, max_length=64, stride=16)
    passages = ["Short passage about a bridge.", " ".join(f"Sentence number {i} is here." for i in range(60))]
    spans = reader.read("Which sentence is here?", passages, top_k=5).spans
    assert 1 <= len(spans) <= 5
    assert list(spans) == sorted(spans, key=lambda s: -s.probability)
    for span in spans:
        assert passages[span.passage_index][span.start : span.end] == span.text
        assert 0.0 <= span.probability <= 1.0
    # A huge question is cut to max_question_tokens instead of failing.
    assert reader.read("why " * 20_000, passages[:1], top_k=1).spans


def test_a_long_passage_is_read_in_windows_that_overlap_by_the_stride_and_cover_all_of_it(tiny_reader_dir):
    # tokenizers 0.23.1-0.23.2 dropped overflowing windows (huggingface/tokenizers#2091): a passage's end
    # went unread, and no other test noticed
    reader = ExtractiveReader.from_pretrained(tiny_reader_dir, max_length=64, stride=16)
    passage = " ".join(f"Sentence number {i} tells of the bridge over river {i}." for i in range(40))
    windows = reader._encode("Which river has a bridge?", [passage])
    context = [[tuple(w.offsets[t]) for t in range(len(w.ids)) if w.context[t]] for w in windows]
    everything = reader._counter.encode(passage, add_special_tokens=False).offsets
    assert len(windows) > 5 and all(len(w.ids) <= 64 for w in windows)
    assert context[0][0] == tuple(everything[0]) and context[-1][-1] == tuple(everything[-1])
    for before, after in itertools.pairwise(context):
        assert before[-16:] == after[:16]  # the next window starts `stride` tokens before this one ended
    assert sorted(set().union(*map(set, context))) == [tuple(o) for o in everything]


def test_scores_share_one_softmax_across_windows_and_passages(tiny_reader_dir):

    reader = ExtractiveReader.from_pretrained(tiny_reader_dir, max_length=64, stride=16)
    passages = ["The bridge was opened in 1932.", " ".join(f"Sentence number {i} is here." for i in range(40))]
    output = reader.read("When was the bridge opened?", passages, top_k=10_000)
    assert output.windows > 2  # the long passage took several windows
    # every start/end pair plus "no answer" under one normalisation: the masses sum to at most 1
    total = sum(s.probability for s in output.spans) + math.exp(output.no_answer_log_probability)
    assert total <= 1.0 + 1e-4
    for span in output.spans:
        assert math.isclose(span.margin, math.log(span.probability) - output.no_answer_log_probability, abs_tol=1e-4)


def test_reader_answers_the_same_in_bf16_and_fp32(tiny_reader_dir):
    passages = ["The bridge over the river was opened in 1932 by the mayor."]
    spans = {
        p: ExtractiveReader.from_pretrained(tiny_reader_dir, precision=p).read("When?", passages, top_k=3).spans
        for p in ("fp32", "bf16")
    }
    assert spans["fp32"] and spans["bf16"]
    assert abs(spans["fp32"][0].probability - spans["bf16"][0].probability) < 0.05


def test_spans_restating_the_question_abbreviation_are_not_candidates(tiny_reader_dir):
    reader = ExtractiveReader.from_pretrained(tiny_reader_dir)
    passage = "The rebels, led by Hayat Tahrir al-Sham, took the city. The group was formed by Jolani in 2016."
    plain = reader.read("Who leads the group?", [passage], top_k=10_000)
    asked = reader.read("Who leads HTS?", [passage], top_k=10_000)
    long_forms = abbreviation_long_forms("Who leads HTS?", passage)
    assert any(span.text == "Hayat Tahrir al-Sham" for span in plain.spans)
    assert asked.spans and not any(restates_long_form(span.text, long_forms) for span in asked.spans)
    # what is left is renormalised: the distribution given that the answer is not the restated name
    total = sum(s.probability for s in asked.spans) + math.exp(asked.no_answer_log_probability)
    assert total <= 1.0 + 1e-4
    for span in asked.spans:
        assert math.isclose(span.margin, math.log(span.probability) - asked.no_answer_log_probability, abs_tol=1e-4)


def test_restatements_leave_the_reader_its_distribution_over_other_starts_and_ends(tiny_reader_dir):
    """The reader scores starts and ends apart; without the starts and ends of the restated name, the rest
    of each distribution is renormalised, and the margins over "no answer" stay as they were."""
    import numpy as np

    reader = ExtractiveReader.from_pretrained(tiny_reader_dir)
    passage = "The rebels, led by the Free Syrian Army, took the city. The group was formed in 2016 by Jolani."
    question = "Who leads the FSA?"
    assert abbreviation_long_forms(question, passage)
    [window] = reader._encode(question, [passage])
    tokens = {passage[a:b]: k for k in np.flatnonzero(window.context) for a, b in [window.offsets[k]]}
    name = [tokens[word] for word in ("Free", "Syrian", "Army")]
    start, end = np.zeros(len(window.ids), np.float32), np.zeros(len(window.ids), np.float32)
    start[name], end[name] = [6.0, 2.0, 2.0], [2.0, 2.0, 6.0]
    start[tokens["2016"]], end[tokens["2016"]] = 3.0, 3.0  # one token: no sub-word spans add to it
    output = reader._score(question, [window], SentenceFinder([passage]), [(start, end)], top_k=5)
    year = next(span for span in output.spans if span.text == "2016")

    def p(logits: np.ndarray, k: int, without: list[int]) -> float:  # softmax over the passage and "no answer"
        kept = [i for i in np.flatnonzero(window.context) if i not in without] + [0]
        return math.exp(logits[k]) / sum(math.exp(logits[i]) for i in kept)

    assert math.isclose(year.probability, p(start, tokens["2016"], name) * p(end, tokens["2016"], name), rel_tol=1e-4)
    unmasked = p(start, tokens["2016"], []) * p(end, tokens["2016"], [])
    assert year.probability > 10 * unmasked
    assert math.isclose(year.margin, math.log(unmasked / (p(start, 0, []) * p(end, 0, []))), abs_tol=1e-4)
    assert not any(restates_long_form(span.text, abbreviation_long_forms(question, passage)) for span in output.spans)


def test_a_span_the_reader_stops_inside_a_word_is_given_as_the_whole_word(tiny_reader_dir):
    """The tokenizer splits "Jolani" into "jo" "##lani": a span that starts and ends on "jo" is the answer
    "Jolani", never "Jo", and every token span that stands for it adds to its probability."""
    import numpy as np

    reader = ExtractiveReader.from_pretrained(tiny_reader_dir)
    passage = "The group was formed by Jolani in 2016."
    [window] = reader._encode("Who formed the group?", [passage])
    tokens = {passage[a:b]: k for k in np.flatnonzero(window.context) for a, b in [window.offsets[k]]}
    start, end = np.zeros(len(window.ids), np.float32), np.zeros(len(window.ids), np.float32)
    start[tokens["Jo"]], end[tokens["Jo"]] = 8.0, 8.0
    output = reader._score("Who formed the group?", [window], SentenceFinder([passage]), [(start, end)], top_k=5)
    best = output.spans[0]
    assert (best.text, passage[best.start : best.end]) == ("Jolani", "Jolani")
    assert not any(span.text in ("Jo", "lani") for span in output.spans)
    kept = np.flatnonzero(window.context).tolist() + [0]
    p_jo_jo = math.exp(8.0) ** 2 / sum(math.exp(start[i]) for i in kept) / sum(math.exp(end[i]) for i in kept)
    assert best.probability > p_jo_jo  # "Jo" to "Jo" and "Jo" to "lani" both stand for "Jolani"

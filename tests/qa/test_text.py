"""qa/text.py: the long forms of a question's abbreviations, answers that only restate them, and one answer
holding another."""

from articleqa.qa.text import (
    abbreviation_long_forms,
    brackets_balance,
    holds_answer,
    long_form_occurrences,
    name_end,
    restates_long_form,
    same_answer,
    whole_words,
)
from articleqa.seed import SEED_ARTICLE

SEED = SEED_ARTICLE.read_text(encoding="utf-8")


def test_long_forms_of_the_question_abbreviations_are_found_in_the_article():
    assert abbreviation_long_forms("Who leads HTS?", SEED) == {("hayat", "tahrir", "al", "sham"): "hts"}
    # no abbreviation in the question, or one the text never spells out: nothing to set aside
    assert abbreviation_long_forms("Who leads the rebels?", SEED) == {}
    assert abbreviation_long_forms("What did the UN say?", SEED) == {}
    assert abbreviation_long_forms("Who designated HTS an FTO?", SEED) == {
        ("hayat", "tahrir", "al", "sham"): "hts",
        ("foreign", "terrorist", "organization"): "fto",
    }


def test_an_abbreviation_typed_in_lower_case_is_the_one_the_text_writes():
    expected = {("hayat", "tahrir", "al", "sham"): "hts"}
    assert abbreviation_long_forms("who leads hts?", SEED) == expected
    assert abbreviation_long_forms("hts leader?", SEED) == expected
    # common words are not abbreviations, even where the text has them in capitals
    text = "The World Health Organization (WHO) told US officials that Islamic Tribunals (IT) met."
    assert abbreviation_long_forms("who told us about it?", text) == {}
    assert abbreviation_long_forms("what did the who say?", text) == {}
    assert abbreviation_long_forms("what did the WHO say?", text) == {("world", "health", "organization"): "who"}
    # nor is a king's numeral: Isabella I is an answer to "Who was Ferdinand II's second spouse?"
    text = "Ferdinand II married Isabella I of Castile."
    assert abbreviation_long_forms("Who was Ferdinand II's second spouse?", text) == {}
    assert abbreviation_long_forms("who was ferdinand ii's second spouse?", text) == {}


def test_questions_asking_for_the_long_form_keep_it():
    for question in (
        "What does HTS stand for?",
        "What is HTS short for?",
        "What does the acronym HTS mean?",
        "what is the full form of hts",
        "What is the expansion of HTS?",
    ):
        assert abbreviation_long_forms(question, SEED) == {}


def test_restatements_are_the_long_form_a_piece_of_it_or_a_phrase_holding_it():
    forms = abbreviation_long_forms("Who leads HTS?", SEED)
    for answer in (
        "Hayat Tahrir al-Sham",
        "Tahrir al-Sham",
        "Hayat Tahrir al-Sham (HTS)",
        "the Islamist group Hayat Tahrir al-Sham",
    ):
        assert restates_long_form(answer, forms), answer
    for answer in ("Jolani", "Islamist group", "al Qaeda’s Syrian affiliate al-Nusra Front"):
        assert not restates_long_form(answer, forms), answer


def test_names_joined_by_links_and_ampersands_spell_their_abbreviation():
    text = "The Federal Communications Commission fined American Telephone & Telegraph on Monday."
    assert ("federal", "communications", "commission") in abbreviation_long_forms("Whom did the FCC fine?", text)
    assert abbreviation_long_forms("Who did AT&T pay?", text) == {("american", "telephone", "telegraph"): "att"}


def test_restatements_use_the_abbreviation_as_it_was_spelt():
    # a capitalised link counts towards the initials ("Of" in BOA), and "&" inside an abbreviation is not a letter
    text = "Bank Of America settled with American Telephone & Telegraph (AT&T) in May."
    boa = abbreviation_long_forms("Whom did BOA sue?", text)
    assert boa == {("bank", "of", "america"): "boa"}
    for answer in ("Bank Of America (BOA)", "BOA", "America (BOA)"):
        assert restates_long_form(answer, boa), answer
    att = abbreviation_long_forms("Whom did AT&T pay?", text)
    for answer in ("American Telephone & Telegraph (AT&T)", "AT&T", "Telegraph (AT&T)"):
        assert restates_long_form(answer, att), answer
    assert not restates_long_form("Bank Of America", att)


def test_a_span_that_stops_inside_a_name_is_carried_to_its_end():
    def completed(text: str, answer: str) -> str:
        start = text.index(answer)
        return text[start : name_end(text, start, start + len(answer))]

    assert completed(SEED, "al Qaeda’s Syrian affiliate al-Nusra") == "al Qaeda’s Syrian affiliate al-Nusra Front"
    assert completed(SEED, "al-Nusra") == "al-Nusra Front"
    text = "Time Warner Cable Inc Ltd bought it. Hama. Homs is next. He met Jolani after the B.C. In truth"
    assert completed(text, "Time Warner") == "Time Warner Cable Inc"  # two words at most
    assert completed("They met at the Élysée Palace.", "Élysée") == "Élysée Palace"
    for answer in ("Hama", "Homs", "Jolani", "B.C.", "Jol"):  # a stop, a lower-case word, a piece of a word
        assert completed(text, answer) == answer
    assert completed(SEED, "al Qaeda’s") == "al Qaeda’s"  # possessive: the name ended
    # a family name after a short particle and a hyphen; a possessive ends the name before its "’s"
    assert completed(SEED, "President Hafez") == "President Hafez al-Assad"
    assert completed(SEED, "Bashar") == "Bashar al-Assad"
    assert completed("Sisi met Time Warner’s chief.", "Time") == "Time Warner"
    adjectives = "the Syrian al-Qaeda-linked group and the Idlib al-mukhabarat"  # not family names
    assert completed(adjectives, "Syrian") == "Syrian" and completed(adjectives, "Idlib") == "Idlib"


def test_a_span_that_starts_or_stops_inside_a_word_takes_the_whole_word():
    def widened(text: str, piece: str) -> str:
        start = text.index(piece)
        begin, end = whole_words(text, start, start + len(piece))
        return text[begin:end]

    text = "The epicentre was near the town of Dosht, where 9,500 people live; al-Nusra's men left at 4.25%."
    assert widened(text, "Dos") == "Dosht"  # "dos" "##ht": the span stopped after the first piece
    assert widened(text, "sht") == "Dosht"
    assert widened(text, "town of Dos") == "town of Dosht"
    # whole words and the pieces of numbers, hyphenated names and possessives stay as they are
    for piece in ("Dosht", "9", "500", "al", "Nusra", "4", "25", "town of"):
        assert widened(text, piece) == piece
    unspaced = "北京市" * 20  # text written without spaces: tokens are the unit
    assert widened(unspaced, "京") == "京"


def test_the_long_forms_are_found_where_they_stand_with_their_bracketed_abbreviation():
    forms = abbreviation_long_forms("Who leads HTS?", SEED)
    assert [SEED[a:b] for a, b in long_form_occurrences(SEED, forms)] == ["Hayat Tahrir al-Sham (HTS)"]
    text = "The Free Syrian Army (FSA) and the Free-Syrian Army, FSA. “Free Syrian Army.” A Syrian army"
    forms = abbreviation_long_forms("Who leads the FSA?", text)
    found = [text[a:b] for a, b in long_form_occurrences(text, forms)]
    assert found == ["Free Syrian Army (FSA)", "Free-Syrian Army, FSA", "Free Syrian Army"]


def test_an_answer_that_leaves_a_bracket_open_or_closes_one_it_did_not_open_is_a_piece():
    for whole in ("Hayat Tahrir al-Sham (HTS)", "Jolani", "one (or more) [sic]", ""):
        assert brackets_balance(whole), whole
    for piece in ("Hayat Tahrir al-Sham (HTS", "HTS)", "a) and (b", "[1"):
        assert not brackets_balance(piece), piece


def test_an_answer_holds_another_word_for_word():
    assert holds_answer("the town of Dosht", "Dosht") and same_answer("Dosht", "the town of Dosht")
    assert holds_answer("9,500 hectares", "9,500")
    # normalising drops the point and the sign: compared as characters, "425" would hold "4"
    assert not same_answer("4.25%", "4%") and not same_answer("110-101", "1-0")
    assert not holds_answer("anything", "") and not holds_answer("", "x")

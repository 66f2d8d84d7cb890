"""Answer text: the official SQuAD normalisation (shared by the runtime and the evaluation), and answers that
only restate what the question names."""

from __future__ import annotations

import re
import string

from bm25s.stopwords import STOPWORDS_EN_PLUS

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, strip punctuation and English articles, collapse white space (evaluate-v1.1.py)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def holds_answer(text: str, answer: str) -> bool:
    """Whether `text` holds `answer` word for word after normalisation ("the town of Dosht" holds "Dosht";
    "4.25%" does not hold "4%", which a comparison of characters would say, the point and sign dropped)."""
    words, part = normalize_answer(text).split(), normalize_answer(answer).split()
    return bool(part) and any(words[i : i + len(part)] == part for i in range(len(words) - len(part) + 1))


def same_answer(a: str, b: str) -> bool:
    """Whether one answer holds the other (holds_answer): "the town of Dosht" and "Dosht" are one answer."""
    return holds_answer(a, b) or holds_answer(b, a)


_ABBREVIATION = re.compile(r"\b[A-Z][A-Z&]+\b")  # HTS, FCC, AT&T
# questions that ask what an abbreviation is short for: there the long form is the answer
_ASKS_LONG_FORM = re.compile(
    r"\b(stands?|short|abbreviat\w*|acronym|means?|meaning|full (name|form)|expan\w*)\b", re.IGNORECASE
)
_ROMAN_NUMERAL = re.compile(r"X{0,3}(IX|IV|V?I{0,3})")  # "Ferdinand II" is no abbreviation of "Isabella I"
_QUESTION_WORD = re.compile(r"\b[^\W\d_]{2,}\b")
STOPWORDS = frozenset(STOPWORDS_EN_PLUS)  # English stop words and question words (BM25's list)
_COMMON_WORDS = STOPWORDS | {"us"}  # "tell us", not the US
_NAME_LINKS = {"al", "el", "de", "del", "la", "le", "of", "the", "and", "for", "von", "van", "du", "&"}


_WORD = re.compile(r"[^\s\-–—]+")
_WORD_EDGES = string.punctuation + "’‘“”"


def _name_word_spans(text: str) -> list[tuple[str, int, int]]:
    """Words (split at spaces and dashes, edge punctuation stripped) with their character span in `text`."""
    spans = []
    for match in _WORD.finditer(text):
        raw = match.group()
        word = raw.strip(_WORD_EDGES)
        if word:
            start = match.start() + len(raw) - len(raw.lstrip(_WORD_EDGES))
            spans.append((word, start, start + len(word)))
    return spans


def _name_words(text: str) -> list[str]:
    return [word for word, _, _ in _name_word_spans(text)]


def brackets_balance(text: str) -> bool:
    """Whether every bracket the text opens it closes, and it closes none it did not open."""
    depth = {"(": 0, "[": 0}
    for ch in text:
        if ch in "([":
            depth[ch] += 1
        elif ch in ")]":
            opening = "(" if ch == ")" else "["
            if depth[opening] == 0:
                return False
            depth[opening] -= 1
    return not any(depth.values())


def _question_abbreviations(question: str, text: str) -> set[str]:
    """The abbreviations a question uses, as the text writes them: its words in capitals, and words typed in
    lower case that the text writes as an abbreviation ("who leads hts?": HTS). Common words are left out,
    so "who" is not the WHO and "us" not the US, and so are Roman numerals ("Ferdinand II")."""
    written = {a.replace("&", "") for a in _ABBREVIATION.findall(question)}
    in_text = {a.replace("&", "") for a in _ABBREVIATION.findall(text)}
    typed = {w.upper() for w in _QUESTION_WORD.findall(question) if w.lower() not in _COMMON_WORDS}
    return {a for a in written | (typed & in_text) if not _ROMAN_NUMERAL.fullmatch(a)}


def abbreviation_long_forms(question: str, text: str) -> dict[tuple[str, ...], str]:
    """The long forms, in `text`, of the abbreviations the question uses ("HTS" -> "Hayat Tahrir al-Sham"):
    runs of capitalised words (and name links such as "al", "of") whose initials spell one, lower-cased,
    each with the abbreviation it spells (lower-cased, without "&"). Empty when the question asks what an
    abbreviation stands for, since there the long form is the answer."""
    abbreviations = _question_abbreviations(question, text)
    if not abbreviations or _ASKS_LONG_FORM.search(question):
        return {}
    words = _name_words(text)
    found: dict[tuple[str, ...], str] = {}
    for first, word in enumerate(words):
        if not word[0].isupper():
            continue
        initials = ""
        for last in range(first, len(words)):
            if words[last][0].isupper():
                initials += words[last][0]
                if initials in abbreviations:
                    found[tuple(w.lower() for w in words[first : last + 1])] = initials.lower()
            elif words[last].lower() not in _NAME_LINKS:
                break
    return found


def _keys(words) -> tuple[str, ...]:
    """Words as long forms and abbreviations are compared: lower-cased, "&" dropped ("AT&T" -> "att")."""
    return tuple(word.lower().replace("&", "") for word in words)


def _form_starts(keys: tuple[str, ...], form: tuple[str, ...]) -> list[int]:
    """Where the long form's words stand, in order, among `keys`."""
    return [first for first in range(len(keys) - len(form) + 1) if keys[first : first + len(form)] == form]


def long_form_occurrences(text: str, long_forms: dict[tuple[str, ...], str]) -> list[tuple[int, int]]:
    """Character spans of the long forms in `text`, each with its abbreviation when it follows in brackets:
    "Hayat Tahrir al-Sham (HTS)"."""
    words = _name_word_spans(text)
    keys = _keys(word for word, _, _ in words)
    found = []
    for form, abbreviation in long_forms.items():
        for first in _form_starts(keys, form):
            last = first + len(form) - 1
            end = words[last][2]
            if last + 1 < len(words) and keys[last + 1] == abbreviation:
                end = words[last + 1][2]
                end += text[end : end + 1] in (")", "]")
            found.append((words[first][1], end))
    return found


def restates_long_form(answer: str, long_forms: dict[tuple[str, ...], str]) -> bool:
    """True when the answer is, holds or is a piece of one of the long forms (or their abbreviation): it
    names what the question asks about instead of answering it ("Who leads HTS?" -> "Hayat Tahrir al-Sham",
    "Tahrir al-Sham", "Hayat Tahrir al-Sham (HTS)")."""
    keys = _keys(_name_words(answer))
    return any(
        set(keys) <= {*form, abbreviation} or _form_starts(keys, form) for form, abbreviation in long_forms.items()
    )


# A span that ends on a capitalised word followed by more of them (up to two, same line, nothing between)
# ends inside a name: "al-Nusra" of "al-Nusra Front", "Time Warner" of "Time Warner Cable", "Hafez" of
# "Hafez al-Assad" (a family name after a short lower-case particle and a hyphen counts as capitalised).
_LAST_WORD = re.compile(r"\w+\Z")  # of a hyphenated name, its last part: 'Nusra' of 'al-Nusra'
_NEXT_WORD = re.compile(r"[ \u00a0][^\W\d_][\w’'-]*")  # one space, then a word that starts with a letter
_PARTICLE = re.compile(r"[a-z]{1,3}-")  # al-Assad, el-Sisi, ad-Din
_POSSESSIVE = re.compile(r"[’']s?\Z")


def _continues_name(word: str) -> bool:
    # a hyphenated family name, not an adjective: "al-Assad", but not "al-Qaeda-linked"
    particle = _PARTICLE.match(word)
    family = word[particle.end() :] if particle else ""
    return word[0].isupper() or (family[:1].isupper() and "-" not in family)


# a word longer than this is text written without spaces (Chinese, Japanese, Thai), where a token's characters
# are the reader's unit and a span is kept as it is
_LONGEST_WORD = 40


def whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """text[start:end] widened to the words it starts or ends inside: a reader's span follows its sub-word
    tokens, and "Dosht" read as "dos" "##ht" can come back as "Dos"."""

    def word_at(i: int) -> tuple[int, int]:  # the run of letters and digits around text[i]
        begin, finish = i, i + 1
        while begin > 0 and text[begin - 1].isalnum():
            begin -= 1
        while finish < len(text) and text[finish].isalnum():
            finish += 1
        return begin, finish

    if 0 < start < len(text) and text[start - 1].isalnum() and text[start].isalnum():
        begin, finish = word_at(start)
        start = begin if finish - begin <= _LONGEST_WORD else start
    if 0 < end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        begin, finish = word_at(end)
        end = finish if finish - begin <= _LONGEST_WORD else end
    return start, end


def name_end(text: str, start: int, end: int) -> int:
    """The end of text[start:end] moved past the rest of a name it stops inside (else `end` itself)."""
    last = _LAST_WORD.search(text, start, end)
    if last is None or not last.group()[0].isupper() or (end < len(text) and text[end].isalnum()):
        return end
    for _ in range(2):
        word = _NEXT_WORD.match(text, end)
        if word is None or not _continues_name(word.group()[1:]):
            break
        possessive = _POSSESSIVE.search(word.group())
        if possessive:  # "Bashar" of "Bashar al-Assad’s grip": the name ends before the "’s"
            return word.start() + possessive.start()
        end = word.end()
    return end

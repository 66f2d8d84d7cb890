import pytest

from articleqa.index.documents import InvalidArticle, load_article, parse_article
from articleqa.index.sentences import split_sentences


def test_plain_text_title_is_first_line():
    article = parse_article("My title\n\nFirst sentence. Second one.\n", "a.txt")
    assert article.title == "My title"
    assert article.text == "First sentence. Second one."


def test_markdown_markup_is_stripped():
    article = parse_article("# Big news\n\nThe **mayor** met [reporters](http://x.test) on *Monday*.", "a.md")
    assert article.title == "Big news"
    assert article.text == "The mayor met reporters on Monday."


def test_html_title_tag_scripts_dropped_and_entities_decoded():
    article = parse_article(
        "<html><head><title>Rates &amp; markets</title><script>alert(1)</script></head>"
        "<body><p>The bank <b>raised</b> rates.</p><style>p{}</style><p>Markets fell.",
        "page.html",
    )
    assert article.title == "Rates & markets"
    assert "alert" not in article.text and "p{}" not in article.text
    assert "The bank raised rates." in article.text and "Markets fell." in article.text
    headline = parse_article(
        "<html><head><title>Rates | Daily</title></head><body><h1>Bank raises rates</h1>"
        "<p>The bank <b>raised</b> rates on Monday.</p></body></html>",
        "page.html",
    )
    assert headline.title == "Bank raises rates"  # a page's one <h1> is its headline


def test_broken_html_keeps_what_parsed():
    article = parse_article("<p>Title here<p>Unclosed <b>bold <i>text <div>tail", "x.html")
    assert article.title == "Title here"
    assert "Unclosed bold text" in article.text and "tail" in article.text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (b"   \n\n  ", "empty"),
        (b"Only a title", "no text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"Title\n\ncaf\xe9 au lait", "UTF-8"),
    ],
)
def test_bad_articles_get_clear_messages(raw, message):
    with pytest.raises(InvalidArticle, match=message):
        parse_article(raw, "a.txt")


def test_size_limit(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"Title\n\n" + b"word " * 300_000)
    with pytest.raises(InvalidArticle, match="limit"):
        load_article(big, max_bytes=1_000_000)


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(InvalidArticle, match="unsupported"):
        load_article(path)


def test_fingerprint_ignores_white_space_only():
    a = parse_article("T\n\nOne  two.\nThree.")
    b = parse_article("T\n\nOne two. Three.")
    c = parse_article("T\n\nOne two. Four.")
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_sentence_offsets_point_into_the_text():
    text = "Dr. Smith arrived at 5 p.m. on Monday. He left!\n\nA new paragraph — with ünïcode. Done?"
    spans = split_sentences(text)
    assert [s.text for s in spans] == [
        "Dr. Smith arrived at 5 p.m. on Monday.",
        "He left!",
        "A new paragraph — with ünïcode.",
        "Done?",
    ]
    for span in spans:
        assert text[span.start : span.end] == span.text

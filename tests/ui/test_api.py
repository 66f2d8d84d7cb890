"""ui/api.py without Gradio: the endpoints' answers, and every problem returned as a message."""

from articleqa.ui.api import FAILURE, ArticleAPI, scope_of, turns_of
from tests.conftest import SEED, SEED_TITLE


def test_ask_chat_and_the_library(answering_app):
    api = ArticleAPI(answering_app)
    added = api.add_article(SEED.read_text(encoding="utf-8"), "seed.txt")
    assert added["added"] == [SEED_TITLE] and not added["errors"]
    assert api.add_article(SEED.read_text(encoding="utf-8"), "seed.txt")["duplicates"] == [SEED_TITLE]
    answer = api.ask("Who leads HTS?")
    assert answer["answer"] and answer["article"] == SEED_TITLE
    reply, turn = api.chat("Who leads HTS?")
    assert reply and turn == {"question": "Who leads HTS?", "answer": answer["answer"], "article": SEED_TITLE}
    listed = api.articles()
    assert [a["title"] for a in listed] == [SEED_TITLE]
    whole = api.article(listed[0]["id"], answer["sentence"])
    assert whole["title"] == SEED_TITLE and answer["sentence"] in whole["text"]
    assert api.remove_article(SEED_TITLE) == {"removed": [SEED_TITLE]} and api.articles() == []


def test_problems_come_back_as_messages(answering_app, tmp_path):
    api = ArticleAPI(answering_app)
    assert "Please type a question" in api.ask("   ")["error"]
    assert api.chat("") == (api.reply("", None)[0], {})
    assert api.article("not a number") == {"error": "No article with id 'not a number'."}
    assert api.add_article(b"\x00\x01binary", "x.txt")["errors"]
    assert api.feedback({"score": "high"}, "up")["stored"] is False
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (answering_app.settings.max_article_bytes + 1))
    assert "MB limit" in api.add_upload(str(big))["errors"][0]

    def broken(question, history, scope):
        raise RuntimeError("the model fell over")

    assert ArticleAPI(answering_app, broken).ask("Who leads HTS?") == {"question": "", "error": FAILURE}


def test_history_and_date_range():
    history = [{"question": f"q{i}", "answer": "a", "article": "t"} for i in range(7)] + ["junk", {"answer": "x"}]
    assert [t.question for t in turns_of(history)] == ["q2", "q3", "q4", "q5", "q6"]
    assert scope_of(" ", None) is None
    scope = scope_of("2025-03-01", "")
    assert scope is not None and scope.since == "2025-03-01"

"""articleqa's side of the benchmark: build the index from the task's articles, then answer."""

import time

START = time.time()

from benchmarks.common import run_side  # noqa: E402


def build(task):
    import tempfile
    from dataclasses import replace

    from articleqa.config import Settings
    from articleqa.index.documents import Article
    from articleqa.qa.pipeline import ArticleQA

    settings = replace(Settings.from_env(data_dir=tempfile.mkdtemp()), **task.get("ours", {}))
    # Haystack's reader runs with no_answer=False: compare like with like
    app = ArticleQA.from_settings(settings, in_memory=True, always_answering=bool(task.get("always_answer")))
    app.indexer.add_articles([Article(t, b) for t, b in task["articles"]], progress=False)
    return app, len(app.store)


def make_answer(app, task):
    def answer(question: str) -> str:
        return app.ask(question).answer or ""

    return answer


def settle(app):
    # as `articleqa serve`: torch takes over from ONNX Runtime where it is faster (bf16 on native-bf16 CPUs)
    app.ready_for_serving()


if __name__ == "__main__":
    run_side(build, make_answer, START, settle)

"""A real `articleqa serve` under load while another process runs `articleqa index` on the same data dir (the
database store, docs/store.md): every question is answered without an error, and the articles indexed
meanwhile are answered from without a restart. Loopback only, a bounded number of questions."""

import os
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from benchmarks.common import free_port
from benchmarks.load import RestCaller
from tests.conftest import ROOT

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
CALLERS = 3
MOST_EACH = 200  # bounds the load: a caller asks until the index run is over (then 3 more), at most this many
NEW = 6


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "articleqa.cli", *args]


def report(n: int) -> str:
    return (
        f"Harbour report {n}\n\nThe harbour office published report {n} on the quay works. "
        f"Inspector keyword{n}x counted {n + 3} cranes at berth {n}. The works end in spring."
    )


@pytest.mark.slow
def test_a_server_under_load_answers_from_articles_another_process_indexes(tmp_path, tiny_reader_dir):
    common = ["--data-dir", str(tmp_path / "data"), "--reader", str(tiny_reader_dir)]
    first, news = tmp_path / "first", tmp_path / "news"
    first.mkdir()
    news.mkdir()
    (first / "ferry.txt").write_text("Ferry strike ends\n\nThe ferry strike ended on Friday after talks.")
    for n in range(NEW):
        (news / f"report-{n}.txt").write_text(report(n))
    assert (
        subprocess.run(
            cli("index", str(first), *common), cwd=ROOT, env=ENV, capture_output=True, timeout=300
        ).returncode
        == 0
    )
    port = free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 (closed with the server, below)
    server = subprocess.Popen(
        cli("serve", "--port", str(port), *common), cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.5)

        errors: list[str] = []
        answered = [0]
        indexed = threading.Event()
        lock = threading.Lock()

        def caller(index: int) -> None:
            connection = RestCaller(url)
            after = 0
            for n in range(MOST_EACH):
                question = (
                    "When did the ferry strike end?",
                    f"How many cranes did keyword{(index + n) % NEW}x count?",
                    "What did the harbour office publish?",
                )[n % 3]
                try:
                    result = connection.predict(question, None, "", "", api_name="/ask")
                    ok = isinstance(result, dict) and "error" not in result
                except Exception as error:  # counted: the figure is the number of errors
                    ok, result = False, repr(error)
                with lock:
                    answered[0] += 1
                    if not ok:
                        errors.append(str(result)[:300])
                after += indexed.is_set()
                if after >= 3:
                    return

        threads = [threading.Thread(target=caller, args=(i,)) for i in range(CALLERS)]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        done = subprocess.run(
            cli("index", str(news), *common), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300
        )
        index_s = time.monotonic() - started
        indexed.set()
        for thread in threads:
            thread.join(timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.count("added: Harbour report") == NEW

        checker = RestCaller(url)
        sources = [
            checker.predict(f"How many cranes did keyword{n}x count?", None, "", "", api_name="/ask").get("article")
            for n in range(NEW)
        ]
        print(
            f"served {answered[0]} questions while `index` added {NEW} articles in {index_s:.1f} s; "
            f"{len(errors)} errors; answered from the new articles: {sources}"
        )
        assert errors == []
        assert answered[0] >= CALLERS * 3
        # the tiny reader is random: which of the retrieved reports it answers from is chance, but it is one
        # of the articles indexed by the other process, and the server lists them all
        assert set(sources) <= {f"Harbour report {n}" for n in range(NEW)}
        listed = {a["title"] for a in checker.predict(api_name="/articles")}
        assert listed == {"Ferry strike ends", *(f"Harbour report {n}" for n in range(NEW))}
    finally:
        server.kill()
        server.wait(timeout=30)
        log.close()
        print((tmp_path / "server.log").read_text()[-3000:])

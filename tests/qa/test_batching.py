"""Batched answering: the same answers as one at a time, and a clear "busy" answer when the queue is full.

No timings are asserted here (performance figures live in benchmarks/load.py); events synchronise the
threads so that every outcome is determined."""

import threading
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import replace

import pytest

from articleqa.qa.batching import BUSY, BatchedQA, MicroBatcher, ServerBusy
from articleqa.qa.pipeline import InvalidQuestion, Turn
from articleqa.seed import seed_conversation, seed_questions
from benchmarks.common import free_port
from tests.conftest import SEED


class Gate:
    """A run_batch that records its batches and can be held closed, to fill the queue behind it."""

    def __init__(self, run=lambda items: [item * 10 for item in items]) -> None:
        self.run, self.batches = run, []
        self.entered, self.opened = threading.Event(), threading.Event()
        self.opened.set()

    def __call__(self, items):
        self.batches.append(list(items))
        self.entered.set()
        self.opened.wait(60)
        return self.run(items)


def busy_batcher(gate: Gate, first, **limits):
    """A batcher whose worker is held inside run_batch with `first`; returns (batcher, first's future)."""
    gate.opened.clear()
    batcher = MicroBatcher(gate, **limits)
    future = batcher.submit(first)
    assert gate.entered.wait(60)
    return batcher, future


def test_batcher_takes_what_queued_while_it_was_busy():
    gate = Gate()
    batcher, first = busy_batcher(gate, 1, max_batch=4, queue_size=8)
    waiting = [batcher.submit(n) for n in range(2, 8)]  # six wait while the worker is busy with one
    gate.opened.set()
    assert first.result(60) == 10 and [f.result(60) for f in waiting] == [n * 10 for n in range(2, 8)]
    assert gate.batches == [[1], [2, 3, 4, 5], [6, 7]]  # in order, at most max_batch at once
    batcher.close()


def test_full_queue_refuses_at_once_and_recovers():
    gate = Gate()
    batcher, running = busy_batcher(gate, 1, max_batch=1, queue_size=2)
    queued = [batcher.submit(2), batcher.submit(3)]
    with pytest.raises(ServerBusy, match="busy"):
        batcher.submit(4)
    gate.opened.set()
    assert [f.result(60) for f in [running, *queued]] == [10, 20, 30]
    assert batcher(5) == 50  # room again
    batcher.close()
    with pytest.raises(ServerBusy):
        batcher.submit(6)


def test_exceptions_reach_only_their_own_caller():
    def run(items):
        if "poison" in items and len(items) > 1:
            raise RuntimeError("a bug that one item triggers")
        if items == ["poison"]:
            raise RuntimeError("still failing alone")
        return [InvalidQuestion("Please type a question.") if item == "" else item.upper() for item in items]

    gate = Gate(run)
    batcher, blocker = busy_batcher(gate, "a", max_batch=8, queue_size=8)
    futures = [batcher.submit(item) for item in ("b", "", "poison", "c")]
    gate.opened.set()
    assert blocker.result(60) == "A"
    assert futures[0].result(60) == "B" and futures[3].result(60) == "C"
    with pytest.raises(InvalidQuestion):
        futures[1].result(60)
    with pytest.raises(RuntimeError, match="still failing alone"):
        futures[2].result(60)
    batcher.close()


@pytest.mark.slow
def test_seed_answers_are_the_same_batched_and_one_at_a_time(shipped_app):
    """Every seed question and conversation turn: ask() alone, ask_many() in one batch, and the batcher
    with concurrent callers give the same answers (scores equal up to float noise)."""
    questions = [(q.question, None) for q in seed_questions()]
    history: list[Turn] = []
    for item in seed_conversation():  # the turns with the history the chat would send
        questions.append((item.question, list(history)))
        answer = shipped_app.ask(item.question, history)
        history.append(Turn(answer.question, answer.answer, answer.article))
    questions.append(("   ", None))  # not a question: must not fail the others

    def one_at_a_time(question, history):
        try:
            return shipped_app.ask(question, history)
        except InvalidQuestion as error:
            return error

    alone = [one_at_a_time(q, h) for q, h in questions]
    together = shipped_app.ask_many(questions)
    batched = BatchedQA(shipped_app, replace(shipped_app.settings, max_batch=8, queue_size=len(questions)))
    futures = [batched.batcher.submit(item) for item in questions]
    wait(futures, 120)
    concurrent = [f.exception() or f.result() for f in futures]
    batched.close()

    for other in (together, concurrent):
        assert len(other) == len(alone)
        for a, b in zip(alone, other, strict=True):
            if isinstance(a, InvalidQuestion):
                assert isinstance(b, InvalidQuestion) and str(a) == str(b)
                continue
            assert (b.answer, b.article, b.sentence, b.start, b.end) == (
                a.answer,
                a.article,
                a.sentence,
                a.start,
                a.end,
            )
            assert [x.answer for x in b.alternatives] == [x.answer for x in a.alternatives]
            assert b.score == pytest.approx(a.score, abs=0.02)


@pytest.fixture()
def gated_server(answering_app):
    """The served app with a one-question queue, whose inference thread can be held."""
    from gradio_client import Client

    from articleqa.ui.server import serve

    answering_app.add_files([SEED])
    gate = Gate(answering_app.ask_many)
    answering_app.ask_many = gate  # BatchedQA (made by serve) batches through it
    settings = replace(answering_app.settings, port=free_port(), max_batch=1, queue_size=1)
    demo, url = serve(answering_app, settings, block=False)
    try:
        yield Client(url, verbose=False), gate
    finally:
        gate.opened.set()
        demo.close()


@pytest.mark.slow
def test_busy_answer_when_the_queue_is_full(gated_server):
    client, gate = gated_server
    gate.opened.clear()
    running = client.submit("Who leads HTS?", None, api_name="/ask")
    assert gate.entered.wait(60)
    # One of these two waits in the queue; the other finds it full and is answered at once.
    contenders = [client.submit(q, None, api_name="/ask") for q in ("Where is Hama?", "Who is Jolani?")]
    done, _ = wait(contenders, 60, return_when=FIRST_COMPLETED)
    assert len(done) == 1 and done.pop().result()["error"] == BUSY
    reply, turn = client.predict("Who leads HTS?", [], api_name="/chat")  # the chat says the same
    assert reply == BUSY and turn == {}
    gate.opened.set()
    assert "error" not in running.result(60)
    answered = [c.result(60) for c in contenders]
    assert sum("error" not in a for a in answered) == 1
    assert client.predict("Who leads HTS?", None, api_name="/ask")["answer"]  # room again

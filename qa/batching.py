"""A micro-batcher: one inference thread owns the models and answers, in one batched call, every question
that queued while it was busy.

Concurrent requests never run the models side by side (torch threads of parallel requests oversubscribe
the cores); they wait in a bounded queue instead, and a full queue refuses at once with ServerBusy, so a
caller gets a clear answer rather than a hang. Results that are exceptions (InvalidQuestion) are raised
to their own caller only.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from articleqa.config import Settings
    from articleqa.qa.answer import Answer
    from articleqa.qa.conversation import Turn
    from articleqa.qa.periods import Scope
    from articleqa.qa.pipeline import ArticleQA

Item = TypeVar("Item")
Result = TypeVar("Result")

log = logging.getLogger("articleqa.batching")
BUSY = "The server is busy; try again in a moment."


class ServerBusy(RuntimeError):
    """The queue is full (or the answer took far too long); the message is meant for the user."""

    def __init__(self, message: str = BUSY) -> None:
        super().__init__(message)


class MicroBatcher(Generic[Item, Result]):
    """`run_batch(items) -> results` (same length, same order) on one worker thread, in batches of up to
    `max_batch` items taken from a queue of at most `queue_size` waiting items.

    The worker takes everything that queued while it was busy; under load (the previous batch held more
    than one item) it also waits up to `wait_s` for more, so a burst fills a batch. One caller alone never
    waits: a batch of one goes at once."""

    def __init__(
        self,
        run_batch: Callable[[list[Item]], Sequence[Result | BaseException]],
        *,
        max_batch: int = 16,
        wait_s: float = 0.002,
        queue_size: int = 64,
        timeout_s: float = 60.0,
        name: str = "articleqa-inference",
    ) -> None:
        if max_batch < 1 or queue_size < 1:
            raise ValueError("max_batch and queue_size must be at least 1")
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.timeout_s = timeout_s  # a caller's last resort; a bounded queue answers far sooner
        self._queue: queue.Queue[tuple[Item, Future] | None] = queue.Queue(maxsize=queue_size)
        self._last_batch = 0
        self._closed = False
        self._worker = threading.Thread(target=self._work, name=name, daemon=True)
        self._worker.start()

    def submit(self, item: Item) -> Future:
        """A future of the item's result; raises ServerBusy at once when the queue is full."""
        if self._closed:
            raise ServerBusy()
        future: Future = Future()
        try:
            self._queue.put_nowait((item, future))
        except queue.Full:
            raise ServerBusy() from None
        return future

    def __call__(self, item: Item) -> Result:
        """The item's result (or its exception), waiting for the worker."""
        future = self.submit(item)
        try:
            return future.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError:  # not the builtin TimeoutError before Python 3.11
            future.cancel()
            raise ServerBusy() from None

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop after the items already queued; later submits are refused."""
        self._closed = True
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            pass
        self._worker.join(timeout_s)

    # ---- the worker ------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            batch, stop = self._next_batch()
            if batch:
                self._run(batch)
            if stop:
                return

    def _next_batch(self) -> tuple[list[tuple[Item, Future]], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        deadline = time.monotonic() + (self.wait_s if self._last_batch > 1 else 0.0)
        while len(batch) < self.max_batch:
            try:
                remaining = deadline - time.monotonic()
                entry = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if entry is None:
                return batch, True
            batch.append(entry)
        return batch, False

    def _run(self, batch: list[tuple[Item, Future]]) -> None:
        live = [(item, future) for item, future in batch if future.set_running_or_notify_cancel()]
        self._last_batch = len(live)
        if not live:
            return
        try:
            results = list(self.run_batch([item for item, _ in live]))
            if len(results) != len(live):
                raise RuntimeError(f"run_batch returned {len(results)} results for {len(live)} items")
        except Exception:
            if len(live) == 1:
                log.exception("inference failed")
                live[0][1].set_exception(RuntimeError("inference failed"))
                return
            # One bad item must not fail the others: answer them one by one.
            log.warning("a batch of %d failed; answering its items one at a time", len(live), exc_info=True)
            results = [self._alone(item) for item, _ in live]
        for (_, future), result in zip(live, results, strict=True):
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _alone(self, item: Item) -> Result | BaseException:
        try:
            return self.run_batch([item])[0]
        except Exception as error:
            log.exception("inference failed")
            return error


class BatchedQA:
    """`ArticleQA.ask` answered through a MicroBatcher: the same call and the same answers, but every
    question runs on the one inference thread, batched with the questions that waited beside it."""

    def __init__(self, app: ArticleQA, settings: Settings) -> None:
        self.app = app
        self.batcher: MicroBatcher[tuple[object, list[Turn] | None, Scope | None], Answer] = MicroBatcher(
            app.ask_many,
            max_batch=settings.max_batch,
            wait_s=settings.batch_wait_ms / 1000,
            queue_size=settings.queue_size,
        )

    def ask(self, question: object, history: list[Turn] | None = None, scope: Scope | None = None) -> Answer:
        """Like ArticleQA.ask (raises InvalidQuestion), or ServerBusy when the queue is full."""
        return self.batcher((question, history, scope))

    def close(self) -> None:
        self.batcher.close()

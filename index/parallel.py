"""Parallel embedding on Ray: a pool of actors, each loading the embedder once, embeds batches of sentences.

`RayEmbedder` has the `embed(texts)` of `index.embedder.Embedder`, so the Indexer uses it unchanged: the
main process still splits, commits and persists (one atomic commit per ~1 MB of text, duplicates skipped),
so an interrupted ingest resumes where it stopped and loses nothing it reported as added.
Needs `ray` (the `scale` extra). `address`: "" starts a local Ray instance; "auto" or "ray://head:10001"
joins a cluster whose workers have articleqa installed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _worker_class():
    import ray

    @ray.remote(num_cpus=1)
    class EmbedWorker:
        def __init__(self, name: str, options: dict) -> None:
            from articleqa.index.embedder import Embedder
            from articleqa.runtime.compute import use_threads

            use_threads(1)  # one core per actor, whatever the runtime: the actors are the parallelism

            self.embedder = Embedder(name, **options)

        def info(self) -> tuple[str, int]:
            return self.embedder.model_id, self.embedder.dimension

        def embed(self, texts: list[str]) -> np.ndarray:
            return self.embedder.embed(texts)

    return EmbedWorker


@dataclass
class RayEmbedder:
    name: str = ""  # as Embedder: empty = the packaged all-MiniLM-L6-v2
    address: str = ""  # "" = a local Ray instance started here (and shut down by close())
    workers: int = 0  # 0 = one actor per CPU Ray reports
    chunk: int = 256  # sentences per task
    options: dict = field(default_factory=dict)  # more Embedder keyword arguments
    model_id: str = field(init=False, default="")
    dimension: int = field(init=False, default=0)
    _pool: Any = field(init=False, default=None, repr=False)
    _actors: list = field(init=False, default_factory=list, repr=False)
    _started: bool = field(init=False, default=False, repr=False)

    def __post_init__(self) -> None:
        import ray
        from ray.util import ActorPool

        if not ray.is_initialized():
            env = {"HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "TOKENIZERS_PARALLELISM": "false"}
            ray.init(
                address=self.address or None,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env={"env_vars": env},
            )
            self._started = True
        count = self.workers or max(1, int(ray.available_resources().get("CPU", 1)))
        worker = _worker_class()
        self._actors = [worker.remote(self.name, self.options) for _ in range(count)]
        self.model_id, self.dimension = ray.get(self._actors[0].info.remote())
        self._pool = ActorPool(self._actors)

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        chunks = [texts[i : i + self.chunk] for i in range(0, len(texts), self.chunk)]
        results = list(self._pool.map(lambda actor, chunk: actor.embed.remote(chunk), chunks))
        return np.ascontiguousarray(np.concatenate(results), dtype=np.float32)

    def close(self) -> None:
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._pool, self._actors = None, []
        if self._started:
            ray.shutdown()

    def __enter__(self) -> RayEmbedder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

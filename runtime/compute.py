"""CPU inference settings: numeric precision (bfloat16 where the CPU does it natively, float32 elsewhere)
and the number of torch threads.

Measured on this project's 2-core machine (AMX/AVX512-BF16): bf16 autocast made the reader 1.55x faster
on seed questions (49.5 -> 31.7 ms, same answers) and batch embedding 3.5x faster (153 -> 541
sentences/s, cosine to fp32 >= 0.99997). On a CPU without native bf16 it is slower, hence "auto".
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

PRECISIONS = ("auto", "bf16", "fp32")


@functools.cache  # the CPU does not change while the process runs
def native_bf16() -> bool:
    """True when the CPU has bf16 instructions (AVX512-BF16 or AMX), where autocast pays off. Read from the
    CPU's flags, so that choosing a runtime never imports torch; torch is asked where there are none."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        import torch

        checks = (
            getattr(torch.cpu, "_is_avx512_bf16_supported", None),
            getattr(torch.cpu, "_is_amx_tile_supported", None),
        )
        return any(check is not None and check() for check in checks)
    return "avx512_bf16" in flags or "amx_bf16" in flags


def check_setting(name: str, value: str, choices: tuple[str, ...]) -> str:
    """`value` if it is one of `choices`, else a ValueError naming the setting (torch-free: settings fail
    where they are given, before any model loads)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def resolve_precision(precision: str) -> str:
    """ "bf16" or "fp32" for a setting of "auto", "bf16" or "fp32"."""
    check_setting("precision", precision, PRECISIONS)
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision


_requested: contextvars.ContextVar[str | None] = contextvars.ContextVar("inference_precision", default=None)


def requested_precision() -> str | None:
    """The precision an enclosing `inference_precision` asks for (None outside one)."""
    return _requested.get()


@contextlib.contextmanager
def inference_precision(precision: str, device: str = "cpu") -> Iterator[None]:
    """Run the enclosed forward passes in `precision` ("bf16" or "fp32"); weights stay float32. torch runs
    them under autocast on `device` ("cpu", or "cuda" for a training run on a GPU); OpenVINO picks its model
    compiled in that precision (runtime/forward.py). A torch model exists only once torch is imported, so this
    never imports it."""
    token = _requested.set(precision)
    try:
        if precision == "bf16" and "torch" in sys.modules:
            with sys.modules["torch"].autocast(device, dtype=sys.modules["torch"].bfloat16):
                yield
        else:
            yield
    finally:
        _requested.reset(token)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_threads = 0  # set by use_threads: what the models get (0: every available core)


def use_threads(threads: int = 0) -> int:
    """Set the models' intra-op threads (0: every available core) and return the number set. Process-wide:
    meant for the one thread that runs the models (qa/batching.py). torch is set now if it is loaded, or
    when a model loads on it (runtime/forward.py); ONNX Runtime sessions take the number when they open."""
    global _threads
    _threads = threads if threads > 0 else available_cores()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(_threads)
    return _threads


def model_threads() -> int:
    """The threads use_threads chose, or every available core."""
    return _threads or available_cores()

"""Where the transformer models run: OpenVINO or ONNX Runtime, from an ONNX export made once per model,
or torch.

Importing torch and transformers takes ~2.7 s on this project's 2-core machine, more than half of a cold
start; openvino, onnxruntime and tokenizers import in ~0.2-0.4 s. So a model with an ONNX export (`articleqa
prepare`, run by `make run` and `make test`; kept in a cache folder, keyed by the weights file) never
needs torch. "auto" runs it on OpenVINO, which computes in bf16 where the CPU has it natively (AMX,
AVX512-BF16) and in fp32 elsewhere. On the AMX machine it reads a seed question in 49 ms against ONNX
Runtime's fp32 130 ms (`python -m benchmarks.runtimes`; docs/runtimes.md), and a server on it answered one caller faster
than one that handed over to torch's bf16 (9.1-11.5 against 7.4 questions/s, `benchmarks/load.py`; torch
alone in one process is a little faster, but not beside a server's threads), so it stays on OpenVINO.
Without openvino, ONNX Runtime runs it (fp32), and where torch would run it in bf16 a long-running
process hands over to torch once it has loaded it in the background (TieredForward). Without an export,
or with `runtime="torch"` (hub ids, training), it runs on torch. All take and return numpy arrays, so the
reader and the embedder compute the same thing on any of them.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from articleqa.runtime.compute import (
    check_setting,
    inference_precision,
    model_threads,
    requested_precision,
    resolve_precision,
)
from articleqa.runtime.exports import INPUTS, OUTPUTS, export_path, openvino_cache

RUNTIMES = ("auto", "openvino", "onnx", "torch")
ON_EXPORTS = ("openvino", "onnx")  # the runtimes that run a model's ONNX export

# One torch model loads at a time: transformers' lazy imports are not thread-safe, and a server hands the
# embedder and the reader over in two background threads at once (one failed with an ImportError, and
# stayed on ONNX Runtime's fp32, ~2x slower per question).
_TORCH_LOADS = threading.Lock()


def _imports(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def onnxruntime_available() -> bool:
    return _imports("onnxruntime")


def openvino_available() -> bool:
    return _imports("openvino")


def resolve_runtime(runtime: str, name_or_path: str | Path, onnx_dir: Path | None = None) -> str:
    """ "openvino", "onnx" or "torch": "auto" picks OpenVINO, else ONNX Runtime, for a model with an export
    (whichever imports), and torch for one without."""
    check_setting("runtime", runtime, RUNTIMES)
    path = export_path(name_or_path, onnx_dir)
    exported = path is not None and path.is_file()
    if runtime in ON_EXPORTS and not exported:
        raise FileNotFoundError(f"{name_or_path} has no ONNX export: run `articleqa prepare` first")
    if runtime == "auto":
        if not exported:
            return "torch"
        return "openvino" if openvino_available() else "onnx" if onnxruntime_available() else "torch"
    return runtime


class Forward(Protocol):
    """A model's forward pass on numpy arrays: named inputs in, the kind's outputs (float32) out."""

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]: ...


class OnnxForward:
    def __init__(self, path: Path, threads: int = 0) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads if threads > 0 else model_threads()
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        # a session runs concurrent calls safely
        return self.session.run(None, {name: inputs[name] for name in self.inputs})


class OpenVinoForward:
    """The export compiled by OpenVINO for the CPU, in bf16 where the CPU has it natively and fp32 elsewhere.
    A call inside `inference_precision(...)` runs the model compiled in that precision (compiled on first
    use: the embedder runs one query in fp32 and index batches in bf16). Compiled models are cached on disk
    beside the export, so a later start compiles in a fraction of the time."""

    def __init__(self, path: Path, threads: int = 0, precision: str = "auto") -> None:
        import openvino

        self.core = openvino.Core()
        self.core.set_property({"CACHE_DIR": str(openvino_cache(path))})
        self.bf16 = "BF16" in self.core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        self.path = path
        self.threads = threads
        self.precision = resolve_precision(precision)
        self._compiled: dict[str, tuple] = {}
        self._lock = threading.Lock()  # an infer request runs one call at a time
        with self._lock:
            self._request(self.precision)

    def compile(self, precision: str) -> None:
        """Compile the model in `precision` now (and into the disk cache), not on the first call that asks."""
        with self._lock:
            self._request(resolve_precision(precision))

    def _request(self, precision: str) -> tuple:
        """(infer request, input names) of the model compiled in `precision` (bf16 only where native)."""
        precision = "bf16" if precision == "bf16" and self.bf16 else "fp32"
        if precision not in self._compiled:
            compiled = self.core.compile_model(
                str(self.path),
                "CPU",
                {
                    "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
                    "INFERENCE_NUM_THREADS": self.threads if self.threads > 0 else model_threads(),
                    "PERFORMANCE_HINT": "LATENCY",  # one stream: the batcher hands it whole batches
                },
            )
            self._compiled[precision] = (compiled.create_infer_request(), [i.get_any_name() for i in compiled.inputs])
        return self._compiled[precision]

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        with self._lock:
            request, names = self._request(requested_precision() or self.precision)
            outputs = request.infer({name: inputs[name] for name in names}).to_tuple()
            # copies: the request reuses its output buffers on the next call
            return [np.array(output, dtype=np.float32) for output in outputs]


def adapted_model(model):
    """A peft model as its adapted transformers model, any other as it is: PeftModelForQuestionAnswering.forward
    drops token_type_ids, so a BERT-like model run through it would read (or train on) other inputs than
    once merged."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def model_inputs(model) -> list[str]:
    """The inputs of INPUTS that a torch model takes (MPNet has no token type ids)."""
    return [name for name in INPUTS if name in inspect.signature(adapted_model(model).forward).parameters]


class TorchForward:
    def __init__(self, model, kind: str, precision: str = "auto") -> None:
        import torch

        torch.set_num_threads(model_threads())
        self.model = adapted_model(model).eval()
        self.outputs = OUTPUTS[kind]
        self.precision = resolve_precision(precision)
        self.inputs = model_inputs(self.model)
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        import torch

        device = self.model.device  # a training run's evaluation may hold the model on a GPU
        batch = {name: torch.from_numpy(inputs[name]).to(device) for name in self.inputs}
        with self._lock, torch.inference_mode(), inference_precision(self.precision, device.type):
            output = self.model(**batch)
        return [getattr(output, name).float().cpu().numpy() for name in self.outputs]


class TieredForward:
    """ONNX Runtime first, torch once it has loaded: answers at once from the export, and hands over to torch
    after `take_over()`. Used where torch runs the models in bf16 on a CPU with native bf16 (AMX,
    AVX512-BF16), where it is ~2x faster than ONNX Runtime's fp32 (`benchmarks/speed.py --levers`); a
    process that answers one question never pays torch's import, a server pays it in the background."""

    def __init__(self, first: Forward, load_second: Callable[[], Forward]) -> None:
        self.current: Forward = first
        self._load_second = load_second
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return self.current(inputs)

    def take_over(self, wait: bool = True) -> None:
        """Load torch's model (once) and switch to it; `wait=False` returns at once and switches when loaded."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._switch, name="torch-takeover", daemon=True)
                self._thread.start()
        if wait:
            self._thread.join()

    def _switch(self) -> None:
        try:
            second = self._load_second()
            second({name: np.ones((1, 8), dtype=np.int64) for name in INPUTS})  # kernel set-up, off the clock
            self.current = second
            logging.getLogger(__name__).info("torch took over from ONNX Runtime (%s)", type(second).__name__)
        except Exception:  # torch missing or broken: ONNX Runtime goes on answering
            logging.getLogger(__name__).warning("torch could not take over; staying on ONNX Runtime", exc_info=True)


def load_forward(
    name_or_path: str | Path,
    kind: str,
    runtime: str = "auto",
    precision: str = "auto",
    onnx_dir: Path | None = None,
    threads: int = 0,
    autocast: bool = True,
) -> Forward:
    """The model's forward pass on the runtime asked for. "auto": its ONNX export when it has one, on OpenVINO
    (or on ONNX Runtime, tiered to torch where torch would run it in bf16: see TieredForward); torch when
    there is no export. `autocast=False`: the model runs in fp32 unless the caller sets another precision
    around a call (compute.inference_precision)."""

    def on_torch() -> Forward:
        with _TORCH_LOADS:
            from transformers import AutoModel, AutoModelForQuestionAnswering

            loader = AutoModelForQuestionAnswering if kind == "question-answering" else AutoModel
            # weights may be stored in fp16 to stay small; autocast (bf16) or fp32 runs on float32 weights
            model = loader.from_pretrained(str(name_or_path)).float()
        return TorchForward(model, kind, precision if autocast else "fp32")

    chosen = resolve_runtime(runtime, name_or_path, onnx_dir)
    if chosen == "torch":
        return on_torch()
    if chosen == "openvino":
        return OpenVinoForward(export_path(name_or_path, onnx_dir), threads, precision if autocast else "fp32")
    first = OnnxForward(export_path(name_or_path, onnx_dir), threads)
    return TieredForward(first, on_torch) if hands_over(name_or_path, runtime, precision, onnx_dir) else first


def hands_over(
    name_or_path: str | Path, runtime: str = "auto", precision: str = "auto", onnx_dir: Path | None = None
) -> bool:
    """Whether `load_forward` starts this model on its ONNX export and moves it to torch later (TieredForward):
    runtime "auto", an export that OpenVINO cannot run (not installed), and a CPU where torch runs it in bf16."""
    return (
        runtime == "auto"
        and resolve_precision(precision) == "bf16"
        and resolve_runtime(runtime, name_or_path, onnx_dir) == "onnx"
    )

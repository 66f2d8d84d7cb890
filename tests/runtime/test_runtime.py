"""runtime/forward.py: ONNX exports of the models, and the same answers on OpenVINO and ONNX Runtime as on torch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from articleqa.runtime.exports import export, export_path, openvino_cache
from articleqa.runtime.forward import OnnxForward, OpenVinoForward, hands_over, resolve_runtime
from benchmarks.common import free_port


@pytest.fixture(scope="session")
def exports(tmp_path_factory) -> Path:
    """A folder with the shipped readers and the packaged embedder exported, as `articleqa prepare` makes."""
    from articleqa.cli import main

    folder = tmp_path_factory.mktemp("onnx")
    before = os.environ.get("ARTICLEQA_ONNX_DIR")
    os.environ["ARTICLEQA_ONNX_DIR"] = str(folder)
    try:
        assert main(["prepare"]) == 0
        assert main(["prepare"]) == 0  # a second run finds them and exports nothing
    finally:
        if before is None:
            del os.environ["ARTICLEQA_ONNX_DIR"]
        else:
            os.environ["ARTICLEQA_ONNX_DIR"] = before
    assert len(list(folder.glob("*.onnx"))) == 3  # the small and the large reader, the embedder
    assert all(any(openvino_cache(path).iterdir()) for path in folder.glob("*.onnx"))  # compiled for OpenVINO
    return folder


@pytest.mark.slow
def test_the_tiny_reader_reads_the_same_on_the_exports_as_on_torch(tiny_reader_dir, tmp_path):
    assert resolve_runtime("auto", tiny_reader_dir, tmp_path) == "torch"  # no export yet
    for runtime in ("onnx", "openvino"):
        with pytest.raises(FileNotFoundError, match="articleqa prepare"):
            resolve_runtime(runtime, tiny_reader_dir, tmp_path)
    export(tiny_reader_dir, "question-answering", tmp_path)
    assert resolve_runtime("auto", tiny_reader_dir, tmp_path) == "openvino"
    assert_reads_alike_on_every_runtime(tiny_reader_dir, tmp_path)


def assert_reads_alike_on_every_runtime(model_dir: Path, onnx_dir: Path) -> None:
    """The exported reader finds the same spans, at the same probabilities, on ONNX Runtime and OpenVINO as
    on torch, over a short passage and a long one (several windows)."""
    from articleqa.qa.reader import ExtractiveReader

    passages = [
        "The bridge over the river was opened in 1932 by the mayor.",
        " ".join(f"Sentence number {i} is here." for i in range(40)),
    ]
    outputs = {
        runtime: ExtractiveReader.from_pretrained(
            model_dir, runtime=runtime, precision="fp32", onnx_dir=onnx_dir, max_length=64, stride=16
        ).read("When was the bridge opened?", passages, top_k=10)
        for runtime in ("torch", "onnx", "openvino")
    }
    for runtime in ("onnx", "openvino"):
        assert outputs[runtime].windows == outputs["torch"].windows > 2
        assert [s.text for s in outputs[runtime].spans] == [s.text for s in outputs["torch"].spans]
        for a, b in zip(outputs[runtime].spans, outputs["torch"].spans, strict=True):
            assert abs(a.probability - b.probability) < 1e-4
            assert (a.passage_index, a.start) == (b.passage_index, b.start)
        assert abs(outputs[runtime].no_answer_log_probability - outputs["torch"].no_answer_log_probability) < 1e-3


def test_the_export_writes_attention_as_plain_ops(tiny_reader_dir, tmp_path):
    # torch's SDPA exports with NaN guards that OpenVINO runs op by op; the plain form it fuses into one
    # attention kernel (runtime/exports.EXPORT_FORMAT)
    import onnx

    graph = onnx.load(str(export(tiny_reader_dir, "question-answering", tmp_path))).graph
    ops = {node.op_type for node in graph.node}
    assert "Softmax" in ops and "IsNaN" not in ops


def test_without_openvino_the_exports_run_on_onnx_runtime(tiny_reader_dir, tmp_path, monkeypatch):
    from articleqa.runtime import forward as runtime

    export(tiny_reader_dir, "question-answering", tmp_path)
    monkeypatch.setattr(runtime, "openvino_available", lambda: False)  # as where the package is not installed
    assert resolve_runtime("auto", tiny_reader_dir, tmp_path) == "onnx"
    forward = runtime.load_forward(tiny_reader_dir, "question-answering", precision="fp32", onnx_dir=tmp_path)
    assert isinstance(forward, runtime.OnnxForward)
    assert hands_over(tiny_reader_dir, precision="bf16", onnx_dir=tmp_path)


@pytest.mark.slow
def test_new_weights_never_run_on_an_old_export(tiny_reader_dir, tmp_path):
    import shutil

    model = tmp_path / "reader"
    shutil.copytree(tiny_reader_dir, model)
    first = export(model, "question-answering", tmp_path / "onnx")
    assert first == export_path(model, tmp_path / "onnx") and first.is_file()
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes())  # same bytes, a new file: treated as new weights
    os.utime(weights, ns=(first.stat().st_mtime_ns + 10**9,) * 2)
    assert export_path(model, tmp_path / "onnx") != first
    assert resolve_runtime("auto", model, tmp_path / "onnx") == "torch"
    second = export(model, "question-answering", tmp_path / "onnx")
    assert second.is_file() and not first.exists()  # the old weights' export is removed, not left to pile up
    assert resolve_runtime("auto", model, tmp_path / "onnx") == "openvino"
    assert export_path("some-org/hub-model", tmp_path) is None  # a hub id: torch, never exported


def test_an_export_of_a_folder_that_is_gone_goes_with_the_next_export(tiny_reader_dir, tmp_path):
    import shutil

    onnx_dir = tmp_path / "onnx"
    gone, kept = tmp_path / "earlier-merge", tmp_path / "reader"
    shutil.copytree(tiny_reader_dir, gone)
    shutil.copytree(tiny_reader_dir, kept)
    orphan = export(gone, "question-answering", onnx_dir)
    shutil.rmtree(gone)  # as merged_reader removes an adapter's earlier merge
    current = export(kept, "question-answering", onnx_dir)
    assert current.is_file() and current.with_suffix(".json").is_file()
    assert not orphan.exists() and not orphan.with_suffix(".json").exists()


def test_an_export_that_fails_leaves_nothing_a_start_would_load(tiny_reader_dir, tmp_path, monkeypatch):
    import torch

    def crash(*args, **kwargs):
        Path(args[2]).write_bytes(b"half a model")  # the exporter got part of the way
        raise RuntimeError("killed mid-export")

    monkeypatch.setattr(torch.onnx, "export", crash)
    with pytest.raises(RuntimeError, match="mid-export"):
        export(tiny_reader_dir, "question-answering", tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert resolve_runtime("auto", tiny_reader_dir, tmp_path) == "torch"


@pytest.mark.slow
def test_the_embedder_on_the_exports_gives_torch_vectors(exports):
    from articleqa.index.embedder import Embedder
    from articleqa.runtime.compute import native_bf16

    texts = ["  Who leads HTS?  ", "x", "The rebels took Hama. " * 80, "", "Aleppo fell within days."] * 4
    torch_fp32 = Embedder(runtime="torch", precision="fp32").embed(texts)
    torch_bf16 = Embedder(runtime="torch", precision="bf16").embed(texts) if native_bf16() else torch_fp32
    for runtime in ("onnx", "openvino"):
        fp32 = Embedder(runtime=runtime, precision="fp32", onnx_dir=exports)
        expected = {"onnx": OnnxForward, "openvino": OpenVinoForward}[runtime]
        assert type(fp32.warm_up().model.forward) is expected  # a runtime asked for by name is never tiered
        assert np.sum(fp32.embed(texts) * torch_fp32, axis=1).min() > 0.99999, runtime
    # bf16 where the CPU has it (a batch of 8 or more), as torch's autocast computes it; queries stay fp32
    openvino = Embedder(runtime="openvino", onnx_dir=exports)
    assert np.sum(openvino.embed(texts) * torch_bf16, axis=1).min() > 0.9999
    assert np.sum(openvino.embed(texts) * torch_fp32, axis=1).min() > 0.999
    queries = np.array(openvino.embed_queries(texts[:5]))
    assert np.sum(queries * torch_fp32[:5], axis=1).min() > 0.99999


@pytest.mark.slow
def test_the_seed_answers_are_the_same_on_either_runtime(exports, embedder, tmp_path):
    """The shipped reader and embedder on OpenVINO and ONNX Runtime answer every seed question as on torch
    (fp32)."""
    from articleqa.config import SEEDS_DIR, Settings
    from articleqa.qa.pipeline import ArticleQA

    questions = [
        q["question"]
        for q in json.loads((SEEDS_DIR / "syrian-rebels-capture-hama.questions.json").read_text())["questions"]
    ]
    answers = {}
    for runtime in ("openvino", "onnx", "torch"):
        settings = Settings(data_dir=tmp_path / runtime, runtime=runtime, precision="fp32", onnx_dir=exports)
        app = ArticleQA.from_settings(settings)
        app.add_files([SEEDS_DIR / "syrian-rebels-capture-hama.txt"])
        answers[runtime] = [app.ask(q) for q in questions]
    for runtime in ("openvino", "onnx"):
        for exported, torch_ in zip(answers[runtime], answers["torch"], strict=True):
            assert (exported.answer, exported.sentence) == (torch_.answer, torch_.sentence), exported.question
            assert abs(exported.score - torch_.score) < 0.01, exported.question


@pytest.mark.slow
def test_answering_on_exports_never_imports_torch(exports, tmp_path):
    """What makes the start fast: with the exports, indexing the seed and answering load neither torch nor
    transformers (nor sentence-transformers)."""
    script = (
        "import sys, json\n"
        "from articleqa.config import SEEDS_DIR, Settings\n"
        "from articleqa.qa.pipeline import ArticleQA\n"
        f"app = ArticleQA.from_settings(Settings.from_env(data_dir={str(tmp_path)!r}))\n"
        "app.add_files([SEEDS_DIR / 'syrian-rebels-capture-hama.txt'])\n"
        "answer = app.ask('Which city are the rebels heading for next?')\n"
        "print(json.dumps({'answer': answer.answer, 'loaded': sorted(m for m in ('torch', 'transformers',\n"
        "    'sentence_transformers') if m in sys.modules)}))\n"
    )
    env = {**os.environ, "ARTICLEQA_ONNX_DIR": str(exports), "HF_HUB_OFFLINE": "1"}
    env.pop("ARTICLEQA_RUNTIME", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert result["answer"]


@pytest.mark.slow
def test_a_server_without_openvino_hands_both_models_over_to_torch(exports, tmp_path):
    """Where openvino is not installed, `articleqa serve` answers on ONNX Runtime at once and moves the embedder
    and the reader to torch in two background threads. Both must arrive: when they loaded transformers at the
    same time, one failed with an ImportError and stayed on ONNX Runtime's fp32, ~2x slower per question."""
    from articleqa.runtime.compute import native_bf16

    if not native_bf16():
        pytest.skip("no hand-over here: torch would not run bf16 on this CPU, so the models stay on ONNX Runtime")
    env = {**os.environ, "ARTICLEQA_ONNX_DIR": str(exports), "HF_HUB_OFFLINE": "1"}
    env.pop("ARTICLEQA_RUNTIME", None)
    without_openvino = "import sys; sys.modules['openvino'] = None; from articleqa.cli import main; sys.exit(main())"
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            without_openvino,
            "serve",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path),
            "--log-level",
            "info",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    took_over, failed, lines = 0, 0, []
    try:
        while took_over < 2 and not failed:
            line = server.stderr.readline()
            if not line:  # the server exited
                break
            lines.append(line)
            took_over += "torch took over" in line
            failed += "could not take over" in line
    finally:
        server.kill()
        server.wait(timeout=30)
    assert (took_over, failed) == (2, 0), "".join(lines)[-3000:]


def test_openvino_takes_the_thread_count_set_for_the_models(tiny_reader_dir, tmp_path):
    """`threads` (use_threads) reaches OpenVINO when a model compiles: `articleqa serve` sets it first."""
    from articleqa.runtime.compute import use_threads

    path = export(tiny_reader_dir, "question-answering", tmp_path)
    try:
        use_threads(1)
        request, _ = OpenVinoForward(path, precision="fp32")._request("fp32")
        assert request.get_compiled_model().get_property("INFERENCE_NUM_THREADS") == 1
    finally:
        use_threads(0)  # every core again, as the other tests expect


@pytest.mark.slow
def test_an_mpnet_reader_reads_the_same_on_the_exports_as_on_torch(tmp_path):
    """MPNet (the larger reader's backbone) has no token type ids and relative attention: its export must
    read as torch does, on the real MPNet tokenizer (from the packaged parts)."""
    import shutil

    import torch
    from transformers import MPNetConfig, MPNetForQuestionAnswering

    from articleqa.runtime.backbone import MPNET, BackboneError, assemble

    try:
        backbone = assemble(MPNET)
    except BackboneError as error:
        pytest.skip(str(error))
    torch.manual_seed(0)
    model_dir = tmp_path / "tiny-mpnet"
    config = MPNetConfig(
        vocab_size=30527,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=514,
    )
    MPNetForQuestionAnswering(config).save_pretrained(model_dir)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        shutil.copy(backbone / name, model_dir / name)
    export(model_dir, "question-answering", tmp_path)
    assert_reads_alike_on_every_runtime(model_dir, tmp_path)

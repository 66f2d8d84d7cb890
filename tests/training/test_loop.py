"""training/loop.py: a run stopped at a checkpoint and resumed ends with the weights of one that never
stopped (same schedule, optimiser state and RNG), and `best/` holds the best-scoring step."""

import os
import signal

import pytest

torch = pytest.importorskip("torch")  # the `train` extra


def _train(
    out,
    tiny_reader_dir,
    stop_at: int | None,
    resume: bool,
    terminate_at: int | None = None,
    save_every=0,
    keep_evaluated=False,
):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from training.loop import optimise, restore, run_steps

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_reader_dir)
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_reader_dir)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = tokenizer(["Who took Hama?"] * 4, ["Rebels led by HTS took Hama on Thursday."] * 4, return_tensors="pt")
    losses = []

    def train_step(step: int) -> float:
        if stop_at is not None and step == stop_at:
            raise KeyboardInterrupt  # the session ends mid-run
        if step == terminate_at:
            os.kill(os.getpid(), signal.SIGTERM)  # asked to stop while this step runs
        noise = torch.randint(0, 3, (4,))  # consumes the RNG the checkpoint must restore
        loss = model(**batch, start_positions=5 + noise, end_positions=7 + noise).loss
        losses.append(optimise(model, optimizer, loss))
        return losses[-1]

    def evaluate() -> dict[str, float]:
        return {"score": -losses[-1]}

    resumed = restore(out, model, optimizer) if resume else None
    try:
        best = run_steps(
            model,
            tokenizer,
            optimizer,
            train_step,
            evaluate,
            out=out,
            total_steps=6,
            warmup=0.2,
            every=2,
            key=lambda scores: scores["score"],
            best={"score": -1e9, "step": 0},
            resumed=resumed,
            save_every=save_every,
            keep_evaluated=keep_evaluated,
        )
    except KeyboardInterrupt:
        return None, model
    return best, model


@pytest.mark.slow
def test_a_resumed_run_ends_where_an_unbroken_one_does(tmp_path, tiny_reader_dir):
    best, unbroken = _train(tmp_path / "once", tiny_reader_dir, stop_at=None, resume=False)
    stopped, _ = _train(tmp_path / "twice", tiny_reader_dir, stop_at=3, resume=False)
    assert stopped is None and (tmp_path / "twice" / "checkpoint.pt").exists()
    again, resumed = _train(tmp_path / "twice", tiny_reader_dir, stop_at=None, resume=True)
    assert again == best and best["step"] in (2, 4, 6)
    for a, b in zip(unbroken.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert (tmp_path / "once" / "best" / "config.json").exists() and (tmp_path / "once" / "final").exists()


def _train_apart(out, tiny_reader_dir, **kwargs) -> tuple[dict | None, dict, bool]:
    """_train in a process of its own (a signal there leaves the test process alone): the best scores, the
    final weights, and whether SIGTERM's handler was put back."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import json, signal, sys, torch; from pathlib import Path; from tests.training.test_loop import _train; "
        f"best, model = _train(Path({str(out)!r}), {str(tiny_reader_dir)!r}, **{kwargs!r}); "
        f"torch.save(model.state_dict(), Path({str(out)!r}) / 'weights.pt'); "
        "print(json.dumps([best, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL]))"
    )
    root = Path(__file__).resolve().parents[2]
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    best, restored = json.loads(ran.stdout.splitlines()[-1])
    return best, torch.load(out / "weights.pt"), restored


@pytest.mark.slow
def test_sigterm_stops_at_the_step_under_way_checkpointed_and_a_resume_goes_on_exactly(tmp_path, tiny_reader_dir):
    best, unbroken, _ = _train_apart(tmp_path / "once", tiny_reader_dir, stop_at=None, resume=False)
    # asked to stop during the third step (evaluated at 2): it ends after it, between evaluations
    _, _, restored = _train_apart(tmp_path / "twice", tiny_reader_dir, stop_at=None, resume=False, terminate_at=2)
    state = torch.load(tmp_path / "twice" / "checkpoint.pt", weights_only=False)
    assert state["step"] == 3 and not (tmp_path / "twice" / "final").exists()
    assert restored  # the handler is put back
    again, resumed, _ = _train_apart(tmp_path / "twice", tiny_reader_dir, stop_at=None, resume=True)
    assert again == best
    for a, b in zip(unbroken.values(), resumed.values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.slow
def test_keep_evaluated_leaves_every_evaluated_steps_weights_and_scores(tmp_path, tiny_reader_dir):
    import json

    from articleqa.qa.reader import ExtractiveReader

    best, model = _train(tmp_path / "run", tiny_reader_dir, stop_at=None, resume=False, keep_evaluated=True)
    kept = sorted(int(p.name) for p in (tmp_path / "run" / "steps").iterdir())
    assert kept == [2, 4, 6]  # evaluated every 2 of 6 steps
    scores = {step: json.loads((tmp_path / "run" / "steps" / str(step) / "scores.json").read_text()) for step in kept}
    assert scores[best["step"]] == best
    last = ExtractiveReader.from_pretrained(str(tmp_path / "run" / "steps" / "6"), runtime="torch")
    assert last.read("Who took Hama?", ["Rebels led by HTS took Hama on Thursday."]).spans  # a loadable reader
    from transformers import AutoModelForQuestionAnswering

    kept_last = AutoModelForQuestionAnswering.from_pretrained(tmp_path / "run" / "steps" / "6").state_dict()
    for name, weight in model.state_dict().items():  # the last kept step is the run's final weights
        assert torch.equal(weight, kept_last[name])


@pytest.mark.slow
def test_save_every_checkpoints_between_evaluations(tmp_path, tiny_reader_dir):
    # evaluated every 2 steps; the session ends during the fourth step
    _train(tmp_path / "plain", tiny_reader_dir, stop_at=3, resume=False)
    _train(tmp_path / "saving", tiny_reader_dir, stop_at=3, resume=False, save_every=3)
    assert torch.load(tmp_path / "plain" / "checkpoint.pt", weights_only=False)["step"] == 2
    assert torch.load(tmp_path / "saving" / "checkpoint.pt", weights_only=False)["step"] == 3


@pytest.mark.filterwarnings(
    "ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning"
)  # no real steps here
def test_the_logged_loss_is_the_mean_since_the_last_evaluation(tmp_path, tiny_reader_dir, caplog):
    import logging

    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from training.loop import run_steps

    model = AutoModelForQuestionAnswering.from_pretrained(tiny_reader_dir)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with caplog.at_level(logging.INFO, logger="articleqa.train"):
        # 3 steps, evaluated every 2: the last evaluation follows one step only
        run_steps(
            model,
            AutoTokenizer.from_pretrained(tiny_reader_dir),
            optimizer,
            lambda step: 1.0,
            lambda: {"score": 0.0},
            out=tmp_path,
            total_steps=3,
            warmup=0.0,
            every=2,
            key=lambda scores: scores["score"],
            best={"score": -1.0, "step": 0},
        )
    losses = [record.args[2] for record in caplog.records if record.msg.startswith("step")]
    assert losses == [1.0, 1.0]


@pytest.mark.slow
def test_a_cpu_run_goes_on_under_jemalloc_where_it_is_installed():
    import subprocess
    import sys
    from pathlib import Path

    from training.loop import JEMALLOC_PATHS

    if not any(Path(path).exists() for path in JEMALLOC_PATHS):
        pytest.skip("Debian's libjemalloc2 is not installed here")
    code = (
        "import os; from training.loop import under_jemalloc; under_jemalloc(); "
        "print(any('jemalloc' in line for line in open('/proc/self/maps')), os.environ['MALLOC_CONF'])"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["True", "dirty_decay_ms:-1,muzzy_decay_ms:-1"]
    # and the same arguments again: what the code printed comes from the restarted process only
    assert "restarting under jemalloc" in ran.stderr and ran.stdout.count("True") == 1

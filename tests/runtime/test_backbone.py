"""The packaged backbone: put together from its installed parts, checked, and refused when it differs."""

from dataclasses import replace

import pytest

from articleqa.runtime.backbone import MPNET, VERIFIED, BackboneError, assemble, part_files, resolve_backbone


def _parts_installed() -> bool:
    try:
        part_files(MPNET)
    except BackboneError:
        return False
    return True


def test_missing_parts_are_named():
    model = replace(MPNET, packages=("articleqa-no-such-part-001", *MPNET.packages[1:]))
    with pytest.raises(BackboneError, match="pip install articleqa-no-such-part-001"):
        part_files(model)


def test_other_names_pass_through(tmp_path):
    assert (
        resolve_backbone("sentence-transformers/all-MiniLM-L6-v2", tmp_path) == "sentence-transformers/all-MiniLM-L6-v2"
    )
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.skipif(not _parts_installed(), reason="the all-mpnet-base-v2 parts are not installed (train extra)")
def test_assembled_once_and_checked(tmp_path):
    folder = assemble(MPNET, tmp_path)
    assert (folder / VERIFIED).read_text().strip() == MPNET.sha256
    assert (folder / "model.safetensors").stat().st_size == MPNET.size
    assert (folder / "tokenizer.json").is_file()
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert resolve_backbone("mpnet", tmp_path) == str(folder)  # the second time: found, not rebuilt
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [MPNET.name]  # no scratch left behind


@pytest.mark.slow
@pytest.mark.skipif(not _parts_installed(), reason="the all-mpnet-base-v2 parts are not installed (train extra)")
def test_weights_that_differ_are_refused(tmp_path):
    with pytest.raises(BackboneError, match="not the expected file"):
        assemble(replace(MPNET, sha256="0" * 64), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == []  # nothing half-made is kept

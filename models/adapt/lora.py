"""Merge a trained encoder adapter into the Whisper weights before export (numpy, no torch).

An adapter file (``.npz``) holds, for each adapted linear layer ``NAME`` (a CTranslate2
variable prefix such as ``encoder/layer_3/ffn/linear_0``), ``NAME#a`` (rank x in) and
``NAME#b`` (out x rank, already multiplied by the LoRA scale), plus ``__meta__`` (JSON: how
it was trained). Merged weight = ``W + b @ a`` in CTranslate2's ``(out, in)`` layout, so the
exported graphs are exactly as fast as without an adapter.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from models.asr.ct2 import CT2Model

# The shipped adapter (docs/speech.md, "Encoder adapter"); ARMA_ASR_ADAPTER=none builds the
# plain Whisper base, ARMA_ASR_ADAPTER=PATH another adapter file.
SHIPPED = Path(__file__).resolve().parent / "whisper-base-encoder-lora.npz"


class AdapterError(ValueError):
    """The adapter file does not fit the model."""


@dataclass(frozen=True)
class Adapter:
    path: Path
    deltas: dict[str, tuple[np.ndarray, np.ndarray]]  # prefix -> (a, b)
    meta: dict[str, Any]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def languages(self) -> tuple[str, ...]:
        """The domain languages whose encoder gets the adapter (``meta["languages"]``)."""
        return tuple(self.meta.get("languages", ("tr",)))

    @property
    def rank(self) -> int:
        return max((a.shape[0] for a, _ in self.deltas.values()), default=0)


def load(path: Path) -> Adapter:
    try:
        with np.load(path) as data:
            raw = {k.replace("|", "/"): data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{path}: not an adapter file ({exc})") from exc
    meta = json.loads(str(raw.pop("__meta__", "{}")))
    deltas: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key, value in raw.items():
        if key.endswith("#a"):
            prefix = key[:-2]
            if f"{prefix}#b" not in raw:
                raise AdapterError(f"{path}: {prefix} has a but no b")
            a, b = value.astype(np.float32), raw[f"{prefix}#b"].astype(np.float32)
            if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
                raise AdapterError(f"{path}: {prefix} shapes {a.shape} x {b.shape}")
            deltas[prefix] = (a, b)
    if not deltas:
        raise AdapterError(f"{path}: no layers")
    return Adapter(path, deltas, meta)


def selected() -> Adapter | None:
    """The adapter the recipe applies: ``$ARMA_ASR_ADAPTER`` or the shipped file."""
    choice = os.environ.get("ARMA_ASR_ADAPTER", "")
    if choice.lower() == "none":
        return None
    path = Path(choice) if choice else SHIPPED
    if not path.exists():
        if choice:
            raise AdapterError(f"ARMA_ASR_ADAPTER={choice}: no such file")
        return None
    return load(path)


def merge(model: CT2Model, adapter: Adapter) -> CT2Model:
    """A copy of ``model`` with every adapted weight replaced by ``W + b @ a`` (float32)."""
    variables = dict(model.variables)
    for prefix, (a, b) in adapter.deltas.items():
        name = f"{prefix}/weight"
        if name not in variables:
            raise AdapterError(f"the model has no {name}")
        weight = model.get(name)
        if weight.shape != (b.shape[0], a.shape[1]):
            raise AdapterError(f"{name}: {weight.shape} vs delta {(b.shape[0], a.shape[1])}")
        variables[name] = weight + b @ a
    return replace(model, variables=variables)

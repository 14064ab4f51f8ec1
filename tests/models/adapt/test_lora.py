"""Merging an encoder adapter into the weights before export (numpy, no torch).

Tried to break it: an adapter for a layer the model lacks, shapes that do not fit, a file
that is not an adapter, a missing ``b`` half; each is a typed error, not a silent export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.adapt import lora
from models.asr import build
from models.asr.tiny import TINY_D, TINY_FFN, tiny_ct2_model


def _adapter(path: Path, deltas: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    arrays = {}
    for prefix, (a, b) in deltas.items():
        arrays[f"{prefix}#a".replace("/", "|")] = a
        arrays[f"{prefix}#b".replace("/", "|")] = b
    np.savez(path, __meta__=np.array('{"steps": 3}'), **arrays)
    return path


def test_merge_adds_b_times_a_to_exactly_the_adapted_weights(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    model = tiny_ct2_model(rng)
    a = rng.standard_normal((4, TINY_D)).astype(np.float32)
    b = rng.standard_normal((TINY_FFN, 4)).astype(np.float32)
    name = "encoder/layer_0/ffn/linear_0"
    adapter = lora.load(_adapter(tmp_path / "x.npz", {name: (a, b)}))
    merged = lora.merge(model, adapter)
    expected = model.get(f"{name}/weight") + b @ a
    np.testing.assert_allclose(merged.get(f"{name}/weight"), expected, rtol=1e-5, atol=1e-5)
    changed = [k for k in model.variables if not np.array_equal(model.get(k), merged.get(k))]
    assert changed == [f"{name}/weight"]
    assert adapter.rank == 4 and adapter.meta == {"steps": 3}


def test_adapters_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    model = tiny_ct2_model(np.random.default_rng(0))
    a, b = np.zeros((2, TINY_D), np.float32), np.zeros((TINY_D, 2), np.float32)
    missing = lora.load(_adapter(tmp_path / "m.npz", {"encoder/layer_7/ffn/linear_0": (a, b)}))
    with pytest.raises(lora.AdapterError, match="no encoder/layer_7"):
        lora.merge(model, missing)
    wrong = lora.load(_adapter(tmp_path / "w.npz", {"encoder/layer_0/ffn/linear_0": (a, b)}))
    with pytest.raises(lora.AdapterError, match="vs delta"):
        lora.merge(model, wrong)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(lora.AdapterError, match="not an adapter"):
        lora.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "half.npz", **{"encoder|layer_0|ffn|linear_0#a": a})
    with pytest.raises(lora.AdapterError, match="a but no b"):
        lora.load(tmp_path / "half.npz")


def test_the_shipped_adapter_fits_whisper_base_and_is_small() -> None:
    adapter = lora.load(lora.SHIPPED)
    assert lora.SHIPPED.stat().st_size < 4_000_000  # committed to git
    assert len(adapter.deltas) == 6 * 4  # every linear layer of the 6 encoder layers
    assert all(p.startswith("encoder/") for p in adapter.deltas)
    for prefix, (a, b) in adapter.deltas.items():
        assert a.shape[1] in {512, 2048} and b.shape[0] in {512, 1536, 2048}, prefix
    assert adapter.meta["steps"] > 0 and "history" in adapter.meta
    assert adapter.languages == ("tr",)  # English keeps plain Whisper (docs/speech.md)


def test_the_recipe_key_follows_the_adapter_choice(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:  # fmt: skip
    shipped = build.recipe_key()
    monkeypatch.setenv("ARMA_ASR_ADAPTER", "none")
    assert lora.selected() is None
    plain = build.recipe_key()
    other = _adapter(
        tmp_path / "o.npz",
        {
            "encoder/layer_0/ffn/linear_0": (
                np.ones((1, 512), np.float32),
                np.ones((2048, 1), np.float32),
            )
        },
    )
    monkeypatch.setenv("ARMA_ASR_ADAPTER", str(other))
    assert len({shipped, plain, build.recipe_key()}) == 3
    monkeypatch.setenv("ARMA_ASR_ADAPTER", str(tmp_path / "nope.npz"))
    with pytest.raises(lora.AdapterError, match="no such file"):
        lora.selected()

"""The CTranslate2 model.bin reader: round trip, and typed errors on damaged files.

Broken on purpose: truncated file, wrong version, unknown dtype, byte count that does not
match the shape, trailing garbage."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from models.asr.ct2 import CT2FormatError, CT2Model, read_model_bin, write_model_bin
from models.asr.tiny import tiny_ct2_model
from models.asr.weights import WhisperSpecError, WhisperWeights


def _small() -> CT2Model:
    return CT2Model(
        spec="WhisperSpec",
        revision=3,
        variables={
            "a/weight": np.arange(6, dtype=np.float16).reshape(2, 3),
            "a/flag": np.array(1, np.int8),
            "b/count": np.array(8, np.int16),
        },
        aliases={"c/weight": "a/weight"},
    )


def test_round_trip_keeps_names_shapes_dtypes_and_aliases(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    write_model_bin(path, _small())
    model = read_model_bin(path)
    assert model.spec == "WhisperSpec" and model.revision == 3
    assert model.variables["a/weight"].dtype == np.float16
    assert model.variables["a/flag"].shape == ()
    np.testing.assert_array_equal(model.get("c/weight"), [[0, 1, 2], [3, 4, 5]])
    assert model.get("c/weight").dtype == np.float32
    assert int(model.get("b/count")) == 8


def test_truncated_file_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    write_model_bin(path, _small())
    data = path.read_bytes()
    for cut in (3, 20, len(data) - 5):
        path.write_bytes(data[:cut])
        with pytest.raises(CT2FormatError):
            read_model_bin(path)


def test_wrong_version_and_trailing_bytes_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    write_model_bin(path, _small())
    data = path.read_bytes()
    path.write_bytes(struct.pack("<I", 5) + data[4:])
    with pytest.raises(CT2FormatError, match="version 5"):
        read_model_bin(path)
    path.write_bytes(data + b"\0")
    with pytest.raises(CT2FormatError, match="trailing"):
        read_model_bin(path)


def test_unknown_dtype_and_size_mismatch_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    write_model_bin(path, CT2Model("WhisperSpec", 1, {"x": np.zeros(2, np.float32)}))
    data = bytearray(path.read_bytes())
    # layout: version(4) name(2+12) revision(4) count(4) | "x": len(2)+2, rank(1), dim(4)
    dtype_at = 4 + 2 + len(b"WhisperSpec\0") + 8 + 2 + 2 + 1 + 4
    bad = bytearray(data)
    bad[dtype_at] = 9
    path.write_bytes(bytes(bad))
    with pytest.raises(CT2FormatError, match="dtype"):
        read_model_bin(path)
    bad = bytearray(data)
    bad[dtype_at + 1 : dtype_at + 5] = struct.pack("<I", 12)
    path.write_bytes(bytes(bad))
    with pytest.raises(CT2FormatError, match="bytes for shape"):
        read_model_bin(path)


def test_whisper_dims_from_the_tiny_spec_and_a_wrong_spec() -> None:
    weights = WhisperWeights.from_ct2(tiny_ct2_model(np.random.default_rng(0), n_layers=2))
    assert weights.dims.n_encoder_layers == 2 and weights.dims.n_decoder_layers == 2
    assert weights.dims.d_head == 32 and weights.dims.vocab == 51865
    with pytest.raises(WhisperSpecError):
        WhisperWeights.from_ct2(CT2Model("TransformerSpec", 1, {}))

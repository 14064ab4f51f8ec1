"""The export recipe on a tiny random Whisper (what CI runs so the recipe cannot rot):
CTranslate2 file -> ONNX graphs -> numpy check -> int8 -> tied embedding -> int8 check.

Broken on purpose: a graph built from different weights must fail the reference check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from models.asr import export, verify
from models.asr.build import DECODER_FILE, ENCODER_FILE, build_tiny
from models.asr.export import TIED_EMBEDDING
from models.asr.tiny import tiny_ct2_model
from models.asr.weights import WhisperWeights


def test_tiny_recipe_passes_its_checks_and_ties_the_embedding(tmp_path: Path) -> None:
    figures = build_tiny(tmp_path / "a")
    assert figures["float_check"]["logprob_max_abs"] <= verify.FLOAT_TOLERANCE["logprob_max_abs"]
    assert figures["int8_check"]["top1_agree"] == "3/3"
    decoder = onnx.load(tmp_path / "a" / DECODER_FILE)
    names = {i.name: i for i in decoder.graph.initializer}
    assert TIED_EMBEDDING not in names  # the float copy is gone
    quantized = names[f"{TIED_EMBEDDING}_quantized"]
    assert quantized.data_type == onnx.TensorProto.INT8
    assert sum(1 for n in names if "embedding" in n and n.endswith("_quantized")) == 1


def test_tiny_recipe_is_deterministic(tmp_path: Path) -> None:
    first = build_tiny(tmp_path / "a")["artifacts"]
    second = build_tiny(tmp_path / "b")["artifacts"]
    assert first == second
    assert set(first) == {ENCODER_FILE, DECODER_FILE}


def test_reference_check_catches_a_wrong_graph(tmp_path: Path) -> None:
    right = WhisperWeights.from_ct2(tiny_ct2_model(np.random.default_rng(0)))
    wrong = WhisperWeights.from_ct2(tiny_ct2_model(np.random.default_rng(1)))
    enc, dec = tmp_path / "enc.onnx", tmp_path / "dec.onnx"
    onnx.save(export.build_encoder(wrong), enc)
    onnx.save(export.build_decoder(wrong), dec)
    figures = verify.compare(right, enc, dec)
    with pytest.raises(verify.VerificationError):
        verify.require(figures, verify.FLOAT_TOLERANCE, "float export")
    onnx.save(export.build_encoder(right), enc)
    onnx.save(export.build_decoder(right), dec)
    verify.require(verify.compare(right, enc, dec), verify.FLOAT_TOLERANCE, "float export")

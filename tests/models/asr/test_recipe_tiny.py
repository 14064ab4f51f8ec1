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
from models.asr.weights import WhisperWeights, layer_names


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


def test_beams_in_one_batch_score_as_they_would_one_by_one(tmp_path: Path) -> None:
    """The decoder folds all beams into one query axis against the batch-1 audio keys: a
    batch of three different rows must give each row what it gets alone. (Float graphs:
    the int8 ones quantise activations per batch, which moves scores by ~0.03 either way.)"""
    import onnxruntime as ort

    from models.asr.features import encoder_input

    weights = WhisperWeights.from_ct2(tiny_ct2_model(np.random.default_rng(0)))
    enc_path, dec_path = tmp_path / "enc.onnx", tmp_path / "dec.onnx"
    onnx.save(export.build_encoder(weights), enc_path)
    onnx.save(export.build_decoder(weights), dec_path)
    enc = ort.InferenceSession(str(enc_path))
    dec = ort.InferenceSession(str(dec_path))
    rng = np.random.default_rng(5)
    mel = encoder_input((0.1 * rng.standard_normal(16000)).astype(np.float32))
    cross_names = [o.name for o in enc.get_outputs()]
    assert cross_names == layer_names("cross", 1)
    feeds = dict(zip(cross_names, enc.run(cross_names, {"mel": mel[None]}), strict=True))
    shape = (3, 2, 4, 32)
    past = {n: rng.standard_normal(shape).astype(np.float32) for n in layer_names("past", 1)}
    outputs = ["logprobs", *layer_names("present", 1)]
    for tokens in (
        np.array([[50258], [440], [2221]], np.int64),
        np.array([[50258, 440], [440, 2221], [2221, 13]], np.int64),  # two new tokens a row
    ):
        together, *present = dec.run(outputs, {"tokens": tokens, **past, **feeds})
        assert together.shape == (3, 51865)
        assert [p.shape for p in present] == [(3, 2, 4 + tokens.shape[1], 32)] * 2
        for row in range(3):
            alone, *_ = dec.run(
                outputs,
                {
                    "tokens": tokens[row : row + 1],
                    **{n: p[row : row + 1] for n, p in past.items()},
                    **feeds,
                },
            )
            assert np.allclose(alone[0], together[row], atol=1e-4), (tokens.shape, row)
    assert not np.allclose(together[0], together[1], atol=1e-2)  # the rows really differ

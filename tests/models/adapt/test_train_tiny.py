"""The adapter trainer on a tiny random Whisper (CI runs it so the recipe cannot rot).

The torch model must compute what the numpy reference computes, and a trained adapter,
merged into the weights by :mod:`models.adapt.lora`, must give the export the same function
the trainer optimised. Tried to break it: a nonzero adapter compared against the merged
reference (a transposed or unscaled merge fails), and a real training run on speech
synthesised here with training voices."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from models.adapt import corpus, lora, train
from models.asr import reference
from models.asr.build import ADAPTED_ENCODER_FILE, ENCODER_FILE, BuiltModel, export_ct2
from models.asr.ct2 import write_model_bin
from models.asr.decoder import WhisperRunner
from models.asr.features import encoder_input, log_mel
from models.asr.source import source_packages
from models.asr.tiny import tiny_ct2_model
from models.asr.tokens import WhisperTokenizer
from models.asr.weights import WhisperWeights


@pytest.fixture(scope="module")
def tokenizer_path() -> Path:
    return source_packages()[0].directory / "data" / "tokenizer.json"


def _speech(seconds: float = 1.2) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.2 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def test_torch_model_with_a_nonzero_adapter_matches_the_merged_numpy_reference(
    tmp_path: Path, tokenizer_path: Path
) -> None:
    model = tiny_ct2_model(np.random.default_rng(5))
    weights = {k: model.get(k) for k in model.variables}
    net = train.Whisper(weights, rank=4, scale=2.0).to(torch.device("cpu"))
    with torch.no_grad():
        for mod in net.lora.values():
            assert isinstance(mod, train.LoRA)
            mod.b.normal_(0.0, 0.05)
    path = tmp_path / "adapter.npz"
    train._save(path, net, {"steps": 0})
    merged = WhisperWeights.from_ct2(lora.merge(model, lora.load(path)))
    plain = WhisperWeights.from_ct2(model)
    mel = encoder_input(_speech(), tail_seconds=1.0)
    tokens = [*WhisperTokenizer.load(tokenizer_path).prompt("tr"), 400, 401]
    with torch.no_grad():
        audio = net.encode(torch.from_numpy(mel)[None])
        got = torch.log_softmax(net.decode(audio, torch.tensor([tokens]))[0, -1], -1).numpy()
    want = reference.decode_logprobs(merged, reference.encode(merged, mel), tokens)
    unadapted = reference.decode_logprobs(plain, reference.encode(plain, mel), tokens)
    np.testing.assert_allclose(got, want, atol=2e-3)
    assert np.abs(want - unadapted).max() > 1e-2  # the adapter changed something


def _tiny_run(tmp_path: Path, tokenizer_path: Path) -> tuple[Path, Path, Any]:
    """A 20-sentence corpus synthesised with training voices, and a tiny random Whisper
    packed as the trainer reads it: (corpus, weights, the CTranslate2 model)."""
    texts = corpus.sentences("tr", 20, 9)  # 5 % held out for validation: one sentence
    voices = corpus.training_voices("tr", random.Random(9), len(texts))
    items = [(t, v) for t, v in zip(texts, voices, strict=True)]
    data = tmp_path / "corpus"
    corpus.write(data, [("tr", t, v, corpus.synthesize(t, v)) for t, v in items], shards=2)
    model = tiny_ct2_model(np.random.default_rng(2))
    train.pack({k: model.get(k) for k in model.variables}, tmp_path / "w")
    return data, tmp_path / "w", model


def _train(data: Path, weights: Path, tokenizer: Path, out: Path, *extra: str) -> int:
    paths = ["--corpus", str(data), "--weights", str(weights), "--tokenizer", str(tokenizer)]
    run = ["--out", str(out), "--steps", "3", "--batch", "2", "--rank", "2", "--every", "3"]
    return train.main([*paths, *run, *extra])


def test_a_few_training_steps_write_an_adapter_the_recipe_exports(
    tmp_path: Path, tokenizer_path: Path
) -> None:
    data, weights, model = _tiny_run(tmp_path, tokenizer_path)
    out = tmp_path / "adapter.npz"
    code = _train(data, weights, tokenizer_path, out)
    assert code == 0
    adapter = lora.load(out)
    assert adapter.rank == 2 and adapter.meta["steps"] == 3
    history = adapter.meta["history"]
    assert [h["step"] for h in history] == [0, 3]
    assert adapter.meta["val_items"] >= 1 and adapter.meta["train_items"] == 19
    assert all(0 < h["clean"] < 100 and 0 < h["9dB"] < 100 for h in history)
    assert any(np.abs(b).max() > 0 for _, b in adapter.deltas.values())  # it learned
    model_bin = tmp_path / "model.bin"
    write_model_bin(model_bin, model)
    figures = export_ct2(model_bin, tmp_path / "onnx", tmp_path, adapter)
    assert figures["float_check"]["top1_agree"] == "3/3"
    assert figures["adapted_float_check"]["top1_agree"] == "3/3"
    # the adapted encoder serves the adapter's languages only; the decoder is shared
    built = BuiltModel(tmp_path / "onnx", {"adapter": {"languages": list(adapter.languages)}})
    assert built.encoders == {
        "*": tmp_path / "onnx" / ENCODER_FILE,
        "tr": tmp_path / "onnx" / ADAPTED_ENCODER_FILE,
    }
    runner = WhisperRunner(built.encoders, built.decoder, WhisperTokenizer.load(tokenizer_path))
    audio = _speech()
    plain, english = runner.encode(audio), runner.encode(audio, language="en")
    turkish = runner.encode(audio, language="tr")
    keys = "cross_k_0"
    np.testing.assert_array_equal(plain.feeds[keys], english.feeds[keys])
    assert np.abs(turkish.feeds[keys] - plain.feeds[keys]).max() > 1e-3


def test_the_trainers_front_end_computes_the_hubs_log_mel() -> None:
    audio = np.concatenate([_speech(0.9), np.zeros(7000, np.float32)])
    got = train.Frontend(torch.device("cpu"))(torch.from_numpy(audio)[None])[0].numpy()
    want = log_mel(audio)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_moving_the_model_keeps_its_weight_names_on_the_moved_tensors() -> None:
    model = tiny_ct2_model(np.random.default_rng(4))
    net = train.Whisper({k: model.get(k) for k in model.variables}, rank=2, scale=1.0)
    net = net.to(torch.float64)
    assert all(t.dtype == torch.float64 for t in net.w.values())
    assert net.w["encoder/conv1/weight"] is net.encoder__conv1__weight


def test_training_goes_on_from_a_given_adapter_and_refuses_one_that_does_not_fit(
    tmp_path: Path, tokenizer_path: Path
) -> None:
    """``--init``: the shipped adapter fine-tuned on CPU (docs/speech.md, "Encoder adapter").
    With a learning rate of 0 the run must write back exactly the adapter it started from
    (a scale applied twice or not at all, or a transposed matrix, changes it); an adapter of
    another rank is refused before any training."""
    data, weights, _ = _tiny_run(tmp_path, tokenizer_path)
    first = tmp_path / "first.npz"
    assert _train(data, weights, tokenizer_path, first) == 0
    again = tmp_path / "again.npz"
    assert _train(data, weights, tokenizer_path, again, "--init", str(first), "--lr", "0") == 0
    start, resumed = lora.load(first), lora.load(again)
    assert resumed.meta["init"]["sha256"] == start.sha256
    assert set(resumed.deltas) == set(start.deltas)
    for name, (a, b) in start.deltas.items():
        np.testing.assert_array_equal(resumed.deltas[name][0], a)
        np.testing.assert_array_equal(resumed.deltas[name][1], b)
    assert any(np.abs(b).max() > 0 for _, b in start.deltas.values())
    with pytest.raises(lora.AdapterError, match="rank"):
        _train(data, weights, tokenizer_path, tmp_path / "x.npz", "--init", str(first),
               "--rank", "4")  # fmt: skip

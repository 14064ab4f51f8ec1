"""`arma-models eval --seed N` must mix the same noise into the same utterances in every run:
figures in docs/benchmarks.md are compared across runs. Python randomises string hashing
per process, so anything iterating a set of languages drew the babble talkers in a
different order from run to run (it did, until the third session)."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import hashlib
import numpy as np
from models.eval.run import NoiseDraw, Utterance, _noise_bank, _noisy

rng = np.random.default_rng(7)
utts = [
    Utterance("d", lang, f"u{i}", None, {}, "v", rng.standard_normal(4000).astype(np.float32))
    for i, lang in enumerate(["tr", "en", "de"] * 4)
]
draw = NoiseDraw(utts, 23)
mixed = [audio for snr in (9.0, 6.0) for _, audio in draw.mixed(snr)]
# the evaluation's loop before NoiseDraw (226e284): the same generator, bank first, then
# each utterance in turn, SNR by SNR; NoiseDraw must hear exactly that
rng_before = np.random.default_rng(23)
bank = _noise_bank(utts, rng_before)
before = [_noisy(u, snr, bank, rng_before) for snr in (9.0, 6.0) for u in utts]
assert all(np.array_equal(a, b) for a, b in zip(mixed, before, strict=True))
print(hashlib.sha256(b"".join(m.astype(np.float32).tobytes() for m in mixed)).hexdigest())
"""


def _digest(hash_seed: int) -> str:
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_noise_draw_does_not_depend_on_the_process() -> None:
    digests = {_digest(seed) for seed in range(6)}
    assert len(digests) == 1, digests
    assert len(next(iter(digests))) == 64


def test_the_neural_voice_draws_its_noise_apart_and_comes_last() -> None:
    """Adding the neural voice must not change the synthetic voices' noise (their rows are
    compared with runs from before it was added), and benchmarks replaying the evaluation
    hear the utterances in the evaluation's order."""
    import numpy as np

    from models.eval.run import NoiseDraw, Utterance

    rng = np.random.default_rng(5)

    def utt(i: int, neural: bool) -> Utterance:
        audio = rng.standard_normal(3000).astype(np.float32)
        return Utterance("d", "en", f"u{i}", None, {}, "v", audio, neural=neural)

    synthetic = [utt(i, False) for i in range(6)]
    neural = [utt(i, True) for i in range(3)]
    alone = [audio for _, audio in NoiseDraw(synthetic, 11).mixed(9.0)]
    both = NoiseDraw([neural[0], *synthetic[:3], *neural[1:], *synthetic[3:]], 11)
    heard = list(both.mixed(9.0))
    assert [u.text for u, _ in heard] == [u.text for u in synthetic + neural]
    assert all(np.array_equal(a, b) for a, (_, b) in zip(alone, heard, strict=False))
    assert not any(np.array_equal(u.audio, audio) for u, audio in heard)  # noise mixed in

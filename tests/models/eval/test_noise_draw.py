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
from models.eval.run import Utterance, _noise_bank, _noisy

rng = np.random.default_rng(7)
utts = [
    Utterance("d", lang, f"u{i}", None, {}, "v", rng.standard_normal(4000).astype(np.float32))
    for i, lang in enumerate(["tr", "en", "de"] * 4)
]
draw = np.random.default_rng(23)
bank = _noise_bank(utts, draw)
mixed = [_noisy(u, 9.0, bank, draw) for u in utts]
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

"""Hashed bag of word unigrams, bigrams, word prefixes and character n-grams.

Character 3-5-grams inside word boundaries make the model tolerant to recognition errors and
Turkish suffixes ("randevu", "randevumu", "randevusu" share most n-grams); word prefixes
approximate stems. Hashing (crc32) keeps the feature space fixed whatever the catalog size.
"""

from __future__ import annotations

import itertools
import zlib

import numpy as np

DIM = 4096


def _h(s: str) -> int:
    return zlib.crc32(s.encode("utf-8")) % DIM


def feature_ids(words: list[str]) -> dict[int, float]:
    """Sparse feature counts for a word list."""
    feats: dict[int, float] = {}

    def add(key: str, weight: float = 1.0) -> None:
        i = _h(key)
        feats[i] = feats.get(i, 0.0) + weight

    padded = ["<s>", *words, "</s>"]
    for w in words:
        add("w:" + w)
        add("p:" + w[:4], 0.5)
        marked = f"#{w}#"
        for n in (3, 4, 5):
            for k in range(max(1, len(marked) - n + 1)):
                add(f"c{n}:" + marked[k : k + n], 0.3)
    for a, b in itertools.pairwise(padded):
        add(f"b:{a} {b}", 0.7)
    return feats


def featurize(batch: list[list[str]]) -> np.ndarray:
    """Dense float32 matrix (len(batch), DIM), rows L2-normalised (log-scaled counts)."""
    x = np.zeros((len(batch), DIM), dtype=np.float32)
    for r, words in enumerate(batch):
        for i, v in feature_ids(words).items():
            x[r, i] = np.log1p(v)
        norm = float(np.linalg.norm(x[r]))
        if norm > 0:
            x[r] /= norm
    return x

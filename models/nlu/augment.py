"""Noise that imitates speech recognition errors, applied to training sentences."""

from __future__ import annotations

import random

FILLERS = {
    "tr": ["şey", "ee", "lütfen", "acaba", "hani", "yani", "bir", "merhaba", "peki"],
    "en": ["uh", "um", "please", "like", "so", "well", "hi", "okay", "the"],
}
# inflections speakers put on catalog names and verbs that templates do not list
SUFFIXES = {
    "tr": [
        "ı",
        "i",
        "u",
        "ü",
        "yı",
        "yi",
        "dan",
        "den",
        "ndan",
        "nden",
        "a",
        "e",
        "ya",
        "ye",
        "lar",
        "ler",
        "ları",
        "leri",
        "nın",
        "nin",
        "ım",
        "im",
    ],
    "en": ["s", "es", "ed", "ing"],
}
_TR_CHARS = "abcçdefgğhıijklmnoöprsştuüvyz"


def corrupt(words: list[str], rng: random.Random, language: str) -> list[str]:
    """Drop, duplicate, swap, misspell or inflect words, add fillers (each rarely)."""
    out: list[str] = []
    for word in words:
        r = rng.random()
        if r < 0.07 and len(words) > 2:
            continue  # dropped word
        if word.startswith("<"):  # a class token ("<product>") is never misheard
            out.append(word)
            continue
        w = _misspell(word, rng, language) if r < 0.14 and len(word) > 3 else word
        if 0.14 <= r < 0.22 and len(word) > 2:
            w = w + rng.choice(SUFFIXES[language])
        out.append(w)
        if rng.random() < 0.03:
            out.append(w)
    if len(out) > 2 and rng.random() < 0.1:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    if rng.random() < 0.2:
        out.insert(rng.randrange(len(out) + 1), rng.choice(FILLERS[language]))
    return out or words


def _misspell(w: str, rng: random.Random, language: str) -> str:
    chars = _TR_CHARS if language == "tr" else "abcdefghijklmnopqrstuvwxyz"
    i = rng.randrange(len(w))
    op = rng.random()
    if op < 0.4:
        return w[:i] + rng.choice(chars) + w[i + 1 :]
    if op < 0.7:
        return w[:i] + w[i + 1 :]
    if op < 0.85 and len(w) > 5:
        return w[: rng.randint(4, len(w) - 1)]  # truncated suffix
    return w[:i] + rng.choice(chars) + w[i:]

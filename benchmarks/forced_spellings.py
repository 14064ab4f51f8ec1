"""What Whisper thinks of given spellings of one synthesised utterance, token by token: a
diagnostic for a command the recogniser gets wrong (docs/speech.md, "Rejection rules
measured").

    .venv/bin/python -m benchmarks.forced_spellings --domain salon_tr \\
        --voice espeak:tr@0.80/p50 "evet onaylıyorum" \\
        " evet onaylıyorum?" " ev|et| on|ay|lı|yor|um|?"

Synthesises the text with the voice, prints what the engine answers and Whisper's free
reading, then for each spelling (pieces separated by "|" are encoded one by one, so any
tokenisation can be forced; without "|" the tokenizer's own) each token's log-probability
with the token Whisper liked best there, and the mean per token, the end of text included:
close to what the recogniser measures margins with, not equal (one row here, where the
search's batch quantises int8 activations with other rows, ~0.2 nats; no numeral entry
cost; no ending cost, which the ranking adds; and the free reading is a plain greedy pass,
not cut where it loops).
"""

from __future__ import annotations

import argparse

from models.engine import Engine
from models.eval.synth import Voice, synthesize


def parse_voice(label: str, language: str) -> Voice:
    """``engine:name@speed/ppitch``, as the evaluation writes voices (espeak:tr@0.80/p50)."""
    engine, rest = label.split(":", 1)
    name, rest = rest.split("@", 1)
    speed, pitch = rest.split("/p", 1)
    return Voice(engine, name, language, float(speed), int(pitch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", required=True, help="an example domain: salon_tr, shop_en…")
    parser.add_argument("--voice", required=True, help="e.g. espeak:tr@0.80/p50, piper:joe@0.85/p0")
    parser.add_argument("text", help="what the voice says")
    parser.add_argument("spellings", nargs="*", help='e.g. " evet onaylıyorum?" " ev|et| on|…"')
    args = parser.parse_args()
    engine = Engine(f"models/domains/{args.domain}.yaml")
    language = engine.domain.language
    recognizer, tokenizer = engine.recognizer, engine.recognizer.tokenizer
    runner = recognizer.runner
    audio = synthesize(args.text, parse_voice(args.voice, language))
    result = engine.recognize(audio)
    print(f"engine: {result.text!r} -> {result.intent} (margin {result.margin:.2f})")
    cross = runner.encode(audio, recognizer.tail_seconds, recognizer.min_window_seconds, language)
    free = runner.greedy(cross, language)
    print(f"free reading: {tokenizer.decode(list(free.tokens))!r} (mean {free.mean_logprob:.2f})")
    for spelling in args.spellings:
        pieces = spelling.split("|") if "|" in spelling else [spelling]
        ids = [t for piece in pieces for t in tokenizer.encode(piece)] + [tokenizer.eot]
        scored = [(t, *f) for t, f in zip(ids, runner.forced(cross, language, ids), strict=True)]
        mean = sum(lp for _, lp, _, _ in scored) / len(scored)
        print(f"{spelling!r}: mean {mean:.2f}")

        def text(token: int) -> str:
            return "<end>" if token == tokenizer.eot else repr(tokenizer.decode([token]))

        for token, lp, top, top_lp in scored:
            print(f"    {text(token):>12} {lp:7.2f}   (best there: {text(top)} {top_lp:.2f})")


if __name__ == "__main__":
    main()

"""Worst-case memory of the speech engine: long speech that the domain rejects.

    .venv/bin/python -m benchmarks.retry_memory             # the shipped retry budget
    .venv/bin/python -m benchmarks.retry_memory --uncapped  # all 32 paths at any length
    .venv/bin/python -m benchmarks.retry_memory --path-tokens 1024  # another budget

Such speech runs the narrow search, finds nothing acceptable, then the wide retry, which
runs to its token budget: the largest key/value cache the hub ever holds. One process per
setting (the peak RSS of a process only grows), both domains of the latency benchmark,
the models warmed up on one request first. Prints RSS after loading and after each
utterance with the process's peak so far, and the time each utterance took.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.speech_latency import MAX_SECONDS, NOW, REJECTED, REQUESTS, rss_mb
from models.asr.recognizer import RETRY_PATH_TOKENS, Recognizer
from models.domain import compile_domain, load_domain
from models.domain.loader import DOMAINS_DIR
from models.engine import Engine
from models.eval.synth import synthesize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uncapped", action="store_true", help="no key/value budget")
    parser.add_argument("--path-tokens", type=int, default=RETRY_PATH_TOKENS, help="the budget")
    args = parser.parse_args()
    budget = None if args.uncapped else args.path_tokens
    recognizer = Recognizer(threads=1, retry_path_tokens=budget)
    engines = {
        name: Engine(
            compile_domain(load_domain(DOMAINS_DIR / f"{name}.yaml")),
            recognizer=recognizer,
            clock=lambda: NOW,
        )
        for name in REJECTED
    }
    for name, engine in engines.items():
        voice, texts = REQUESTS[name]
        engine.recognize(synthesize(texts[0], voice))
    label = "uncapped retry" if budget is None else f"retry budget {budget} path-tokens"
    rss, peak = rss_mb()
    print(f"{label}: loaded and warmed up, RSS {rss:.0f} MB, peak {peak:.0f} MB")
    for name, engine in engines.items():
        voice, _ = REQUESTS[name]
        for text in REJECTED[name]:
            audio = synthesize(text, voice)[: int(MAX_SECONDS * 16000)]
            t0 = time.perf_counter()
            result = engine.recognize(audio)
            elapsed = (time.perf_counter() - t0) * 1000
            rss, peak = rss_mb()
            print(
                f"  {name} {audio.size / 16000:.1f} s: intent {result.intent}, {elapsed:.0f} ms, "
                f"RSS {rss:.0f} MB, peak so far {peak:.0f} MB"
            )


if __name__ == "__main__":
    main()

"""Beam pruning A/B in one process: the latency benchmark's requests, one-shot, alternating
between no pruning and ``--prune`` nats, so both see the same machine. ``--prior`` compares
the favourite-phrase prior off and on instead (docs/speech.md, "Favourite phrases"), with its
cache emptied before every request: the cost of phrases the hub has not scored before.

    .venv/bin/python -m benchmarks.prune_ab [--prune 8 | --prior] [--runs 3]

Prints, per language and setting, the p50 and max of the decode time and of the whole
``Engine.recognize`` call, and whether each request was recognised.
"""

from __future__ import annotations

import argparse
import statistics

from benchmarks.speech_latency import NOW, REQUESTS, trim_silence
from models.asr.recognizer import Recognizer
from models.domain import compile_domain, load_domain
from models.domain.loader import DOMAINS_DIR
from models.engine import Engine
from models.eval.synth import synthesize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prune", type=float, default=8.0)
    parser.add_argument("--prior", action="store_true", help="prior off/on, not pruning")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.prior:
        recognizers = {
            "prior off": Recognizer(threads=1, prior_weight=0.0),
            "prior on": Recognizer(threads=1),
        }
    else:
        recognizers = {
            "none": Recognizer(threads=1),
            f"{args.prune:g} nats": Recognizer(threads=1, prune=args.prune),
        }
    for name, (voice, texts) in REQUESTS.items():
        audios = [trim_silence(synthesize(text, voice)) for text in texts]
        engines = {
            label: Engine(
                compile_domain(load_domain(DOMAINS_DIR / f"{name}.yaml")),
                recognizer=recognizer,
                clock=lambda: NOW,
            )
            for label, recognizer in recognizers.items()
        }
        for engine in engines.values():
            engine.recognize(audios[0])  # warm-up
        decode: dict[str, list[float]] = {label: [] for label in engines}
        total: dict[str, list[float]] = {label: [] for label in engines}
        recognised: dict[str, int] = dict.fromkeys(engines, 0)
        for _ in range(args.runs):
            for audio in audios:
                for label, engine in engines.items():
                    engine.recognizer.forget_priors()
                    result = engine.recognize(audio)
                    decode[label].append(result.timings["decode"])
                    total[label].append(result.timings["total"])
                    recognised[label] += result.intent is not None
        for label in engines:
            print(
                f"{name} {label}: decode p50 {statistics.median(decode[label]):.0f} ms "
                f"(max {max(decode[label]):.0f}), recognize p50 "
                f"{statistics.median(total[label]):.0f} ms (max {max(total[label]):.0f}), "
                f"recognised {recognised[label]}/{len(total[label])}"
            )


if __name__ == "__main__":
    main()

"""``arma-models``: build the speech artifacts, recognise WAV files, run the evaluation.

arma-models build [--tiny] [--out DIR]
arma-models recognize --domain FILE.yaml [--json] AUDIO.wav ...
arma-models eval [--quick] [--n N] [--domains salon,shop] [--languages tr,en] [--seed S] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)


def _recognize(args: argparse.Namespace) -> int:
    from models.asr.audio import AudioFormatError, read_wav
    from models.engine import Engine

    engine = Engine(args.domain, threads=args.threads)
    status = 0
    for path in args.audio:
        t0 = time.perf_counter()
        try:
            samples = read_wav(path)
        except (AudioFormatError, OSError) as exc:
            sys.stderr.write(f"{path}: {exc}\n")
            status = 2
            continue
        result = engine.recognize(samples)
        elapsed = (time.perf_counter() - t0) * 1000
        if args.json:
            line = {
                "file": str(path),
                "intent": result.intent,
                "slots": result.slots,
                "text": result.text,
                "confidence": round(result.confidence, 4),
                "elapsed_ms": round(elapsed, 1),
            }
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        else:
            label = result.intent or "(not recognised)"
            sys.stdout.write(f"{path}: {label} {result.slots} {result.text!r} {elapsed:.0f} ms\n")
        sys.stdout.flush()
    return status


def _build(args: argparse.Namespace) -> int:
    from models.asr import build

    argv = []
    if args.out:
        argv += ["--out", str(args.out)]
    if args.tiny:
        argv.append("--tiny")
    return build.main(argv)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arma-models", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_build = sub.add_parser("build", help="rebuild the int8 ONNX speech artifacts")
    p_build.add_argument("--out", type=Path)
    p_build.add_argument("--tiny", action="store_true", help="tiny random model (CI check)")
    p_build.set_defaults(func=_build)

    p_rec = sub.add_parser("recognize", help="recognise WAV files against a domain")
    p_rec.add_argument("--domain", required=True, type=Path, help="domain YAML file")
    p_rec.add_argument("--json", action="store_true", help="one JSON line per file")
    p_rec.add_argument("--threads", type=int, default=1)
    p_rec.add_argument("audio", nargs="+", type=Path)
    p_rec.set_defaults(func=_recognize)

    # `eval` has its own parser (models.eval.run): everything after it goes there
    sub.add_parser("eval", help="synthetic evaluation with noise and a peer (eval --help)")

    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["eval"]:
        from models.eval import run

        return run.main(args_in[1:])
    args = parser.parse_args(args_in)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())

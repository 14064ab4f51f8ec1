"""Each answer word of a confirmation said alone by every evaluation voice of the language,
decoded over the whole domain and focused on the answers (docs/speech.md, "Fine-tuned for
everyday replies"): a quick look at the confusions that matter most ("dur" heard as
"doğru" is Cancel heard as Yes).

    .venv/bin/python -m benchmarks.answer_words [--domain salon_tr] [--model-dir DIR]

``--model-dir``: built artifacts to use (e.g. another adapter's, ``ARMA_ASR_ADAPTER=FILE
python -m models.asr.build --out DIR --no-manifest``); default: the shipped build. Prints a
line per word (whole domain / focused, per voice) and how many of all were read right.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from models.asr.build import load_built
from models.asr.recognizer import Recognizer
from models.domain import compile_domain, load_domain
from models.domain.loader import DOMAINS_DIR
from models.engine import Engine
from models.eval.run import ANSWERS, NOW, _pad
from models.eval.synth import VOICES, synthesize

WORDS = {
    "tr": ("dur", "doğru", "evet", "hayır", "iptal", "tamam", "bitir", "onaylıyorum",
           "evet onaylıyorum", "vazgeç"),
    "en": ("stop", "that's right", "yes", "no", "cancel", "okay", "abort", "wrong", "pardon",
           "help"),
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="salon_tr", help="an example domain")
    parser.add_argument("--model-dir", type=Path, help="built artifacts (default: shipped)")
    args = parser.parse_args()
    built = load_built(args.model_dir) if args.model_dir else None
    if args.model_dir and built is None:
        parser.error(f"no built speech model in {args.model_dir}")
    recognizer = Recognizer(built, threads=1)
    domain = compile_domain(load_domain(DOMAINS_DIR / f"{args.domain}.yaml"))
    engine = Engine(domain, recognizer=recognizer, clock=lambda: NOW)
    right = total = 0
    for word in WORDS[domain.language]:
        heard = []
        for voice in VOICES[domain.language]:
            audio = _pad(synthesize(word, voice))
            whole = engine.recognize(audio).text
            focused = engine.recognize(audio, expect=ANSWERS).text
            heard.append(f"{whole or '-'}/{focused or '-'}")
            right += (whole == word) + (focused == word)
            total += 2
        print(f"{word:<18} {' | '.join(heard)}")
    print(f"read right: {right} of {total} (whole domain and focused)")


if __name__ == "__main__":
    main()

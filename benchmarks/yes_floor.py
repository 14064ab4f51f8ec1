"""Would a confirmation that asks for more confidence before a Yes place fewer wrong orders?
(docs/speech.md, "Noise: tried in the fourteenth session").

    .venv/bin/python -m benchmarks.yes_floor EVAL_OUT [EVAL_OUT ...]

Reads the ``outcomes.jsonl`` of ``arma-models eval`` runs and takes the answer turns decoded
as the hub decodes them while it waits for a confirmation (``arma, answers: focused``). For
each candidate floor on a Yes's confidence, prints per language how many Yes answers it would
send back as "please say again": right ones (Yes was said), wrong ones (another answer was
said) and out-of-domain ones. A Yes places the order; a No or "not recognised" places
nothing, so a floor trades a second question for some customers against fewer wrong orders.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from models.asr.recognizer import REJECT_MARGINS, confidence_from_margin

FLOORS = (0.6, 0.7, 0.8, 0.9)
SYSTEM = "arma, answers: focused"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="arma-models eval --out folders")
    args = parser.parse_args()
    yes = []  # (language, what was said, confidence)
    for run in args.runs:
        for line in (run / "outcomes.jsonl").read_text().splitlines():
            o = json.loads(line)
            if o["system"] != SYSTEM or o["intent"] != "Yes":
                continue
            said = o["expected_intent"]
            kind = "right" if said == "Yes" else "out of domain" if said is None else "wrong"
            confidence = confidence_from_margin(o["margin"], REJECT_MARGINS[o["language"]])
            yes.append((o["language"], kind, confidence))
    print_floors(yes, FLOORS)


def print_floors(yes: list[tuple[str, str, float]], floors: tuple[float, ...]) -> None:
    """Accepted Yes answers (language, what was said, confidence): how many each floor on
    the confidence would send back, by language and what was said."""
    print(f"Yes accepted: {dict(sorted(collections.Counter(y[:2] for y in yes).items()))}")
    for floor in floors:
        turned = collections.Counter(y[:2] for y in yes if y[2] < floor)
        print(f"floor {floor}: asks again {dict(sorted(turned.items()))}")


if __name__ == "__main__":
    main()

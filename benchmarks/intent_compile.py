"""Domain compile time with a 500-entry catalog, and understanding speed/accuracy against hassil.

Run: .venv/bin/python benchmarks/intent_compile.py [--entries 500] [--sentences 200]

For the shop (products) and salon (services) domains in Turkish and English, a catalog of
N synthetic entries replaces the defaults; the script times load_domain + compile_domain
(grammar and intent model separately), prints word-graph size, then understands sampled
sentences (clean and with recognition-like noise) and runs hassil's own recognizer (the
Home Assistant template matcher, built-in slots as wildcards) on the same sentences as the peer.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from hassil import Intents, recognize

from models.domain import DOMAINS_DIR, compile_domain, load_domain
from models.nlu.augment import corrupt

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/Istanbul"))
WORDS = {
    "tr": (
        [
            "onarıcı",
            "nemlendirici",
            "arındırıcı",
            "besleyici",
            "yatıştırıcı",
            "canlandırıcı",
            "aydınlatıcı",
            "sıkılaştırıcı",
            "koruyucu",
            "yenileyici",
        ],
        [
            "gül",
            "lavanta",
            "argan",
            "hindistan cevizi",
            "aloe vera",
            "çay ağacı",
            "zeytin",
            "badem",
            "shea",
            "kil",
        ],
        ["krem", "şampuan", "serum", "maske", "tonik", "losyon", "sabun", "yağ", "jel", "sprey"],
    ),
    "en": (
        [
            "repairing",
            "hydrating",
            "purifying",
            "nourishing",
            "soothing",
            "reviving",
            "brightening",
            "firming",
            "protective",
            "renewing",
        ],
        [
            "rose",
            "lavender",
            "argan",
            "coconut",
            "aloe vera",
            "tea tree",
            "olive",
            "almond",
            "shea",
            "clay",
        ],
        ["cream", "shampoo", "serum", "mask", "toner", "lotion", "soap", "oil", "gel", "spray"],
    ),
}


def catalog(language: str, n: int) -> list[dict[str, str]]:
    combos = list(itertools.product(*WORDS[language]))
    random.Random(1).shuffle(combos)
    return [{"id": f"item-{i}", "name": " ".join(c)} for i, c in enumerate(combos[:n])]


def hassil_peer(path: str, key: str, entries: list[dict[str, str]]) -> Intents:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    dialogue_path = DOMAINS_DIR / f"dialogue_{data['language']}.yaml"
    dialogue = yaml.safe_load(dialogue_path.read_text(encoding="utf-8"))
    data["intents"].update(dialogue["intents"])  # the same shared dialogue intents as ours
    for name, spec in data["lists"].items():
        if "builtin" in spec:
            data["lists"][name] = {"wildcard": True}
        elif spec.get("catalog") == key:
            data["lists"][name] = {"values": [{"in": e["name"], "out": e["id"]} for e in entries]}
        else:
            data["lists"][name] = {
                "values": [
                    v
                    if isinstance(v, str)
                    else {"in": v.get("in", v.get("name")), "out": v.get("out", v.get("id"))}
                    for v in spec["values"]
                ]
            }
    for spec in data["intents"].values():
        for k in ("reply", "required", "ask"):
            spec.pop(k, None)
    data.pop("arma", None)
    return Intents.from_dict(data)


def pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


def run(domain: str, key: str, entries_n: int, sentences: int) -> None:
    language = domain.rsplit("_", 1)[1]
    path = str(DOMAINS_DIR / f"{domain}.yaml")
    entries = catalog(language, entries_n)
    t0 = time.perf_counter()
    d = load_domain(path, catalog={key: entries})
    t1 = time.perf_counter()
    c = compile_domain(d, train_intent_model=False)
    t2 = time.perf_counter()
    c.train_intent_model()
    t3 = time.perf_counter()
    g = c.word_graph
    print(f"\n## {domain} with {entries_n} {key}")
    print(
        f"compile: load {t1 - t0:.2f}s, grammar {t2 - t1:.2f}s, intent model {t3 - t2:.2f}s,"
        f" total {t3 - t0:.2f}s; word graph {g.num_states} states, {len(g.arcs)} arcs,"
        f" {len(g.vocabulary())} words"
    )
    samples = c.sample_sentences(sentences, seed=5, now=NOW)
    rng = random.Random(5)
    noisy = [" ".join(corrupt(s.text.split(), rng, language)) for s in samples]
    t4 = time.perf_counter()
    peer = hassil_peer(path, key, entries)
    t5 = time.perf_counter()
    print(f"hassil peer: Intents.from_dict {t5 - t4:.2f}s")
    for label, texts in (("clean", [s.text for s in samples]), ("noisy", noisy)):
        ours_ms, peer_ms = [], []
        ours_ok = ours_cmd = peer_ok = 0
        for s, text in zip(samples, texts, strict=True):
            a = time.perf_counter()
            u = c.understand(text, NOW)
            b = time.perf_counter()
            r = recognize(text, peer)
            e = time.perf_counter()
            ours_ms.append((b - a) * 1000)
            peer_ms.append((e - b) * 1000)
            ours_ok += u.intent == s.intent
            ours_cmd += u.intent == s.intent and u.slots == s.slots
            peer_ok += (r.intent.name if r else None) == s.intent
        n = len(samples)
        print(
            f"{label}: ours intent {ours_ok / n:.1%} (intent+slots {ours_cmd / n:.1%}), "
            f"p50 {statistics.median(ours_ms):.2f} ms, p95 {pct(ours_ms, 0.95):.2f} ms | "
            f"hassil intent {peer_ok / n:.1%}, p50 {statistics.median(peer_ms):.2f} ms, "
            f"p95 {pct(peer_ms, 0.95):.2f} ms | p50 ratio hassil/ours "
            f"{statistics.median(peer_ms) / statistics.median(ours_ms):.1f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=500)
    ap.add_argument("--sentences", type=int, default=200)
    args = ap.parse_args()
    for domain, key in (
        ("shop_tr", "products"),
        ("shop_en", "products"),
        ("salon_tr", "services"),
        ("salon_en", "services"),
    ):
        run(domain, key, args.entries, args.sentences)


if __name__ == "__main__":
    main()

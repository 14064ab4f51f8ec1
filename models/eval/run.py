"""``arma-models eval``: command accuracy, WER, latency, RTF, memory and size on synthetic
voices at several SNRs, with pocketsphinx as a peer on the English domains, and a PNG plot.

Every utterance is a sentence from a domain's ``sample_sentences`` (expected intent and
normalised slots given the fixed reference time), spoken by a voice of
:mod:`models.eval.synth`, padded with 0.3 s of silence, mixed with babble + pink noise at each
SNR, and recognised through :meth:`models.engine.Engine.recognize` on one thread. A command
counts only when the intent and every slot are right. Out-of-domain sentences measure false
accepts; their margins and the in-domain ones calibrate the rejection threshold.

``--streamed`` also feeds the same audio, in 32 ms PCM16 chunks, through a
:class:`models.engine.Session` as the hub does (voice activity, a decode at each pause, the
confident end after 250 ms of silence, the device's end of stream after the last chunk), in
rows of their own ("arma, streamed").
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.eval.noise import babble, mix_at_snr, pink_noise
from models.eval.report import plot_accuracy, render_table, summarise
from models.eval.synth import NEURAL_VOICES, VOICES, synthesize

log = logging.getLogger(__name__)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 12:00 in Istanbul
SNRS: tuple[float | None, ...] = (None, 24.0, 18.0, 12.0, 9.0, 6.0)  # None = clean
QUICK_SNRS: tuple[float | None, ...] = (None, 9.0)
DOMAINS = ("salon", "shop", "calibration")
CHUNK_BYTES = 1024  # 32 ms of PCM16, as the devices send it
# the answers a dialogue waits for after "do you confirm?" (hub.voice.dialogue)
ANSWERS = ("Yes", "No", "Cancel", "Help", "Repeat")
OUT_OF_DOMAIN = {
    "tr": (
        "bugün hava çok güzel parka gidelim mi",
        "annem yarın akşam bize yemeğe gelecek",
        "bu kitabı okudun mu",
        "otobüs durağı nerede acaba",
        "televizyonun sesini biraz açar mısın",
        "geçen yaz tatilde denize girdik",
    ),
    "en": (
        "what is the weather like in london today",
        "my brother plays football every sunday morning",
        "please turn off the kitchen lights",
        "where is the nearest bus stop",
        "i think the movie was too long",
        "can you tell me a joke about cats",
    ),
}


@dataclass(frozen=True)
class Utterance:
    domain: str
    language: str
    text: str
    intent: str | None  # None = out of domain
    slots: dict[str, str]
    voice: str
    audio: np.ndarray
    neural: bool = False  # spoken by the neural voice (scored as rows of their own)


@dataclass(frozen=True)
class Outcome:
    system: str
    domain: str
    language: str
    snr: str
    voice: str
    reference: str
    hypothesis: str
    expected_intent: str | None
    intent: str | None
    slots_ok: bool
    correct: bool
    margin: float
    elapsed_ms: float
    audio_s: float
    ended: str = ""  # streamed rows: why the session ended ("confident", "stream_end", ...)


def _pad(audio: np.ndarray, seconds: float = 0.3) -> np.ndarray:
    gap = np.zeros(int(seconds * 16000), np.float32)
    return np.concatenate([gap, audio, gap])


def build_set(
    domains: list[str], n: int, seed: int, *, neural: bool = True
) -> tuple[list[Utterance], dict[str, Any]]:
    """The domains' sample and out-of-domain sentences, each spoken by one of the language's
    synthetic voices; with ``neural``, each also spoken by the neural voice (English)."""
    from models.domain import compile_domain, load_domain
    from models.domain.loader import DOMAINS_DIR

    utterances: list[Utterance] = []
    compiled: dict[str, Any] = {}
    for name in domains:
        domain = compile_domain(load_domain(DOMAINS_DIR / f"{name}.yaml"))
        compiled[name] = domain
        voices = VOICES[domain.language]
        mine: list[Utterance] = []
        for i, sample in enumerate(domain.sample_sentences(n, seed, NOW)):
            voice = voices[(i + seed) % len(voices)]
            audio = _pad(synthesize(sample.text, voice))
            mine.append(
                Utterance(
                    name,
                    domain.language,
                    sample.text,
                    sample.intent,
                    dict(sample.slots),
                    voice.label,
                    audio,
                )
            )
        for j, text in enumerate(OUT_OF_DOMAIN[domain.language][: max(2, n // 4)]):
            voice = voices[(j + 1) % len(voices)]
            mine.append(
                Utterance(
                    name,
                    domain.language,
                    text,
                    None,
                    {},
                    voice.label,
                    _pad(synthesize(text, voice)),
                )
            )
        utterances += mine
        neural_voices = NEURAL_VOICES[domain.language] if neural else ()
        for k, u in enumerate(mine if neural_voices else ()):
            voice = neural_voices[(k + seed) % len(neural_voices)]
            audio = _pad(synthesize(u.text, voice))
            utterances.append(replace(u, voice=voice.label, audio=audio, neural=True))
    return utterances, compiled


def _noise_bank(
    utterances: list[Utterance], rng: np.random.Generator
) -> dict[str, list[np.ndarray]]:
    """Babble talkers per language, taken from utterances of the other domains' voices."""
    bank: dict[str, list[np.ndarray]] = {}
    for lang in sorted({u.language for u in utterances}):  # not set order: it varies by run
        pool = [u.audio for u in utterances if u.language == lang]
        picks = rng.choice(len(pool), size=min(6, len(pool)), replace=False)
        bank[lang] = [pool[int(i)] for i in picks]
    return bank


def _noisy(
    u: Utterance, snr: float | None, bank: dict[str, list[np.ndarray]], rng: np.random.Generator
) -> np.ndarray:
    if snr is None:
        return u.audio
    talkers = [t for t in bank[u.language] if t is not u.audio][:4]
    noise = babble(talkers, u.audio.size, rng) + 0.7 * pink_noise(u.audio.size, rng)
    return mix_at_snr(u.audio, noise, snr)


def domain_names(
    domains: tuple[str, ...] | list[str] = DOMAINS,
    languages: tuple[str, ...] | list[str] = ("tr", "en"),
) -> list[str]:
    """The example domains' file names: salon_tr, salon_en, shop_tr, …"""
    return [f"{d}_{lang}" for d in domains for lang in languages]


def engines(compiled: dict[str, Any], recognizer: Any) -> dict[str, Any]:
    """An engine per compiled domain, sharing one recogniser, on the evaluation's clock."""
    from models.engine import Engine

    return {
        name: Engine(c, recognizer=recognizer, clock=lambda: NOW) for name, c in compiled.items()
    }


def snr_label(snr: float | None) -> str:
    return "clean" if snr is None else f"{snr:g} dB"


class NoiseDraw:
    """The noise of one evaluation draw (``seed``): a babble bank from the synthetic voices,
    then each utterance's noise in turn. The neural voice's noise comes from a draw of its
    own, so the synthetic voices' rows get the same noise as in runs before it was added.
    The noise depends on the order it is drawn in: ``arma-models eval --snrs 9`` and a run
    of all six SNRs (whose 9 dB comes after 24, 18 and 12) mix different noise at 9 dB.
    Benchmarks that replay the evaluation's audio use this, drawing the SNRs in the same
    order as the run they compare with."""

    def __init__(self, utterances: list[Utterance], seed: int) -> None:
        synthetic = [u for u in utterances if not u.neural]
        self.rng = np.random.default_rng(seed)
        self.bank = _noise_bank(synthetic, self.rng)
        self.neural_rng = np.random.default_rng([seed, 1])
        self.ordered = synthetic + [u for u in utterances if u.neural]

    def mixed(self, snr: float | None) -> Iterator[tuple[Utterance, np.ndarray]]:
        """Every utterance (synthetic voices first) mixed at ``snr``, in the order the
        evaluation hears them: the draw's noise is consumed in that order, SNR by SNR."""
        for u in self.ordered:
            yield u, _noisy(u, snr, self.bank, self.neural_rng if u.neural else self.rng)


def evaluate(
    utterances: list[Utterance],
    compiled: dict[str, Any],
    *,
    snrs: tuple[float | None, ...],
    peer: bool,
    peer_budget_s: float,
    seed: int,
    streamed: bool = False,
) -> list[Outcome]:
    from models.asr.recognizer import Recognizer
    from models.eval.peer import PocketsphinxPeer

    draw = NoiseDraw(utterances, seed)
    recognizer = Recognizer(threads=1)
    by_domain = engines(compiled, recognizer)
    peers = {
        n: PocketsphinxPeer(c.word_graph, peer_budget_s)
        for n, c in compiled.items()
        if peer and c.language == "en"
    }
    outcomes: list[Outcome] = []
    for snr in snrs:
        label = snr_label(snr)
        for u, audio in draw.mixed(snr):
            suffix = ", neural voice" if u.neural else ""
            scored = _ours("arma" + suffix, by_domain[u.domain], u, audio, label)
            outcomes.append(scored)
            if streamed:
                hub = _streamed("arma, streamed" + suffix, by_domain[u.domain], u, audio, label)
                outcomes.append(hub)
            if not u.neural and (u.intent is None or u.intent in ANSWERS):
                # the same answer turns decoded as the hub decodes them while it waits
                # for a confirmation, next to the whole-domain result on the same audio
                outcomes.append(replace(scored, system="arma, answers: whole domain"))
                focus = _ours(
                    "arma, answers: focused", by_domain[u.domain], u, audio, label, expect=ANSWERS
                )
                outcomes.append(focus)
            if u.domain in peers:
                heard = peers[u.domain].recognize(audio)
                meaning = compiled[u.domain].understand(heard.text, NOW) if heard.text else None
                outcomes.append(
                    _score(
                        "pocketsphinx" + suffix,
                        u,
                        snr=label,
                        text=heard.text or "",
                        intent=meaning.intent if meaning else None,
                        slots=dict(meaning.slots) if meaning else {},
                        margin=float("nan"),
                        elapsed=heard.elapsed_ms,
                    )
                )
        log.info("done %s", label)
    for p in peers.values():
        p.close()
    return outcomes


def _ours(
    system: str,
    engine: Any,
    u: Utterance,
    audio: np.ndarray,
    snr: str,
    *,
    expect: tuple[str, ...] | None = None,
) -> Outcome:
    t0 = time.perf_counter()
    result = engine.recognize(audio, expect=expect)
    return _score(
        system,
        u,
        snr=snr,
        text=result.text,
        intent=result.intent,
        slots=result.slots,
        margin=result.margin,
        elapsed=(time.perf_counter() - t0) * 1000,
    )


def _streamed(system: str, engine: Any, u: Utterance, audio: np.ndarray, snr: str) -> Outcome:
    """The audio through a streaming session as the hub feeds it, as fast as it goes (the
    endpointer counts chunks, not the wall clock); the stream's end after the last chunk."""
    from models.asr.audio import float_to_pcm16
    from models.vad import EndpointKind

    pcm = float_to_pcm16(audio)
    session = engine.new_session()
    t0 = time.perf_counter()
    for offset in range(0, len(pcm), CHUNK_BYTES):
        event = session.feed(pcm[offset : offset + CHUNK_BYTES])
        if event is not None and event.kind is not EndpointKind.SPEECH_STARTED:
            break
    else:
        event = session.finish()
    result = event.result
    return _score(
        system,
        u,
        snr=snr,
        text=result.text if result else "",
        intent=result.intent if result else None,
        slots=result.slots if result else {},
        margin=result.margin if result else float("nan"),
        elapsed=(time.perf_counter() - t0) * 1000,
        ended=event.reason,
    )


def _score(
    system: str,
    u: Utterance,
    *,
    snr: str,
    text: str,
    intent: str | None,
    slots: dict[str, str],
    margin: float,
    elapsed: float,
    ended: str = "",
) -> Outcome:
    slots_ok = slots == u.slots
    correct = intent == u.intent and (u.intent is None or slots_ok)
    return Outcome(
        system,
        u.domain,
        u.language,
        snr,
        u.voice,
        u.text,
        text,
        u.intent,
        intent,
        slots_ok,
        correct,
        margin,
        elapsed,
        u.audio.size / 16000,
        ended,
    )


def model_size_bytes() -> int:
    from models.asr.build import ensure_built

    built = ensure_built()
    return sum(meta["bytes"] for meta in built.info["artifacts"].values())


def _record(summary: dict[str, Any]) -> None:
    from models.asr.build import ensure_built, update_manifest

    def figures(system: str) -> dict[str, dict[str, float]]:
        return {
            f"{r['language']} {r['snr']}": {
                "command_accuracy": round(r["accuracy"], 3),
                "wer": round(r["wer"], 3),
                "false_accept": round(r["false_accept"], 3),
                "p50_ms": round(r["p50_ms"]),
            }
            for r in summary["rows"]
            if r["system"] == system
        }

    measured = {
        "command": summary["command"],
        "peak_rss_mb": round(summary["peak_rss_mb"]),
        "arma": figures("arma"),
        "arma, neural voice": figures("arma, neural voice"),
    }
    update_manifest(ensure_built().info, measured)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arma-models eval")
    parser.add_argument("--quick", action="store_true", help="4 sentences a domain, clean + 9 dB")
    parser.add_argument("--n", type=int, help="sentences per domain (default 20, quick 4)")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument(
        "--no-neural", action="store_true", help="without the neural English voice (piper joe)"
    )
    parser.add_argument("--peer-budget", type=float, default=4.0, help="seconds per utterance")
    parser.add_argument("--domains", default=",".join(DOMAINS), help="comma list (no language)")
    parser.add_argument("--languages", default="tr,en")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--snrs", help="comma list of SNRs in dB, 'clean' for none (default: all six)"
    )
    parser.add_argument(
        "--streamed", action="store_true", help="also through a streaming session, as the hub"
    )
    parser.add_argument("--out", type=Path, default=Path("eval-out"))
    parser.add_argument(
        "--update-manifest", action="store_true", help="record the figures in models/manifest.json"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    n = args.n or (4 if args.quick else 20)
    snrs = QUICK_SNRS if args.quick else SNRS
    if args.snrs:
        snrs = tuple(None if v == "clean" else float(v) for v in args.snrs.split(","))
    names = domain_names(args.domains.split(","), args.languages.split(","))
    t0 = time.perf_counter()
    utterances, compiled = build_set(names, n, args.seed, neural=not args.no_neural)
    log.info("synthesised %d utterances in %.0f s", len(utterances), time.perf_counter() - t0)
    outcomes = evaluate(
        utterances,
        compiled,
        snrs=snrs,
        peer=not args.no_peer,
        peer_budget_s=args.peer_budget,
        seed=args.seed,
        streamed=args.streamed,
    )
    summary = summarise(outcomes)
    summary["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary["model_bytes"] = model_size_bytes()
    summary["command"] = "arma-models eval " + " ".join(argv or [])
    summary["utterances"] = len(utterances)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "outcomes.jsonl").write_text(
        "".join(json.dumps(asdict(o), ensure_ascii=False) + "\n" for o in outcomes)
    )
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    plot_accuracy(summary, args.out / "accuracy_vs_snr.png")
    if args.update_manifest:
        _record(summary)
    print(render_table(summary))
    return 0

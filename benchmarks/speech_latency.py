"""Speech engine latency and memory on one thread, with pocketsphinx as the peer.

    .venv/bin/python benchmarks/speech_latency.py [--runs 8]

For ~5 s synthetic requests (Turkish espeak-ng, English flite) it prints:
* one-shot compute: `Engine.recognize` on the whole utterance (encoder + constrained beam
  search + understanding) -- the end-of-speech -> intent time if decoding started at the
  endpoint;
* streamed in real time (32 ms PCM16 chunks, paced by the wall clock) through VAD and the
  endpointer: time from the end of speech, and from the chunk that ended the utterance, to
  the result. The session decodes speculatively from the first silent chunk; an utterance
  whose result is a complete command ends after 250 ms of silence ("confident"), any other
  after 500 ms ("silence");
* two long out-of-domain utterances per language (the second cut at 12 s, the longest
  utterance the endpointer passes on), which the first search rejects and the wide retry
  searches again before "not recognised": the worst case for time and memory;
* pocketsphinx (same English audio, grammar from the same domain) decode time;
* process RSS after loading the models, the peak of the engine's work (before the peer is
  loaded into the same process), and the peak of the whole process.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from models.asr.audio import float_to_pcm16, loud_frames
from models.asr.recognizer import Recognizer
from models.domain import compile_domain, load_domain
from models.domain.loader import DOMAINS_DIR
from models.engine import Engine
from models.eval.peer import PocketsphinxPeer
from models.eval.synth import Voice, synthesize
from models.vad import EndpointConfig, EndpointKind

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
REQUESTS = {
    "salon_tr": (
        Voice("espeak", "tr", "tr", 0.75),
        [
            "yarın saat üçte saç kesimi için randevu almak istiyorum",
            "cuma günü saat on birde manikür için randevu almak istiyorum",
            "randevumu perşembe saat dörde erteleyebilir miyiz",
            "keratin bakımı için cumartesi öğleden sonra müsaitlik var mı",
        ],
    ),
    "salon_en": (
        Voice("flite", "slt", "en", 0.85),
        [
            "i would like to book a haircut tomorrow at three pm",
            "can i move my appointment to friday at eleven in the morning",
            "do you have any availability for a manicure on saturday afternoon",
            "how much is a haircut and how long does it take",
        ],
    ),
}
# said to each domain: nothing in them can be expressed there (Turkish 9.4 s and 12 s,
# English 6.5 s and 9.6 s of speech)
_TR = (
    "dün akşam arkadaşlarımla birlikte sinemaya gittik ve çok güzel bir film izledik "
    "sonra da yemek yedik"
)
_EN = (
    "my brother plays football every sunday morning with his friends from school "
    "and then they eat lunch together"
)
REJECTED = {
    "salon_tr": (_TR, _TR + " ve eve dönerken yağmur yağmaya başladı"),
    "salon_en": (_EN, _EN + " and after that they all went home by bus in the rain"),
}
MAX_SECONDS = EndpointConfig().max_speech_s  # the longest utterance it passes on


def rss_mb() -> tuple[float, float]:
    fields = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def trim_silence(audio: np.ndarray, floor_db: float = 35.0) -> np.ndarray:
    """Cut the synthesiser's own leading and trailing silence (20 ms frames more than
    ``floor_db`` below the loudest), so that "end of speech" is where the voice stops and
    not where the WAV file ends."""
    loud = loud_frames(audio, floor_db)
    return audio[loud[0] * 320 : (loud[-1] + 1) * 320]


@dataclass(frozen=True)
class Streamed:
    after_speech_ms: float  # from where the voice stops to the result
    after_endpoint_ms: float  # from the chunk that ended the utterance to the result
    reused: bool  # the pause's speculative result was the answer
    reason: str  # why the utterance ended
    silence_heard_ms: float  # where the VAD's silence began, after the voice stopped
    decode_ms: float  # encoder + search of the result's decode


def stream_real_time(engine: Engine, speech: np.ndarray) -> Streamed:
    """One request streamed in real time. The result can come no sooner than the later
    of (the VAD hearing the silence + the decode) and (the VAD hearing the silence + the
    confident end's 250 ms): the last two fields say which bound it met."""
    lead = np.zeros(8000, np.float32)
    audio = np.concatenate([lead, speech, np.zeros(24000, np.float32)])
    pcm = float_to_pcm16(audio)
    chunk = 1024  # 32 ms
    session = engine.new_session()
    speech_end = (lead.size + speech.size) / 16000
    start = time.perf_counter()
    for offset in range(0, len(pcm), chunk):
        t_audio = (offset + chunk) / 32000
        delay = start + t_audio - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        event = session.feed(pcm[offset : offset + chunk])
        if event is not None and event.kind is EndpointKind.UTTERANCE_ENDED:
            now = time.perf_counter() - start
            timings = event.result.timings if event.result else {}
            pause = session.endpointer.pause_start
            heard = math.nan if pause is None else pause * chunk / 32000 - speech_end
            return Streamed(
                (now - speech_end) * 1000,
                (now - t_audio) * 1000,
                bool(timings.get("speculative_reused")),
                event.reason,
                heard * 1000,
                timings.get("encode", math.nan) + timings.get("decode", math.nan),
            )
    raise RuntimeError("no endpoint")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2, help="passes over the requests")
    args = parser.parse_args()
    base_rss, _ = rss_mb()
    recognizer = Recognizer(threads=1)  # one model in memory, shared by every domain
    engines = {}
    for name in REQUESTS:
        engines[name] = Engine(
            compile_domain(load_domain(DOMAINS_DIR / f"{name}.yaml")),
            recognizer=recognizer,
            clock=lambda: NOW,
        )
    loaded_rss, _ = rss_mb()
    print(
        f"RSS: {base_rss:.0f} MB before, {loaded_rss:.0f} MB with models loaded "
        f"(one recogniser shared by two compiled domains)"
    )
    english: tuple[Engine, list[np.ndarray], list[float]] | None = None
    for name, (voice, texts) in REQUESTS.items():
        engine = engines[name]
        audios = [trim_silence(synthesize(t, voice)) for t in texts]
        durations = [a.size / 16000 for a in audios]
        engine.recognize(audios[0])  # warm-up
        compute, ok = [], 0
        after_speech, after_endpoint, reused, reasons = [], [], 0, Counter[str]()
        heard: list[float] = []
        decodes: list[float] = []
        for _ in range(args.runs):
            for audio in audios:
                t0 = time.perf_counter()
                result = engine.recognize(audio)
                compute.append((time.perf_counter() - t0) * 1000)
                ok += result.intent is not None
                streamed = stream_real_time(engine, audio)
                after_speech.append(streamed.after_speech_ms)
                after_endpoint.append(streamed.after_endpoint_ms)
                heard.append(streamed.silence_heard_ms)
                decodes.append(streamed.decode_ms)
                reused += streamed.reused
                reasons[streamed.reason] += 1
        n = len(compute)
        q = lambda v: statistics.quantiles(v, n=20)  # noqa: E731
        print(
            f"\n{name} ({voice.label}), utterances {min(durations):.1f}-{max(durations):.1f} s, "
            f"{n} runs, recognised {ok}/{n}"
        )
        rtf = statistics.median(compute) / 1000 / statistics.mean(durations)
        print(
            f"  one-shot compute (recognize): p50 {statistics.median(compute):.0f} ms, "
            f"p95 {q(compute)[18]:.0f} ms, RTF {rtf:.3f}"
        )
        print(
            f"  streamed: end of speech -> result p50 {statistics.median(after_speech):.0f} ms "
            f"(p95 {q(after_speech)[18]:.0f}); ending chunk -> result p50 "
            f"{statistics.median(after_endpoint):.0f} ms (p95 {q(after_endpoint)[18]:.0f}); "
            f"speculative result reused {reused}/{n}; ended by "
            + ", ".join(f"{k} {v}/{n}" for k, v in sorted(reasons.items()))
        )
        print(
            f"  the VAD heard the silence begin p50 {statistics.median(heard):.0f} ms after the "
            f"voice stopped (p95 {q(heard)[18]:.0f}); the result's decode (encoder + search) "
            f"took p50 {statistics.median(decodes):.0f} ms (p95 {q(decodes)[18]:.0f}); "
            f"a confident end needs {engine.endpoint.confident_end_ms or 0:.0f} ms of silence"
        )
        for text in REJECTED[name]:
            rejected = synthesize(text, voice)[: int(MAX_SECONDS * 16000)]
            t0 = time.perf_counter()
            verdict = engine.recognize(rejected)
            print(
                f"  rejected {rejected.size / 16000:.1f} s out-of-domain utterance: "
                f"{(time.perf_counter() - t0) * 1000:.0f} ms, intent {verdict.intent}"
            )
        if name.endswith("_en"):
            english = (engine, audios, compute)
    _, engine_peak = rss_mb()
    print(f"\npeak RSS of the engine's work: {engine_peak:.0f} MB")
    if english is not None:
        engine, audios, compute = english
        peer = PocketsphinxPeer(engine.domain.word_graph, budget_s=30)
        peer.recognize(audios[0])
        times = [peer.recognize(a).elapsed_ms for a in audios for _ in range(args.runs)]
        peer.close()
        ratio = statistics.median(compute) / statistics.median(times)
        print(
            f"pocketsphinx (English audio, FSG from the domain): p50 "
            f"{statistics.median(times):.0f} ms; our one-shot compute takes "
            f"{ratio:.2f}x the peer's"
        )
    _, peak = rss_mb()
    print(f"peak RSS of the process (pocketsphinx loaded too): {peak:.0f} MB")


if __name__ == "__main__":
    main()

"""Figures from evaluation outcomes: accuracy, WER, false accepts, latency, the margin
calibration table; a markdown table and the accuracy-vs-SNR plot."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Protocol


class OutcomeLike(Protocol):
    system: str
    language: str
    snr: str
    reference: str
    hypothesis: str
    expected_intent: str | None
    intent: str | None
    correct: bool
    margin: float
    elapsed_ms: float
    audio_s: float


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference length)."""
    ref, hyp = reference.split(), hypothesis.split()
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[len(hyp)], len(ref)


def _percentile(values: list[float], q: float) -> float:
    return float(sorted(values)[min(len(values) - 1, int(q * len(values)))]) if values else math.nan


def summarise(outcomes: list[OutcomeLike]) -> dict[str, Any]:
    groups: dict[tuple[str, str, str], list[OutcomeLike]] = defaultdict(list)
    for o in outcomes:
        groups[(o.system, o.language, o.snr)].append(o)
    rows = []
    for (system, language, snr), items in groups.items():
        inside = [o for o in items if o.expected_intent is not None]
        outside = [o for o in items if o.expected_intent is None]
        errors = [word_errors(o.reference, o.hypothesis) for o in inside]
        latencies = [o.elapsed_ms for o in inside]
        rows.append(
            {
                "system": system,
                "language": language,
                "snr": snr,
                "n": len(inside),
                "accuracy": sum(o.correct for o in inside) / max(1, len(inside)),
                "wer": sum(e for e, _ in errors) / max(1, sum(n for _, n in errors)),
                "ood_n": len(outside),
                "false_accept": sum(o.intent is not None for o in outside) / max(1, len(outside)),
                "p50_ms": _percentile(latencies, 0.5),
                "p95_ms": _percentile(latencies, 0.95),
                "rtf": sum(o.elapsed_ms / 1000 for o in inside)
                / max(1e-9, sum(o.audio_s for o in inside)),
            }
        )
    return {"rows": rows, "calibration": calibrate(outcomes)}


def calibrate(outcomes: list[OutcomeLike]) -> list[dict[str, float]]:
    """For candidate thresholds: share of in-domain commands still accepted vs share of
    out-of-domain sentences accepted (clean audio, our system)."""
    ours = [
        o for o in outcomes if o.system == "arma" and o.snr == "clean" and not math.isnan(o.margin)
    ]
    inside = [o.margin for o in ours if o.expected_intent is not None and o.correct]
    outside = [o.margin for o in ours if o.expected_intent is None]
    table = []
    for t in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5):
        table.append(
            {
                "threshold": t,
                "correct_kept": sum(m >= -t for m in inside) / max(1, len(inside)),
                "ood_accepted": sum(m >= -t for m in outside) / max(1, len(outside)),
            }
        )
    return table


def render_table(summary: dict[str, Any]) -> str:
    lines = [
        "| system | lang | SNR | n | command acc. | WER | OOD n | false accept | p50 ms "
        "| p95 ms | RTF |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    order = {"clean": 0, "24 dB": 1, "18 dB": 2, "12 dB": 3, "9 dB": 4, "6 dB": 5}
    for r in sorted(
        summary["rows"], key=lambda r: (r["system"], r["language"], order.get(r["snr"], 9))
    ):
        lines.append(
            f"| {r['system']} | {r['language']} | {r['snr']} | {r['n']} | {r['accuracy']:.1%} | "
            f"{r['wer']:.1%} | {r['ood_n']} | {r['false_accept']:.0%} | {r['p50_ms']:.0f} | "
            f"{r['p95_ms']:.0f} | {r['rtf']:.3f} |"
        )
    lines.append("")
    lines.append("| reject margin (nats/token) | correct kept | OOD accepted |")
    lines.append("| --- | --- | --- |")
    for c in summary["calibration"]:
        lines.append(f"| {c['threshold']} | {c['correct_kept']:.0%} | {c['ood_accepted']:.0%} |")
    extra = {k: v for k, v in summary.items() if k not in {"rows", "calibration"}}
    lines.append("")
    lines.extend(
        f"- {k}: {v:.1f}" if isinstance(v, float) else f"- {k}: {v}" for k, v in extra.items()
    )
    return "\n".join(lines)


def plot_accuracy(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = ["clean", "24 dB", "18 dB", "12 dB", "9 dB", "6 dB"]
    fig, ax = plt.subplots(figsize=(7, 4))
    series: dict[str, dict[str, float]] = defaultdict(dict)
    for r in summary["rows"]:
        if ", answers" in r["system"]:
            continue  # the answer-turn subset has its own table rows
        series[f"{r['system']} ({r['language']})"][r["snr"]] = r["accuracy"] * 100
    for name, points in sorted(series.items()):
        xs = [s for s in order if s in points]
        ax.plot(xs, [points[s] for s in xs], marker="o", label=name)
    ax.set_xlabel("signal-to-noise ratio (babble + pink noise)")
    ax.set_ylabel("command accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Held-out voices (synthetic; neural): intent and all slots right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""`arma-models recognize --json`: one JSON line per file, typed error for a bad file
without losing the other files' lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from models.asr.audio import write_wav
from models.domain.loader import DOMAINS_DIR
from models.eval.synth import Voice, synthesize

REPO = Path(__file__).resolve().parents[3]


def test_recognize_prints_one_json_line_per_file(tmp_path: Path, built_model: object) -> None:
    good = tmp_path / "order.wav"
    write_wav(good, synthesize("how much is a haircut", Voice("flite", "slt", "en")))
    silent = tmp_path / "silent.wav"
    write_wav(silent, [0.0] * 16000)  # type: ignore[arg-type]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not a wav")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "models.cli",
            "recognize",
            "--domain",
            str(DOMAINS_DIR / "salon_en.yaml"),
            "--json",
            str(good),
            str(broken),
            str(silent),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr  # one file could not be read
    assert "broken.wav" in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [Path(line["file"]).name for line in lines] == ["order.wav", "silent.wav"]
    first, second = lines
    assert first["intent"] == "AskPrice" and first["slots"] == {"service": "haircut"}
    assert first["text"] == "how much is a haircut" and first["elapsed_ms"] > 0
    assert second["intent"] is None and second["slots"] == {}
    assert set(first) == {"file", "intent", "slots", "text", "confidence", "elapsed_ms"}


def test_eval_runs_end_to_end_on_a_small_set(tmp_path: Path, built_model: object) -> None:
    """`arma-models eval` on one English domain (1 command + 2 out-of-domain sentences, clean
    and 9 dB, no peer): the table, outcomes, summary and plot are written, and the answer
    turns are scored both on the whole domain and with the dialogue's answer focus."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "models.cli",
            "eval",
            "--quick",
            "--n",
            "1",
            "--domains",
            "shop",
            "--languages",
            "en",
            "--no-peer",
            "--out",
            str(tmp_path),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=400,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| arma | en | clean | 1 |" in proc.stdout
    # the same sentences spoken by the neural voice, scored as rows of their own
    assert "| arma, neural voice | en | clean | 1 |" in proc.stdout
    outcomes = [
        json.loads(line) for line in (tmp_path / "outcomes.jsonl").read_text().split("\n") if line
    ]
    ours = [o for o in outcomes if o["system"] == "arma"]
    assert len(ours) == 2 * 3 and {o["snr"] for o in ours} == {"clean", "9 dB"}
    focused = [o for o in outcomes if o["system"] == "arma, answers: focused"]
    whole = [o for o in outcomes if o["system"] == "arma, answers: whole domain"]
    # out-of-domain sentences are always among the answer turns (a customer says something else)
    assert len(focused) == len(whole) >= 2 * 2
    assert {o["reference"] for o in focused} == {o["reference"] for o in whole}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["model_bytes"] > 10_000_000 and summary["peak_rss_mb"] > 100
    assert (tmp_path / "accuracy_vs_snr.png").read_bytes()[:4] == b"\x89PNG"

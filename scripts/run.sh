#!/usr/bin/env bash
# Set everything up, then run the whole system on embedded defaults: a private Mosquitto,
# SQLite, the hub with its local web API, and simulated devices.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DATA=${ARMA_DATA_DIR:-.arma-data}
exec .venv/bin/arma-hub up --data-dir "$DATA" --http 127.0.0.1:8080 --mqtt-port 1883 --sim 3 "$@"

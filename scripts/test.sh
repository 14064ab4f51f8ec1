#!/usr/bin/env bash
# Set everything up, start a private PostgreSQL for the PostgreSQL test job, run all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ARMA_EXTRAS=models,dev,train bash scripts/setup.sh
# shellcheck disable=SC1091
source scripts/pg.sh
pg_start
trap pg_stop EXIT
.venv/bin/python -m pytest "$@"

# Private PostgreSQL server on a free port in a temporary directory; exports ARMA_TEST_PG_URL.
# Sourced by scripts/test.sh. Root cannot run postgres, so the server runs as the postgres user.
pg_start() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  if [ -z "$bindir" ]; then echo "[pg] PostgreSQL not installed" >&2; return 1; fi
  PG_DIR=$(mktemp -d /tmp/arma-pg.XXXXXX)
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local run=()
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$PG_DIR"; run=(runuser -u postgres --); fi
  "${run[@]}" "$bindir/initdb" -D "$PG_DIR/data" -U arma --auth=trust -E UTF8 >/dev/null
  "${run[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
     -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null
  "${run[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$PG_PORT" -U arma arma_test
  export ARMA_TEST_PG_URL="postgresql+psycopg://arma@127.0.0.1:$PG_PORT/arma_test"
  export PG_BINDIR=$bindir PG_DIR PG_PORT
  echo "[pg] PostgreSQL on 127.0.0.1:$PG_PORT"
}
pg_stop() {
  local run=()
  [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
  [ -n "${PG_DIR:-}" ] && "${run[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  [ -n "${PG_DIR:-}" ] && rm -rf "$PG_DIR"
}

#!/usr/bin/env bash
# Finds a Postgres server for the tests, or starts a throwaway one; prints its base URL on stdout.
#   1. $DATABASE_URL, if set and reachable;
#   2. 127.0.0.1:5432 as user postgres (trust auth), if reachable;
#   3. a throwaway cluster in .pgtmp/ on port 55432 (initdb/pg_ctl from /usr/lib/postgresql/*/bin,
#      installed with apt-get when missing and running as root), run as a non-root user.
# Exits non-zero, loudly, when none can be had: the tests must fail, never skip.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "pg-ensure: $*" >&2; }

reachable() { # host port
  timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# HEARTH_PG_THROWAWAY=1 skips straight to the throwaway cluster (to test that path).
if [ -n "${DATABASE_URL:-}" ] && [ -z "${HEARTH_PG_THROWAWAY:-}" ]; then
  hostport=$(echo "$DATABASE_URL" | sed -E 's#^[a-z]+://([^@/]*@)?([^/:?]+)(:([0-9]+))?.*#\2 \4#')
  host=${hostport% *}; port=${hostport#* }; port=${port:-5432}
  if reachable "$host" "$port"; then
    log "using DATABASE_URL ($host:$port)"
    echo "$DATABASE_URL"; exit 0
  fi
  log "DATABASE_URL is set but $host:$port does not answer"; exit 1
fi

if [ -z "${HEARTH_PG_THROWAWAY:-}" ] && reachable 127.0.0.1 5432; then
  log "using the local server at 127.0.0.1:5432"
  echo "postgres://postgres@127.0.0.1:5432/postgres"; exit 0
fi

# A throwaway cluster.
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "no Postgres binaries; installing the postgresql package"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2 || true
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
if [ -z "$bindir" ]; then
  log "FAILED: no Postgres server reachable and none can be started (set DATABASE_URL)"; exit 1
fi
dir="$PWD/.pgtmp"; port=55432
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if ! reachable 127.0.0.1 "$port"; then
  rm -rf "$dir"; mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  log "starting a throwaway cluster in $dir on port $port"
  as_owner "$bindir/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
fi
reachable 127.0.0.1 "$port" || { log "FAILED: the throwaway cluster did not start (see $dir/log)"; exit 1; }
echo "postgres://postgres@127.0.0.1:$port/postgres"

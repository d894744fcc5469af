#!/usr/bin/env bash
# A 3-node Actorvisor cluster on 127.0.0.1 for trying things out:
#   deploy/local-cluster.sh start     start n1..n3 (ports BASE..BASE+2, default 4053), wait until all are Up
#   deploy/local-cluster.sh status    actorvisor cluster status
#   deploy/local-cluster.sh stop      SIGTERM each node, one after the other, and wait for it to leave
#   deploy/local-cluster.sh demo      start, create and run VMs through the CLI, show them, stop
# Security is on as in production: mutual TLS with a CA made for the cluster (deploy/make-certs.sh) and a
# shared API token; `source $DIR/env` sets the CLI's ACTORVISOR_* variables. --insecure turns both off.
# Environment: ACTORVISOR_LOCAL_DIR (default /tmp/actorvisor-local), ACTORVISOR_BASE_PORT (default 4053).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${ACTORVISOR_LOCAL_DIR:-/tmp/actorvisor-local}
base=${ACTORVISOR_BASE_PORT:-4053}
dll="$root/src/Host/bin/Release/net10.0/actorvisor.dll"
secure=1
args=()
for a in "$@"; do [[ "$a" == "--insecure" ]] && secure=0 || args+=("$a"); done
cmd=${args[0]:-start}

cli() { dotnet "$dll" "$@"; }

build() {
  if [[ ! -f "$dll" || -n "${ACTORVISOR_REBUILD:-}" ]]; then
    "$root/deploy/install-deps.sh"
    dotnet build "$root/src/Host/Actorvisor.Host.csproj" -c Release -nologo -v q -clp:ErrorsOnly >&2
  fi
}

write_env() {
  {
    echo "export ACTORVISOR_NODE=127.0.0.1:$base,127.0.0.1:$((base + 1))"
    if [[ $secure == 1 ]]; then
      echo "export ACTORVISOR_TOKEN_FILE=$dir/api-token"
      echo "export ACTORVISOR_TLS_CERTIFICATE=$dir/tls/client.pfx"
      echo "export ACTORVISOR_TLS_PASSWORD_FILE=$dir/tls/pfx-password"
      echo "export ACTORVISOR_TLS_CA=$dir/tls/ca.pem"
    fi
  } > "$dir/env"
}

start() {
  build
  mkdir -p "$dir"
  local security=()
  if [[ $secure == 1 ]]; then
    [[ -f "$dir/tls/client.pfx" ]] || "$root/deploy/make-certs.sh" "$dir/tls" n1 n2 n3 client > /dev/null
    [[ -f "$dir/api-token" ]] || (umask 077; openssl rand -hex 24 > "$dir/api-token")
  fi
  write_env
  for i in 1 2 3; do
    local port=$((base + i - 1)) pidfile="$dir/n$i/node.pid"
    mkdir -p "$dir/n$i"
    if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "n$i already running (pid $(cat "$pidfile"))"; continue; fi
    security=()
    [[ $secure == 1 ]] && security=(--api-token-file "$dir/api-token" --tls-certificate "$dir/tls/n$i.pfx"
      --tls-password-file "$dir/tls/pfx-password" --tls-ca "$dir/tls/ca.pem")
    nohup dotnet "$dll" node --name "n$i" --port "$port" --seed "127.0.0.1:$base" --seed "127.0.0.1:$((base + 1))" \
      --data-dir "$dir/n$i" --vcpus 16 --memory 2G --stable-after 5s "${security[@]}" > "$dir/n$i/node.log" 2>&1 &
    echo $! > "$pidfile"
  done
  # shellcheck disable=SC1091
  source "$dir/env"
  echo -n "waiting for n1, n2, n3 to be Up"
  for _ in $(seq 1 90); do
    local up
    up=$(cli cluster status --json --timeout 3 2>/dev/null | grep -c '"status": "Up"' || true)
    if [[ "$up" == 3 ]]; then
      echo; cli cluster status
      echo "cluster up; logs in $dir/n*/node.log. Drive it with:"
      echo "  source $dir/env; dotnet $dll vm create web-1 --image hello; dotnet $dll vm console web-1 --start"
      return 0
    fi
    for i in 1 2 3; do
      kill -0 "$(cat "$dir/n$i/node.pid")" 2>/dev/null || { echo; echo "n$i exited:" >&2; tail -20 "$dir/n$i/node.log" >&2; exit 1; }
    done
    echo -n .; sleep 1
  done
  echo; echo "the cluster did not come up in 90 s; see $dir/n*/node.log" >&2
  exit 1
}

stop() {
  # One after the other: nodes that leave at the same instant make the exiting phase wait for its timeout.
  for i in 3 2 1; do
    local pidfile="$dir/n$i/node.pid"
    [[ -f "$pidfile" ]] || continue
    local pid; pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      if kill -0 "$pid" 2>/dev/null; then echo "n$i did not stop in 60 s; killing it" >&2; kill -KILL "$pid"; fi
      echo "n$i stopped ($(grep -o 'Destroyed [0-9]* VM(s)' "$dir/n$i/node.log" | tail -1 || true))"
    fi
    rm -f "$pidfile"
  done
}

demo() {
  start
  # shellcheck disable=SC1091
  source "$dir/env"
  for vm in demo-1 demo-2 demo-3; do cli vm create "$vm" --image hello; done
  cli vm create demo-long --image long-mode-hello --memory 32M
  cli vm console demo-1 --start
  cli vm console demo-long --start
  cli vm list
  for vm in demo-1 demo-2 demo-3 demo-long; do cli vm destroy "$vm"; done
  stop
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) source "$dir/env"; cli cluster status ;;
  demo) demo ;;
  *) echo "usage: $0 [start|stop|status|demo] [--insecure]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A Ray head for the tests, on loopback only, with its own ports and temp dir, so that it
# never collides with another Ray on the machine and can be stopped without touching one
# (`ray stop` would stop every Ray of the machine).
#
#   scripts/ray-head.sh start DIR   # prints the dashboard's address, http://127.0.0.1:PORT
#   scripts/ray-head.sh stop DIR
#
# `ray` is the one on PATH; jobs run the `python3` on PATH (it needs the ferrotune SDK).
# DIR must be short: Ray puts Unix sockets under DIR/session_*/sockets/, and a socket path
# is limited to 107 bytes.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

stop_head() {
  local pid
  pid=$(cat "$dir/ray.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # `ray start --block` runs in its own process group (setsid): the head's processes
    # are in it; SIGTERM lets `ray start` stop them, SIGKILL whatever is left.
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  # Workers, agents and job drivers live in groups of their own: every process whose
  # command line or environment names this head's temp dir or its GCS port.
  local port me=$$
  port=$(cat "$dir/ray.gcs-port" 2>/dev/null || echo none)
  for p in /proc/[0-9]*; do
    local n=${p#/proc/}
    [ "$n" = "$me" ] && continue
    if grep -qsF -- "$dir/" "$p/cmdline" "$p/environ" 2>/dev/null \
      || grep -qsF -- "127.0.0.1:$port" "$p/cmdline" "$p/environ" 2>/dev/null; then
      kill -KILL "$n" 2>/dev/null || true
    fi
  done
  rm -f "$dir/ray.pid"
}

case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # The longest socket path Ray makes: DIR/session_2026-01-01_00-00-00_000000_PID/sockets/plasma_store
  longest="$dir/session_2026-01-01_00-00-00_000000_4194304/sockets/plasma_store"
  if [ "${#longest}" -gt 107 ]; then
    echo "ray-head: $dir is too long for Ray's socket paths (${#longest} > 107 bytes)" >&2
    exit 2
  fi
  stop_head
  # Free ports, all bound at once so they differ (a small race with other programs
  # remains, as with any port picked this way).
  read -r gcs dash client agent agent_grpc envagent metrics nodem objm < <(python3 - <<'PY'
import socket
socks = []
for _ in range(9):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)
  echo "$gcs" > "$dir/ray.gcs-port"
  started=$(date +%s%N)
  RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 setsid ray start --head --block \
    --port="$gcs" --node-ip-address=127.0.0.1 --num-cpus=2 \
    --dashboard-host=127.0.0.1 --dashboard-port="$dash" \
    --ray-client-server-port="$client" --dashboard-agent-listen-port="$agent" \
    --dashboard-agent-grpc-port="$agent_grpc" --runtime-env-agent-port="$envagent" \
    --metrics-export-port="$metrics" --node-manager-port="$nodem" --object-manager-port="$objm" \
    --disable-usage-stats --temp-dir="$dir" >"$dir/ray-start.log" 2>&1 </dev/null &
  echo $! > "$dir/ray.pid"
  url="http://127.0.0.1:$dash"
  for _ in $(seq 1 300); do
    if ! kill -0 "$(cat "$dir/ray.pid")" 2>/dev/null; then
      echo "ray-head: ray start exited; its log ($dir/ray-start.log):" >&2
      tail -n 30 "$dir/ray-start.log" >&2
      exit 1
    fi
    # The Job API answers once the head's agent is up, not just the dashboard.
    if curl -fsS "$url/api/version" >/dev/null 2>&1 && curl -fsS "$url/api/jobs/" >/dev/null 2>&1; then
      ms=$(( ($(date +%s%N) - started) / 1000000 ))
      printf 'ray-head: %s up at %s in %d.%d s (temp dir %s)\n' \
        "$(ray --version 2>/dev/null | head -n 1)" "$url" $((ms / 1000)) $((ms % 1000 / 100)) "$dir" >&2
      echo "$url"
      exit 0
    fi
    sleep 0.2
  done
  echo "ray-head: the dashboard did not answer at $url within 60 s; log:" >&2
  tail -n 30 "$dir/ray-start.log" >&2
  stop_head
  exit 1
  ;;
stop)
  dir=$(cd "$dir" 2>/dev/null && pwd) || exit 0
  stop_head
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac

#!/usr/bin/env bash
# Runs `cargo test --no-fail-fast ARGS…` to the end, past failing test binaries, its
# output shown and kept in LOG; then prints one summary of every failure
# (mk/test-summary.sh) and exits non-zero if anything failed.
#
#   mk/test-run.sh LOG LABEL [cargo test arguments…]
#
# Environment: CARGO (default cargo); TEST_TIMEOUT (default 45m), a guard against a
# hung test: past it the whole run (cargo and every test binary) is stopped, and the
# summary names the binary that was running as crashed.
set -uo pipefail

log=${1:?usage: mk/test-run.sh LOG LABEL [cargo test arguments…]}
label=${2:?usage: mk/test-run.sh LOG LABEL [cargo test arguments…]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
limit=${TEST_TIMEOUT:-45m}
mkdir -p "$(dirname "$log")"
# A build that fills the disk fails late and looks like a compile error: say so first.
free_kb=$(df -Pk "$(dirname "$log")" 2>/dev/null | awk 'NR == 2 { print $4 }')
if [ -n "$free_kb" ] && [ "$free_kb" -lt $((15 * 1024 * 1024)) ]; then
  echo "warning: $((free_kb / 1024 / 1024)) GB free where the build writes; a full build of make test takes ~15 GB" >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# `timeout` leads a process group of its own holding cargo and the test binaries, so
# one signal to that group stops all of them (on a timeout, or on Ctrl-C here).
{
  timeout --kill-after=30s "$limit" "${CARGO:-cargo}" test --no-fail-fast "$@" 2>&1 &
  echo $! >"$work/pgid"
  wait $!
  echo $? >"$work/rc"
} | tee "$log" &
pipeline=$!
stop() {
  local pgid
  pgid=$(cat "$work/pgid" 2>/dev/null) && kill -TERM -- "-$pgid" 2>/dev/null
  echo "test run interrupted" >&2
}
trap 'stop' INT TERM
# `wait` returns early when a trapped signal arrives: wait again until the run is over.
while kill -0 "$pipeline" 2>/dev/null; do wait "$pipeline"; done
rc=$(cat "$work/rc" 2>/dev/null || echo 130)
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  echo "test run stopped: still running after TEST_TIMEOUT=$limit" | tee -a "$log"
fi
bash "$here/test-summary.sh" "$log" "$rc" "$label"

#!/usr/bin/env bash
# `make test-stress`: the test suites STRESS_RUNS times at once, STRESS_ROUNDS rounds
# in a row, while a CPU hog (`yes > /dev/null`, one per core) loads every core: a test
# that passes here does not depend on timing luck.
#
#   STRESS_RUNS    copies run in parallel (default 4)
#   STRESS_ROUNDS  rounds, one after the other (default 1)
#   STRESS_ARGS    arguments for `cargo test` (default: --workspace --all-targets),
#                  e.g. "-p dcs-launcher --lib supervise" to stress a subset
#   STRESS_HOGS    CPU hogs (default: one per core)
#
# The tests are built once (`cargo test --no-run`); the copies then run the built
# binaries through `cargo test`, which finds nothing to rebuild. Each copy's output
# goes to its own log under target/test-logs/stress-<time>/ and gets the summary of
# mk/test-summary.sh. The hogs are killed at the end, whatever happens. Exits
# non-zero if any copy had a failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
runs=${STRESS_RUNS:-4}
rounds=${STRESS_ROUNDS:-1}
# Word-split on purpose: STRESS_ARGS is a list of arguments.
read -r -a args <<<"${STRESS_ARGS:---workspace --all-targets}"
hogs_wanted=${STRESS_HOGS:-$(nproc)}
cargo=${CARGO:-cargo}
dir="$root/target/test-logs/stress-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$dir"

hogs=()
runners=()
cleanup() {
  local pid
  for pid in "${runners[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
}
trap cleanup EXIT
trap 'echo "test-stress: interrupted" >&2; exit 130' INT TERM

echo "test-stress: building once: $cargo test --no-run ${args[*]}"
if ! "$cargo" test --no-run "${args[@]}" >"$dir/build.log" 2>&1; then
  cat "$dir/build.log"
  bash "$here/test-summary.sh" "$dir/build.log" 1 "build"
  exit 1
fi

for _ in $(seq "$hogs_wanted"); do
  yes >/dev/null &
  hogs+=($!)
done
echo "test-stress: $rounds round(s) of $runs parallel run(s) of \`cargo test ${args[*]}\`" \
  "with $hogs_wanted CPU hog(s); logs in $dir"

failed=0
started=$(date +%s)
for round in $(seq "$rounds"); do
  runners=()
  for run in $(seq "$runs"); do
    name="round$round-run$run"
    bash "$here/test-run.sh" "$dir/$name.log" "$name" "${args[@]}" >"$dir/$name.out" 2>&1 &
    runners+=($!)
  done
  for i in "${!runners[@]}"; do
    name="round$round-run$((i + 1))"
    if wait "${runners[$i]}"; then status=ok; else status=FAILED; failed=$((failed + 1)); fi
    # The summary is the tail of the runner's output, from its `====` line on.
    sed -n '/^==== test summary/,$p' "$dir/$name.out"
    echo "$name: $status"
  done
  runners=()
done

total=$((rounds * runs))
echo
echo "test-stress: $((total - failed)) of $total run(s) passed in $(($(date +%s) - started)) s" \
  "(${args[*]}; $hogs_wanted hog(s)); logs in $dir"
[ "$failed" = 0 ]

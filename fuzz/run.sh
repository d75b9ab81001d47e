#!/usr/bin/env bash
# Runs every cargo-fuzz target (or the ones named) for SECONDS each and prints one
# summary line per target: executions and whether it found a crash.
#   fuzz/run.sh [SECONDS] [TARGET...]        (default 60 s; `make fuzz` calls this)
# Crash inputs land in fuzz/artifacts/<target>/, full logs in fuzz/logs/<target>.log.
# Each target's row in fuzz/RESULTS.md is replaced with this run's: date, commit
# (with "+dirty" when the fuzzed code has uncommitted changes), seconds, executions.
# Exit status 1 if any target crashed, timed out or failed to build.
set -euo pipefail

secs="${1:-60}"
shift || true
cd "$(dirname "$0")"

# cargo-fuzz passes nightly-only -Z flags (sanitizers, coverage passes); a stable
# toolchain accepts them when RUSTC_BOOTSTRAP=1. No nightly toolchain is needed.
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "installing cargo-fuzz from crates.io" >&2
    cargo install cargo-fuzz --locked
fi

mkdir -p logs
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

# One build for all targets (slow the first time: every dependency is instrumented).
if ! cargo fuzz build >logs/build.log 2>&1; then
    tail -n 30 logs/build.log >&2
    echo "cargo fuzz build failed (full log: fuzz/logs/build.log)" >&2
    exit 1
fi
status=0
commit=$(git rev-parse --short=12 HEAD)
git diff --quiet HEAD -- . ':!Cargo.lock' ../model ../proxy ../os ../net || commit="$commit+dirty"
today=$(date -u +%Y-%m-%d)
rows=$(mktemp)
notes=$(mktemp)
trap 'rm -f "$rows" "$notes"' EXIT
[ -f RESULTS.md ] && grep '^| `' RESULTS.md >"$rows" || true
# What is written below the table by hand (notes on rows) is kept as it is.
[ -f RESULTS.md ] && awk 'seen && !/^\|/ { print } /^\|/ { seen = 1 }' RESULTS.md >"$notes" || true
printf '%-12s %8s %14s  %s\n' target seconds executions result
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    dirs=("corpus/$t")
    [ -d "seeds/$t" ] && dirs+=("seeds/$t")
    opts=("-max_total_time=$secs" -timeout=25 -print_final_stats=1)
    [ -f "dict/$t.dict" ] && opts+=("-dict=dict/$t.dict")
    if cargo fuzz run "$t" "${dirs[@]}" -- "${opts[@]}" >"logs/$t.log" 2>&1; then
        result="no crash"
    else
        result="FAILED (see fuzz/logs/$t.log, fuzz/artifacts/$t/)"
        status=1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -n1)
    printf '%-12s %8s %14s  %s\n' "$t" "$secs" "${execs:-?}" "$result"
    grep -v "^| \`$t\` |" "$rows" >"$rows.new" || true
    printf '| `%s` | %s | %s | %s | %s | %s |\n' "$t" "$today" "$commit" "$secs" "${execs:-?}" \
        "${result%% (*}" >>"$rows.new"
    mv "$rows.new" "$rows"
done
{
    echo "# Fuzzing results"
    echo
    echo "Written by \`fuzz/run.sh\` (\`make fuzz\`): the latest run of each target, with the"
    echo "commit it fuzzed. Reproduce a row with \`fuzz/run.sh <seconds> <target>\`."
    echo
    echo "| target | date | commit | seconds | executions | result |"
    echo "|---|---|---|---|---|---|"
    sort "$rows"
    cat "$notes"
} >RESULTS.md
exit "$status"

#!/usr/bin/env bash
# One summary of a `cargo test --no-fail-fast` log: every failed test as
# `<test binary>: <test name>`, every binary that crashed (no `test result:` line),
# every target that did not build, and the counts across all binaries.
#
#   mk/test-summary.sh LOG [CARGO_EXIT_CODE] [LABEL]
#
# Exits 0 only when every binary ran to its `test result:` line, no test failed,
# at least one test ran, and cargo itself (when its exit code is given) exited 0.
set -euo pipefail

log=${1:?usage: mk/test-summary.sh LOG [CARGO_EXIT_CODE] [LABEL]}
cargo_rc=${2:-0}
label=${3:-}
[ -r "$log" ] || { echo "test-summary: cannot read $log" >&2; exit 2; }

# Colour codes out, carriage returns out: the log is read line by line.
# Free space where cargo writes (a build that fills the disk fails as "not built").
disk_free=$(df -Ph "${CARGO_TARGET_DIR:-$(dirname "$log")}" 2>/dev/null | awk 'NR == 2 { print $4 }')

sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/\r$//' "$log" | awk -v log_path="$log" \
  -v disk_free="${disk_free:-unknown}" \
  -v cargo_rc="$cargo_rc" -v label="$label" '
function start(name) {
  finish()
  bin = name; nbin++; has_result = 0; cand_n = 0; caused = ""; in_fail = 0
}
# Closes the current binary: a crash if it never printed its `test result:` line.
function finish(   i) {
  if (bin == "") return
  if (!has_result) {
    crashed[++ncrash] = bin (caused != "" ? ": " caused : ": no `test result:` line (it crashed, hung or was stopped)")
  } else {
    # The last `failures:` block lists the failed tests, one per line.
    for (i = 1; i <= cand_n; i++) add_failed(bin, cand[i])
  }
  bin = ""
}
function add_failed(b, t,   key) {
  key = b ": " t
  if (!(key in seen)) { seen[key] = 1; failed[++nfail] = key }
}
/^[ \t]+Running / {
  # `     Running unittests src/lib.rs (target/debug/deps/dcs_launcher-0123abcd)`
  src = $0; sub(/^[ \t]+Running (unittests )?/, "", src); sub(/ \(.*$/, "", src)
  path = $0; sub(/^.*\(/, "", path); sub(/\)[ \t]*$/, "", path)
  n = split(path, parts, "/"); stem = parts[n]; sub(/-[0-9a-f]+$/, "", stem)
  start(stem " (" src ")"); next
}
/^[ \t]+Doc-tests / { name = $0; sub(/^[ \t]+Doc-tests /, "", name); start(name " (doc-tests)"); next }
bin != "" && /^test .* \.\.\. FAILED$/ {
  t = $0; sub(/^test /, "", t); sub(/ \.\.\. FAILED$/, "", t); add_failed(bin, t); next
}
bin != "" && /^failures:$/ { in_fail = 1; cand_n = 0; next }
bin != "" && in_fail && /^    [^ ]+$/ { t = $0; sub(/^    /, "", t); cand[++cand_n] = t; next }
bin != "" && /^test result: / {
  in_fail = 0; has_result = 1
  if (match($0, /[0-9]+ passed/))  passed  += substr($0, RSTART, RLENGTH) + 0
  if (match($0, /[0-9]+ failed/))  nfailed += substr($0, RSTART, RLENGTH) + 0
  if (match($0, /[0-9]+ ignored/)) ignored += substr($0, RSTART, RLENGTH) + 0
  next
}
# Why a target did not build: the last compiler error before `could not compile`,
# or what the system said (a full disk, a killed compiler), which wins.
/^error(\[E[0-9]+\])?: / && !/^error: could not compile / { last_err = $0 }
/No space left on device|Cannot allocate memory|SIGKILL/ {
  last_sys = $0; sub(/^[ \t=|]*(note: )?/, "", last_sys)
}
/^error: could not compile / {
  what = $0; sub(/^error: could not compile /, "", what); sub(/ due to .*$/, "", what)
  gsub(/`/, "", what); unbuilt[++nunbuilt] = what
  why[nunbuilt] = (last_sys != "" ? last_sys : last_err); last_sys = ""; last_err = ""
  next
}
bin != "" && /process didn.t exit successfully/ {
  c = $0; sub(/^[ \t]+/, "", c); sub(/`[^`]*` /, "", c); caused = c; next
}
END {
  finish()
  title = "test summary" (label != "" ? " (" label ")" : "")
  printf "\n==== %s; log: %s ====\n", title, log_path
  for (i = 1; i <= nfail; i++)    printf "FAILED       %s\n", failed[i]
  for (i = 1; i <= ncrash; i++)   printf "CRASHED      %s\n", crashed[i]
  for (i = 1; i <= nunbuilt; i++) printf "NOT BUILT    %s%s\n", unbuilt[i], (why[i] != "" ? ": " why[i] : "")
  if (nunbuilt > 0) printf "disk: %s free where the build writes (a full build of `make test` takes ~15 GB)\n", disk_free
  # A failed test counted by `test result:` whose name was not seen is still a failure.
  if (nfailed > nfail) printf "FAILED       %d more test(s) whose names the log does not show\n", nfailed - nfail
  nf = (nfailed > nfail ? nfailed : nfail)
  bad = nf + ncrash + nunbuilt
  printf "test binaries: %d ran to the end, %d crashed, %d target(s) did not build\n", nbin - ncrash, ncrash, nunbuilt
  printf "ignored: %d (#[ignore]d tests, e.g. the real-cluster ones of `make e2e-k8s`)\n", ignored
  if (bad == 0 && passed == 0) { print "no test ran: see the log"; bad = 1 }
  if (bad == 0 && cargo_rc != 0) {
    printf "cargo test exited %s but the log shows no failure: see the log\n", cargo_rc; bad = 1
  }
  printf "failed: %d test(s), %d crashed binar%s, %d target(s) not built\n", nf, ncrash, (ncrash == 1 ? "y" : "ies"), nunbuilt
  printf "summary: %d passed, %d failed\n", passed, bad
  exit (bad > 0 ? 1 : 0)
}'

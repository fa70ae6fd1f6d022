#!/usr/bin/env bash
# The suite's flake check: runs `npm test` N times in a row while every core is kept busy, and
# reports how many runs passed and how long each took. A run that fails even once is a defect to find, not
# a reason to retry. Usage: bench/stress-test-loop.sh [N=10]   (logs in $STRESS_LOG_DIR, default a temp dir)
set -uo pipefail
cd "$(dirname "$0")/.."

runs="${1:-10}"
cores="$(nproc 2>/dev/null || echo 2)"
logs="${STRESS_LOG_DIR:-$(mktemp -d -t stress-test-loop.XXXXXX)}"
mkdir -p "$logs"

# The load beside the suite: stress-ng when installed, else one node busy loop per core. Their pids are
# remembered and only they are stopped at the end.
load_pids=()
if command -v stress-ng >/dev/null 2>&1; then
  stress-ng --cpu "$cores" --quiet &
  load_pids+=("$!")
  load="stress-ng --cpu $cores"
else
  for _ in $(seq "$cores"); do
    node -e 'for (;;) {}' &
    load_pids+=("$!")
  done
  load="$cores node busy loops"
fi
test_pgid=""
stop_load() {
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait "${load_pids[@]}" 2>/dev/null
}
# Interrupted: stop the run in progress (its own process group: npm, jest, its workers and the servers they
# started) and the load, then leave.
interrupted() {
  [ -n "$test_pgid" ] && kill -TERM -- "-$test_pgid" 2>/dev/null
  stop_load
  exit 130
}
trap stop_load EXIT
trap interrupted INT TERM

echo "npm test x $runs beside $load; logs in $logs"
passed=0
failed=0
durations=()
for i in $(seq "$runs"); do
  started=$(date +%s.%N)
  setsid npm test >"$logs/run-$i.log" 2>&1 &
  test_pgid=$!
  if wait "$test_pgid"; then
    outcome=pass
    passed=$((passed + 1))
  else
    outcome=FAIL
    failed=$((failed + 1))
  fi
  test_pgid=""
  seconds=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  durations+=("$seconds")
  printf 'run %d/%d: %s in %.1f s%s\n' "$i" "$runs" "$outcome" "$seconds" \
    "$([ "$outcome" = FAIL ] && echo " (see $logs/run-$i.log)")"
  # Say which suites failed, and whether anything leaked or printed on stderr.
  if [ "$outcome" = FAIL ]; then grep -E '^(FAIL|  ●)' "$logs/run-$i.log" | head -20; fi
  grep -hE 'did not exit|failed to exit gracefully|open handle' "$logs/run-$i.log" | head -3
done

sorted=$(printf '%s\n' "${durations[@]}" | sort -n)
printf 'passed %d/%d, failed %d; durations: min %.1f s, median %.1f s, max %.1f s\n' "$passed" "$runs" "$failed" \
  "$(echo "$sorted" | head -1)" "$(echo "$sorted" | sed -n "$(((runs + 1) / 2))p")" "$(echo "$sorted" | tail -1)"
[ "$failed" -eq 0 ]

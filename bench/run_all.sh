#!/usr/bin/env bash
# Run the benchmarks one after another (never in parallel: they measure wall time) and summarise
# the last line of each.
# Usage: bash bench/run_all.sh [--quick]     (--quick: small sizes, for checking that they run)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

if [ "${1:-}" = "--quick" ]; then
  runs=("plan_10k 1000 --repeat 2" "refresh_1k 200 --repeat 2" "apply_1k 300 --repeat 2" "cold_start --repeat 5"
        "promotion_stats 1000000 --repeat 3" "evaluate_endpoint --rows 1000 --repeat 2 --sweep="
        "refresh_azure 200 --repeat 2")
else
  runs=("plan_10k" "refresh_1k" "apply_1k" "cold_start" "promotion_stats" "evaluate_endpoint" "refresh_azure")
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
summary=()
status=0
for run in "${runs[@]}"; do
  read -r -a argv <<<"$run"
  name=${argv[0]}
  echo "== bench/$name.py ${argv[*]:1}"
  if "$PY" "bench/$name.py" "${argv[@]:1}" | tee "$log"; then
    extra=$(grep -E '^(scaling|peer speed-up|calls / target):' "$log" || true)
    [ -n "$extra" ] && summary+=("$(printf '%-16s %s' "$name" "$extra")")
    summary+=("$(printf '%-16s %s' "$name" "$(tail -n 1 "$log")")")
  else
    summary+=("$(printf '%-16s %s' "$name" "FAILED to run")")
    status=1
  fi
  echo
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status

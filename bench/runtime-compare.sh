#!/usr/bin/env bash
# Runs the storm benchmark of the runtime as it is now and as it was at another revision, taking turns, so that both
# sides meet the same load on a shared machine; prints each run and the medians.
#
#   bash bench/runtime-compare.sh <base-revision> [rounds] [seconds] [extra storm options]
#   bash bench/runtime-compare.sh main 5 20
#   bash bench/runtime-compare.sh 01d69ed 5 20 --workers 64
#
# Both sides run the benchmark program of the working tree (so they measure the same way); only the runtime library
# differs. The base revision is exported with `git archive` into a temporary folder, not checked out.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="${1:?usage: runtime-compare.sh <base-revision> [rounds] [seconds] [storm options]}"
rounds="${2:-5}"
seconds="${3:-20}"
shift $(( $# < 3 ? $# : 3 ))
extra=("$@")

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "Exporting $base and building both sides..."
git -C "$root" archive "$base" | tar -x -C "$work"
rm -rf "$work/bench/Runtime.Bench"
cp -r "$root/bench/Runtime.Bench" "$work/bench/Runtime.Bench"
rm -rf "$work/bench/Runtime.Bench/bin" "$work/bench/Runtime.Bench/obj"
# The benchmark compiles the runtime tests' server fixture in: the working tree's, on both sides.
rm -rf "$work/tests/TenantDbGuard.Runtime.Tests/Infrastructure"
cp -r "$root/tests/TenantDbGuard.Runtime.Tests/Infrastructure" "$work/tests/TenantDbGuard.Runtime.Tests/Infrastructure"
build() {
    local output
    if ! output="$(dotnet build -c Release "$1/bench/Runtime.Bench" -nologo -tl:off -v:q 2>&1)"; then
        echo "$output" | grep -E " error " | sort -u >&2
        echo "runtime-compare.sh: the benchmark does not build against $2" >&2
        exit 1
    fi
}
build "$work" "$base"
build "$root" "the working tree"

run() {
    local dir="$1"
    (cd "$dir" && dotnet bench/Runtime.Bench/bin/Release/net10.0/TenantDbGuard.Runtime.Bench.dll storm \
        --seconds "$seconds" --modes runtime --csv "$work/storm.csv" "${extra[@]}" 2>&1)
}

# ok/s is the 5th column of the summary row; CPU and allocations come from the "this process" line.
summarize() {
    local out="$1"
    local okps cpu bytes
    okps="$(echo "$out" | grep '| TenantDbGuard.Runtime' | tail -1 | awk -F'|' '{gsub(/[ ,]/, "", $5); print $5}')"
    cpu="$(echo "$out" | sed -nE 's/.* and ([0-9,]+) µs of CPU per query.*/\1/p' | tr -d ,)"
    bytes="$(echo "$out" | sed -nE 's/.*this process: ([0-9,]+) bytes allocated.*/\1/p' | tr -d ,)"
    echo "$okps $cpu $bytes"
}

declare -a base_ok now_ok
printf '%-6s %-5s %10s %14s %16s %s\n' round side ok/s "CPU µs/query" "bytes/query" "load"
for round in $(seq 1 "$rounds"); do
    # Alternate which side goes first.
    if (( round % 2 == 1 )); then order=(base now); else order=(now base); fi
    for side in "${order[@]}"; do
        if [[ $side == base ]]; then dir="$work"; else dir="$root"; fi
        read -r okps cpu bytes < <(summarize "$(run "$dir")")
        printf '%-6s %-5s %10s %14s %16s %s\n' "$round" "$side" "$okps" "$cpu" "$bytes" "$(cut -d' ' -f1-3 /proc/loadavg)"
        if [[ $side == base ]]; then base_ok+=("$okps"); else now_ok+=("$okps"); fi
    done
done

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
base_median="$(median "${base_ok[@]}")"
now_median="$(median "${now_ok[@]}")"
echo
echo "median ok/s: $base ${base_median}, now ${now_median}; now/base $(awk -v a="$now_median" -v b="$base_median" 'BEGIN { printf "%.3f", a / b }')"

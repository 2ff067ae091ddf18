#!/usr/bin/env bash
# Measures, inside one process, how much compile CPU the TenantDbGuard analyzers add to a large code base
# (the code base of bench/build-cost.sh). Quicker and steadier than whole builds; see docs/benchmarks.md.
#
#   bash bench/analyzer-cost.sh [ROUNDS]     ROUNDS alternating pairs (default 10, or $ROUNDS)
#   FILES=40 bash bench/analyzer-cost.sh 2   a smaller code base (400 files by default), to try it out
#   COMPARE=OTHER/TenantDbGuard.Analyzers.dll bash bench/analyzer-cost.sh
#                                            also measure another build of the analyzers (an older revision,
#                                            built with 'dotnet build src/Analyzers -c Release' in a copy of it)
#                                            in the same rounds, side by side
set -euo pipefail

rounds="${1:-${ROUNDS:-10}}"
files="${FILES:-400}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/tdg-analyzer-cost.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

echo "== Building the generator and the benchmark (Release)"
for project in bench/CodebaseGenerator bench/AnalyzerCost; do
    dotnet build "$root/$project" -c Release -v q -nologo -tl:off >"$work/build.log" 2>&1 \
        || { cat "$work/build.log"; exit 1; }
done

dotnet "$root/bench/CodebaseGenerator/bin/Release/net10.0/CodebaseGenerator.dll" generate "$work/src" --files "$files" >/dev/null
echo "== Planted leaks: $(($(wc -l <"$work/src/planted-leaks.tsv") - 1))"
dotnet "$root/bench/AnalyzerCost/bin/Release/net10.0/AnalyzerCost.dll" "$work/src" --rounds "$rounds" ${COMPARE:+--compare "$COMPARE"}

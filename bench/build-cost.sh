#!/usr/bin/env bash
# Measures how much build CPU the TenantDbGuard analyzer (TDG001 and TDG004, one analysis) adds to a large code base.
#
#   bash bench/build-cost.sh [RUNS]        RUNS full rebuilds of each configuration (default 5, or $RUNS)
#   CA2000=1 bash bench/build-cost.sh      also measures CA2000 (dispose_analysis_kind = AllPaths) for reference
#   KEEP=1 bash bench/build-cost.sh        keeps the generated code base and the build logs
#   FILES=40 bash bench/build-cost.sh 1    a smaller code base (400 files by default), to try the script out
#
# The configurations alternate inside every run (and the order rotates from run to run), so that load
# from other processes on a shared machine hits them alike. Each build is a full rebuild (--no-incremental)
# with the compiler in the measured process tree (no compiler server, no MSBuild node reuse); the figure
# is the user+sys CPU time of that tree.
set -euo pipefail

runs="${1:-${RUNS:-5}}"
with_ca2000="${CA2000:-0}"
keep="${KEEP:-0}"
files="${FILES:-400}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/tdg-build-cost.XXXXXX")"
project="$work/src/Generated.csproj"
analyzer="$root/src/Analyzers/bin/Release/netstandard2.0/TenantDbGuard.Analyzers.dll"
generator="$root/bench/CodebaseGenerator/bin/Release/net10.0/CodebaseGenerator.dll"

cleanup() {
    if [[ "$keep" == 1 ]]; then
        echo "Kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export MSBUILDDISABLENODEREUSE=1
# bash's time keyword reports the CPU of the command and of every descendant it waited for.
TIMEFORMAT='%3U %3S'

echo "== Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), .NET SDK $(dotnet --version)"
echo "== Load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== Building the generator and the analyzer (Release)"
dotnet build "$root/bench/CodebaseGenerator" -c Release -v q -nologo -tl:off >"$work/generator-build.log" 2>&1 \
    || { cat "$work/generator-build.log"; exit 1; }
dotnet build "$root/src/Analyzers" -c Release -v q -nologo -tl:off >"$work/analyzer-build.log" 2>&1 \
    || { cat "$work/analyzer-build.log"; exit 1; }
[[ -f "$analyzer" ]] || { echo "Analyzer not found at $analyzer" >&2; exit 1; }

echo "== Generating the code base into $work/src"
dotnet "$generator" generate "$work/src" --files "$files"
planted=$(($(wc -l <"$work/src/planted-leaks.tsv") - 1))

echo "== Restoring once"
dotnet restore "$project" -v q -nologo >"$work/restore.log" 2>&1 || { cat "$work/restore.log"; exit 1; }

# build LOG [msbuild properties...]: one full rebuild; prints its user+sys CPU seconds.
build() {
    local log="$1"
    shift
    dotnet build-server shutdown >/dev/null 2>&1 || true
    if ! { time dotnet build "$project" --no-restore --no-incremental -nologo -tl:off -clp:NoSummary \
        -m:1 -nodeReuse:false -p:UseSharedCompilation=false "$@" >"$log" 2>&1; } 2>"$work/time"; then
        echo "Build failed ($*), last lines of $log:" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    awk '{ printf "%.2f\n", $1 + $2 }' "$work/time"
}

configs=(without with)
[[ "$with_ca2000" == 1 ]] && configs+=(ca2000)

props() {
    case "$1" in
        without) echo "-p:WithTdg=false -p:WithCa2000=false" ;;
        with) echo "-p:WithTdg=true -p:TdgAnalyzerPath=$analyzer -p:WithCa2000=false" ;;
        ca2000) echo "-p:WithTdg=false -p:WithCa2000=true" ;;
    esac
}

echo "== Warm-up build of each configuration (not measured)"
for config in "${configs[@]}"; do
    # shellcheck disable=SC2046
    build "$work/warmup-$config.log" $(props "$config") >/dev/null
done

declare -A cpu
echo "== $runs measured runs, configurations alternating: ${configs[*]}"
for ((run = 1; run <= runs; run++)); do
    n=${#configs[@]}
    for ((k = 0; k < n; k++)); do
        config="${configs[$(((k + run - 1) % n))]}"
        # shellcheck disable=SC2046
        cpu[$run,$config]=$(build "$work/$config-$run.log" $(props "$config"))
        echo "   run $run  $config: ${cpu[$run,$config]} s"
    done
done

count() { { grep -E "warning $1:" "$2" || true; } | sort -u | wc -l; }
tdg_count=$(count TDG001 "$work/with-$runs.log")

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
overhead() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f\n", (b - a) / a * 100 }'; }

echo
echo "== Build CPU (user+sys seconds), full rebuild of $(($(find "$work/src" -name '*.cs' -exec cat {} + | wc -l))) lines"
echo
if [[ "$with_ca2000" == 1 ]]; then
    echo "| run | without analyzer | with TDG001 | TDG001 overhead | with CA2000 (AllPaths) | CA2000 overhead |"
    echo "|----:|-----------------:|------------:|----------------:|-----------------------:|----------------:|"
else
    echo "| run | without analyzer | with TDG001 | TDG001 overhead |"
    echo "|----:|-----------------:|------------:|----------------:|"
fi
tdg_overheads=()
ca_overheads=()
for ((run = 1; run <= runs; run++)); do
    tdg=$(overhead "${cpu[$run,without]}" "${cpu[$run,with]}")
    tdg_overheads+=("$tdg")
    line="| $run | ${cpu[$run,without]} | ${cpu[$run,with]} | $tdg % |"
    if [[ "$with_ca2000" == 1 ]]; then
        ca=$(overhead "${cpu[$run,without]}" "${cpu[$run,ca2000]}")
        ca_overheads+=("$ca")
        line+=" ${cpu[$run,ca2000]} | $ca % |"
    fi
    echo "$line"
done
column_median() { for ((run = 1; run <= runs; run++)); do echo "${cpu[$run,$1]}"; done | median; }
line="| median | $(column_median without) | $(column_median with) | $(printf '%s\n' "${tdg_overheads[@]}" | median | xargs printf '%+.1f') % |"
if [[ "$with_ca2000" == 1 ]]; then
    line+=" $(column_median ca2000) | $(printf '%s\n' "${ca_overheads[@]}" | median | xargs printf '%+.1f') % |"
fi
echo "$line"
echo
echo "Overhead = (with - without) / without of the same run; the median row is the median of each column."
line="Overhead of the median builds: TDG001 $(overhead "$(column_median without)" "$(column_median with)") %"
[[ "$with_ca2000" == 1 ]] && line+=", CA2000 $(overhead "$(column_median without)" "$(column_median ca2000)") %"
echo "$line"
echo "Load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== Analyzer time as the compiler reports it (-p:ReportAnalyzer=true, one more build, not part of the table)"
report_props=(-p:WithTdg=true "-p:TdgAnalyzerPath=$analyzer" -p:ReportAnalyzer=true -v:d)
[[ "$with_ca2000" == 1 ]] && report_props+=(-p:WithCa2000=true)
build "$work/report-analyzer.log" "${report_props[@]}" >/dev/null
sed -n '/Total analyzer execution time/,/Total generator execution time/p' "$work/report-analyzer.log" \
    | grep -E 'Total analyzer execution time|TenantDbGuard|Microsoft.CodeAnalysis.NetAnalyzers,|\(CA2000\)' | sed 's/^ */   /'

echo
echo "== TDG001 warnings in the with-analyzer build: $tdg_count (planted leaks: $planted)"
echo "   TDG004 warnings (use or second release after a release; none planted): $(count TDG004 "$work/with-$runs.log")"
if [[ "$with_ca2000" == 1 ]]; then
    echo "   CA2000 warnings in the CA2000 build: $(count CA2000 "$work/ca2000-$runs.log")"
fi
dotnet "$generator" check "$work/src" "$work/with-$runs.log"

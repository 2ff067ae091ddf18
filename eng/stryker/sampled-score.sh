#!/usr/bin/env bash
# The mutation score over src/Analyzers, src/CodeFixes and src/Runtime/Core, from a uniform random sample of each
# project's mutants (eng/stryker/sample.py says how). Three steps per project:
#   1. list every mutant: Stryker with a filter that runs one test (the mutants it does not reach come out as NoCoverage);
#   2. draw the sample and run Stryker again over the sampled mutants only, with the project's real test filter;
#   3. score the sampled mutants, with a 95 % interval per project and over the three.
# Usage: bash eng/stryker/sampled-score.sh [OUT_DIR] [SEED]
#   SAMPLE_ANALYZERS, SAMPLE_CODEFIXES, SAMPLE_RUNTIME: mutants drawn per project (100, 60, 45 by default; 0 skips
#   the project, and the score is over the others).
# Stryker builds and mutates the test projects' own output: build or test nothing else in this clone while it runs.
# About three hours on a quiet 2-core machine; the runtime's tests start MariaDB (installed when missing, as by eng/test.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/artifacts/mutation-sample}"
seed="${2:-20261203}"
mkdir -p "$out"

# shellcheck source=eng/common.sh
source "$root/eng/common.sh"
cd "$root"
dotnet tool restore >/dev/null

stryker() { # test project folder, then Stryker's arguments
    local tests="$1"
    shift
    (cd "$root/tests/$tests" && dotnet stryker --target-framework net10.0 --concurrency 2 -r json -r progress "$@")
}

project() { # name, config, test project, count, one test, extra Stryker arguments for step 1
    local name="$1" config="$2" tests="$3" count="$4" one="$5"
    shift 5
    if [ "$count" -eq 0 ]; then
        return
    fi
    echo "== $name: listing the mutants"
    stryker "$tests" -f "../../eng/stryker/$config" --test-case-filter "FullyQualifiedName~$one" "$@" \
        -O "$out/$name-all" >"$out/$name-all.log" 2>&1
    python3 "$root/eng/stryker/sample.py" pick "$out/$name-all/reports/mutation-report.json" "$count" "$seed" \
        "$out/$name-sample.json" >"$out/$name-patterns.txt"
    local patterns=()
    while read -r pattern; do patterns+=(-m "$pattern"); done <"$out/$name-patterns.txt"
    echo "== $name: testing the sample"
    stryker "$tests" -f "../../eng/stryker/$config" "${patterns[@]}" -O "$out/$name" >"$out/$name.log" 2>&1
    scored+=("$out/$name-sample.json" "$out/$name/reports/mutation-report.json")
}

for count in "${SAMPLE_ANALYZERS:-100}" "${SAMPLE_CODEFIXES:-60}" "${SAMPLE_RUNTIME:-45}"; do
    if ! [[ "$count" =~ ^[0-9]+$ ]]; then
        echo "SAMPLE_ANALYZERS, SAMPLE_CODEFIXES and SAMPLE_RUNTIME take a whole number of mutants (0 skips the project); got '$count'" >&2
        exit 2
    fi
done

scored=()

project analyzers analyzers.json TenantDbGuard.Analyzers.Tests "${SAMPLE_ANALYZERS:-100}" \
    MetaTests.Descriptor_ids_are_unique
project codefixes codefixes.json TenantDbGuard.Analyzers.Tests "${SAMPLE_CODEFIXES:-60}" \
    SharedPoolClosedCodeFixTests.Dispose_of_a_shared_data_source_is_removed
runtime_count="${SAMPLE_RUNTIME:-45}"
if [ "$runtime_count" -ne 0 ]; then
    ensure_mariadb
fi
project runtime runtime.json TenantDbGuard.Runtime.Tests "$runtime_count" \
    TenantInfoTests.Keeps_what_it_is_given -m "**/Core/**/*.cs"

if [ "${#scored[@]}" -eq 0 ]; then
    echo "no project sampled: every SAMPLE_* count is 0" >&2
    exit 2
fi

python3 "$root/eng/stryker/sample.py" score "${scored[@]}" | tee "$out/score.txt"

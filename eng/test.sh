#!/usr/bin/env bash
# Builds TenantDbGuard.sln and runs every test project in it, then the analyzer and code-fix tests once more on the
# oldest supported Roslyn (TEST_ROSLYN_LEG, 4.8.0 by default; "none" leaves that leg out), and the runtime tests once
# more on the runtime's net8.0 build (TEST_NET8_LEG; "none" leaves it out), then prints one line:
#   Tests: N passed, M failed[, K skipped]
# preceded, when a test failed, by the name and message of each failed test.
# Exits non-zero when the build fails, a test fails, or no test ran.
# Installs mariadb-server first when mariadbd is missing (apt-get, as root or through sudo).
# Usage: bash eng/test.sh   (from any folder)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
solution="$root/TenantDbGuard.sln"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# shellcheck source=eng/common.sh
source "$root/eng/common.sh"

build() {
    dotnet build "$solution" -nologo -tl:off
}

# A test that hangs (a wait that never ends) is stopped after $hang_timeout and reported as failed, so a
# regression fails the run instead of holding CI until its own limit. The slowest single test (dotnet format end to
# end on a loaded 2-core machine) takes about 5 minutes.
hang_timeout="${TEST_HANG_TIMEOUT:-10m}"

run_tests() {
    dotnet test "$solution" --no-build -nologo -tl:off --logger "console;verbosity=minimal" \
        --blame-hang-timeout "$hang_timeout" --blame-hang-dump-type none 2>&1 | tee "$log"
}

# The Roslyn leg: the analyzer and code-fix tests again on Microsoft.CodeAnalysis $roslyn_leg (the oldest Roslyn the
# analyzers support: Visual Studio 2022 17.8, the .NET 8 SDK), built into artifacts/roslyn-$roslyn_leg so that the
# main build stays as it is. Tests of C# versions that Roslyn does not know skip themselves with the reason. The
# `dotnet format` end-to-end tests are left out: they run the SDK's own Roslyn whatever the leg asks for.
roslyn_leg="${TEST_ROSLYN_LEG:-4.8.0}"

# The .NET 8 leg: the runtime tests again against the runtime package's net8.0 build (its own code paths where .NET 9
# added an API: the search for the words of what a reset keeps, the histograms' bucket advice), the test assembly built
# for net8.0 and run on the installed .NET runtime (roll-forward; no .NET 8 runtime is needed), into artifacts/net8.0.
# The slow end-to-end run (Speed=Slow) stays in the main run only. TEST_NET8_LEG=none leaves the leg out.
net8_leg="${TEST_NET8_LEG:-on}"

run_roslyn_leg() {
    echo "== Analyzer and code-fix tests on Roslyn $roslyn_leg"
    dotnet test "$root/tests/TenantDbGuard.Analyzers.Tests" -nologo -tl:off --logger "console;verbosity=minimal" \
        -p:RoslynTestVersion="$roslyn_leg" -p:UseArtifactsOutput=true -p:ArtifactsPath="$root/artifacts/roslyn-$roslyn_leg" \
        --filter "FullyQualifiedName!~DotnetFormatEndToEndTests" \
        --blame-hang-timeout "$hang_timeout" --blame-hang-dump-type none 2>&1 | tee -a "$log"
}

run_net8_leg() {
    echo "== Runtime tests on the runtime's net8.0 build"
    dotnet test "$root/tests/TenantDbGuard.Runtime.Tests" -nologo -tl:off --logger "console;verbosity=minimal" \
        -p:RuntimeTestsOnNet8=true -p:UseArtifactsOutput=true -p:ArtifactsPath="$root/artifacts/net8.0" \
        --filter "Speed!=Slow" \
        --blame-hang-timeout "$hang_timeout" --blame-hang-dump-type none 2>&1 | tee -a "$log"
}

# Adds up the per-assembly lines of the console logger:
#   Passed!  - Failed:     0, Passed:    42, Skipped:     1, Total:    43, Duration: 2 s - X.Tests.dll (net10.0)
# A run aborted by the hang timeout (or a crash) prints "Test Run Aborted." and names the test that was running; it
# counts as one failed test, since the per-assembly line covers only the tests that finished.
summarize() {
    sed -E 's/\x1b\[[0-9;]*m//g' "$log" \
        | sed -nE -e 's/^ *(Passed|Failed|Skipped)! +- +Failed: +([0-9]+), Passed: +([0-9]+), Skipped: +([0-9]+), Total: +([0-9]+).*/\3 \2 \4/p' \
            -e 's/^Test Run Aborted\..*/0 1 0/p' \
        | awk '{ passed += $1; failed += $2; skipped += $3 } END { printf "%d %d %d\n", passed, failed, skipped }'
}

# Repeats, after the totals, the name and the first lines of the message of every failed test (and the test a hang
# stopped), so that the end of the output says what failed without scrolling back through every assembly's log.
#   Failed TenantDbGuard.Runtime.Tests.SomeTests.Some_test [2 s]
#     Error Message:
#      Assert.True() Failure
list_failures() {
    sed -E 's/\x1b\[[0-9;]*m//g' "$log" \
        | awk '
            /^ *Failed [^!]/ { print; keep = 8; next }
            /^ *(Stack Trace|Standard Output Messages):/ { keep = 0 }
            /^The active test run was aborted|^Test Run Aborted/ { print; next }
            /running when the/ { print; keep = 4; next }
            keep > 0 { print; keep-- }
        '
}

ensure_mariadb test
build

test_status=0
run_tests || test_status=$?
if [[ "$roslyn_leg" != none ]]; then
    run_roslyn_leg || test_status=$?
fi
if [[ "$net8_leg" != none ]]; then
    run_net8_leg || test_status=$?
fi

read -r passed failed skipped < <(summarize)
line="Tests: $passed passed, $failed failed"
if ((skipped > 0)); then
    line+=", $skipped skipped"
fi
echo
if ((failed > 0)); then
    echo "Failed tests:"
    list_failures
    echo
fi
echo "$line"

if ((failed > 0)); then
    exit 1
fi
if ((passed == 0)); then
    echo "test: no test ran" >&2
    exit 1
fi
if ((test_status != 0)); then
    echo "test: dotnet test exited with $test_status" >&2
    exit "$test_status"
fi

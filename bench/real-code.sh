#!/usr/bin/env bash
# Runs the TenantDbGuard rules over local copies of code bases and lists every report with its source line, for
# review by hand (see docs/benchmarks.md, "Real code"). Fetches nothing: point it at folders you already have.
#
#   bash bench/real-code.sh FOLDER [FOLDER...]        product code only (test, benchmark and sample folders left out)
#   WITH_TESTS=1 bash bench/real-code.sh FOLDER       test folders too
#   bash bench/real-code.sh --fix FOLDER              apply the TDG001/TDG003/TDG004/TDG005 fixes in memory, one at a
#                                                     time, and print each edit as a unified diff (folder untouched)
#   bash bench/real-code.sh --fix --write FOLDER      the same, and write the result into the folder
set -euo pipefail

mode=()
while [ "$#" -gt 0 ] && [[ "$1" == --* ]]; do
    case "$1" in
        --fix|--write) mode+=("$1"); shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
if [ "$#" -lt 1 ]; then
    echo "usage: bash bench/real-code.sh [--fix [--write]] FOLDER [FOLDER...]" >&2
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
dotnet build "$root/bench/RealCode" -c Release -v q -nologo -tl:off >"$log" 2>&1 || { cat "$log"; exit 1; }

status=0
for folder in "$@"; do
    dotnet "$root/bench/RealCode/bin/Release/net10.0/RealCode.dll" "$folder" ${WITH_TESTS:+--with-tests} "${mode[@]}" || status=$?
done
exit "$status"

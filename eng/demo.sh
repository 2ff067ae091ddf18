#!/usr/bin/env bash
# Builds samples/Leaks, a project that leaks connections on purpose, and lists what TDG001 reports in it.
# Usage: bash eng/demo.sh   (from any folder)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
project="$root/samples/Leaks/Leaks.csproj"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

echo "Building samples/Leaks..."
if ! dotnet build "$project" --no-incremental -nologo -tl:off -clp:NoSummary >"$log" 2>&1; then
    cat "$log"
    echo "demo: the build of samples/Leaks failed" >&2
    exit 1
fi

# MSBuild prints "path(line,col): warning TDG001: message (help link) [project]"; keep "path:line: message".
findings="$(
    sed -nE 's#^(.*)\(([0-9]+),[0-9]+\): warning TDG001: (.*) \[[^]]*\]$#\1:\2: \3#p' "$log" \
        | sed -E 's# \(https?://[^)]*\)$##' \
        | sed "s#^$root/##" \
        | sort -u \
        | sort -t: -k1,1 -k2,2n
)"

if [[ -z "$findings" ]]; then
    echo "demo: the build found no TDG001 finding in samples/Leaks" >&2
    exit 1
fi

echo
echo "$findings"
echo
echo "TDG001 findings: $(grep -c . <<<"$findings")"

#!/usr/bin/env bash
# The product at work, on this machine, in about a minute:
#  1. installs mariadb-server with apt-get when mariadbd is missing;
#  2. runs samples/TenantCrm, a multi-tenant app on TenantDbGuard.Runtime, on a throwaway MariaDB
#     (max_connections 151) under concurrent load across 200 tenants (samples/TenantCrm.Load): dashboard,
#     customers and menus on the runtime's helpers, and the chat module on EF Core (TenantDbGuard.EntityFrameworkCore),
#     all on one budget; prints requests, failures and latency per kind of request (the chat's counted on a line of
#     its own), the server's peak connections against its limit and the runtime's budget,
#     and the db.client.connection.* figures it reads from the app's /metrics at the end;
#  3. builds samples/TenantCrm.Leaky, data access in the same style that leaks connections on purpose,
#     and lists what TDG001 reports in it.
# Exits non-zero when a request got an unexpected status, or when TDG001 found nothing.
# Usage: bash eng/demo.sh [--tenants N] [--clients N] [--seconds N]   (from any folder)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# shellcheck source=eng/common.sh
source "$root/eng/common.sh"

build() {
    local project="$1"
    if ! dotnet build "$root/$project" -c Release -nologo -tl:off -clp:NoSummary >"$log" 2>&1; then
        cat "$log"
        echo "demo: the build of $project failed" >&2
        exit 1
    fi
}

ensure_mariadb demo

echo "== 1. TenantCrm under load"
echo "Building samples/TenantCrm and its load driver..."
build samples/TenantCrm.Load/TenantCrm.Load.csproj
load_status=0
dotnet "$root/samples/TenantCrm.Load/bin/Release/net10.0/TenantCrm.Load.dll" \
    --app "$root/samples/TenantCrm/bin/Release/net10.0/TenantCrm.dll" "$@" || load_status=$?

echo
echo "== 2. What TDG001 finds in samples/TenantCrm.Leaky"
echo "Building samples/TenantCrm.Leaky..."
build samples/TenantCrm.Leaky/TenantCrm.Leaky.csproj

# MSBuild prints "path(line,col): warning TDG001: message (help link) [project]"; keep "path:line: message".
findings="$(
    sed -nE 's#^(.*)\(([0-9]+),[0-9]+\): warning TDG001: (.*) \[[^]]*\]$#\1:\2: \3#p' "$log" \
        | sed -E 's# \(https?://[^)]*\)$##' \
        | sed "s#^$root/##" \
        | sort -u \
        | sort -t: -k1,1 -k2,2n
)"

echo
if [[ -n "$findings" ]]; then
    echo "$findings"
    echo
fi
echo "TDG001 findings: $(grep -c . <<<"$findings" || true)"

if ((load_status != 0)); then
    echo "demo: the load run failed (exit code $load_status)" >&2
    exit "$load_status"
fi
if [[ -z "$findings" ]]; then
    echo "demo: the build found no TDG001 finding in samples/TenantCrm.Leaky" >&2
    exit 1
fi

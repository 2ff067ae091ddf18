#!/usr/bin/env bash
# Shared by eng/test.sh and eng/demo.sh: source it, do not run it.

# Installs mariadb-server with apt-get (as root or through sudo) when mariadbd is missing.
# The tests and the demo start their own throwaway MariaDB server (tests/TenantDbGuard.Runtime.Tests/
# Infrastructure/MariaDbServer.cs) with --no-defaults on a free port; they need the server binaries,
# not a running service, and a service the package may start on 3306 does not disturb them.
# Usage: ensure_mariadb NAME   (NAME prefixes the messages, e.g. test or demo)
ensure_mariadb() {
    local name="$1"
    if command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]]; then
        return
    fi
    local sudo=""
    if ((EUID != 0)); then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "$name: mariadbd is missing; install mariadb-server (needs root)" >&2
            exit 1
        fi
        sudo="sudo"
    fi
    echo "$name: installing mariadb-server"
    $sudo apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y mariadb-server
}

#!/bin/sh
# Make sure a redis-server binary is available for the Redis session-storage tests.
#
# Idempotent and fast once installed: it only checks PATH.  Otherwise it installs Debian's
# redis-server package (needs root and apt).  The tests start their own server on a free
# port and never use the system service; this script stops that service if apt started it.
set -eu

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-redis: redis-server is missing and apt-get is not available" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null

# The package may start a system-wide server on port 6379: the tests do not need it.
if command -v service >/dev/null 2>&1; then
    $SUDO service redis-server stop >/dev/null 2>&1 || true
fi

command -v redis-server >/dev/null 2>&1

#!/bin/sh
# Install wrk, the load generator bench/run.py drives. Idempotent; needs root (Debian/Ubuntu).
# Tries the package lists already on the machine first; runs apt-get update only if that fails.
set -eu

if command -v wrk >/dev/null 2>&1; then
    echo "wrk already installed: $(command -v wrk)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "wrk is missing; run this script as root (or: sudo apt-get update && sudo apt-get install -y wrk)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y wrk; then
    apt-get update
    apt-get install -y wrk
fi
echo "wrk installed: $(command -v wrk)"

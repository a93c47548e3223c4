#!/bin/sh
# System packages the test suite drives (Debian/Ubuntu):
#   - postgresql          the polls example's tests start a throwaway cluster from its binaries
#   - chromium, chromium-driver   the polls example's browser test (headless)
#   - nginx               tests/deploy/test_nginx.py runs a real nginx in front of heron
#   - libnginx-mod-stream nginx's TCP proxy, which sends the PROXY protocol (test_proxy_protocol.py)
#   - openssl             the same test makes a throwaway certificate for nginx's TLS port
#   - memcached           heron.sessions' MemcachedStorage tests start a private one
# (gunicorn, for heron.worker, is a Python package: the dev extra installs it.)
#
# Idempotent and fast when everything is present (no apt call at all).  As root with apt-get it
# installs what is missing; otherwise it says what is missing and exits 0: the tests that need a
# missing program are then skipped with a message naming it.
set -eu

have_postgres() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && return 0
    done
    return 1
}

have_chromium() {
    { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } &&
        command -v chromedriver >/dev/null 2>&1
}

have_nginx() {
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]
}

missing=""
have_postgres || missing="$missing postgresql"
have_chromium || missing="$missing chromium chromium-driver"
have_nginx || missing="$missing nginx"
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing="$missing libnginx-mod-stream"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v memcached >/dev/null 2>&1 || missing="$missing memcached"

if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-system-deps: missing:$missing (install them as root with apt-get;" \
        "the tests that need them are skipped)" >&2
    exit 0
fi

echo "ensure-system-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086  # word splitting of the package list is intended
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "ensure-system-deps: installed$missing"

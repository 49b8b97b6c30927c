#!/usr/bin/env bash
# The MariaDB wrapper's Swift tests (Tests/MariaDBTests) against a private MariaDB of their own:
# starts only the database of a test stack in .run/wrapper-PORT, runs `swift test --skip-build
# --filter MariaDBTests` with STOCKROOM_TEST_DB_SOCKET set, and stops it. Needs `swift build
# --build-tests` first (make test does that). Exit code: swift test's.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DEVSTACK="$REPO/scripts/devstack.sh"
cd "$REPO"
# shellcheck source=lib/test-stack.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib/test-stack.sh"

log() { printf 'wrapper-test: %s\n' "$*" >&2; }

STOCKROOM_PROCESSES=1 STOCKROOM_THREADS=1 STOCKROOM_WORKERS=0
test_stack_init wrapper

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    bash "$DEVSTACK" down >/dev/null 2>&1 || true
    [[ "${KEEP_STACK:-0}" == 1 ]] || rm -rf "$STACK_DIR"
    exit "$rc"
}
test_stack_traps cleanup

log "starting MariaDB in $STACK_DIR"
bash "$DEVSTACK" migrate >/dev/null || { log "MariaDB did not come up"; bash "$DEVSTACK" logs 40 || true; exit 1; }
STOCKROOM_TEST_DB_SOCKET="$STACK_DIR/mariadb/mysqld.sock" swift test --skip-build --filter MariaDBTests

#!/usr/bin/env bash
# Integration tests through nginx against a private stack on a free port, torn down afterwards.
#   KEEP_STACK=1   keep the stack dir (logs, data) after the run; it is stopped either way
#   extra arguments are passed to pytest (e.g. -k products -x)
# The stack runs STOCKROOM_PROCESSES (2) responders and STOCKROOM_WORKERS (2) stockroom-worker
# processes; STOCKROOM_PROCESS_DELAY and the other worker settings pass through when set.
# Exit code: pytest's (1 when the stack does not come up).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DEVSTACK="$REPO/scripts/devstack.sh"
cd "$REPO"
# shellcheck source=lib/test-stack.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib/test-stack.sh"

log() { printf 'integration-test: %s\n' "$*" >&2; }

command -v python3 >/dev/null || { log "python3 not found (make test installs it)"; exit 1; }
python3 -c 'import pytest, requests, openapi_core' 2>/dev/null ||
    { log "python3 lacks pytest, requests or openapi-core: run scripts/deps.sh --test"; exit 1; }

STOCKROOM_PROCESSES="${STOCKROOM_PROCESSES:-2}"
STOCKROOM_THREADS="${STOCKROOM_THREADS:-32}"
STOCKROOM_WORKERS="${STOCKROOM_WORKERS:-2}"
test_stack_init test

# Worker settings (STOCKROOM_PROCESS_DELAY, ...) are deliberately not pinned in the helpers: a test
# may run `STOCKROOM_PROCESS_DELAY=2 stack up` to restart the workers with other settings.
test_stack_write_helpers

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    test_stack_teardown || { (( rc )) || rc=1; }
    exit "$rc"
}
test_stack_traps cleanup

test_stack_up

rc=0
# The fixtures and helpers are the test kit's (Tests/kit/stockroom_kit); its plugin brings the fixtures.
test_stack_run python3 -m pytest -q -p no:cacheprovider -p stockroom_kit.plugin Tests/Integration "$@" || rc=$?

if (( rc != 0 )); then
    log "pytest failed (exit $rc); logs of the stack:"
    test_stack_print_logs
fi
exit "$rc"

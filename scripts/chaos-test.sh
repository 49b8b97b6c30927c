#!/usr/bin/env bash
# Fault suite (issue 4, "Faults under order load"): Tests/Faults against a private stack on a free
# port, torn down afterwards. Every case runs 16 client threads placing orders through nginx, then
# injects one fault (SIGKILL/SIGSTOP/SIGTERM of a responder, SIGKILL of MariaDB, dropped database
# connections) and checks recovery and the books.
#   KEEP_STACK=1      keep the stack dir (logs, data, chaos-summary.txt) after the run; it is stopped either way
#   CHAOS_TIMEOUT=S   hard bound on the pytest run in seconds (default 720)
#   extra arguments are passed to pytest (e.g. -k sigstop -x)
# The stack runs 2 responder processes (STOCKROOM_THREADS, default 32, threads each), 1 worker, and
# the test-only hooks: STOCKROOM_TEST_HOOKS=1 (the X-Stockroom-Test-Lock-Delay-Ms header) and
# STOCKROOM_LOCK_WAIT_TIMEOUT=1, so that a buyer blocked behind a stopped lock holder gets 503 busy
# after 4 attempts (about 4-5 s), well inside nginx's 30 s fastcgi_read_timeout.
# Exit code: pytest's (1 when the stack does not come up, 124 when CHAOS_TIMEOUT ran out).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DEVSTACK="$REPO/scripts/devstack.sh"
cd "$REPO"
# shellcheck source=lib/test-stack.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib/test-stack.sh"

log() { printf 'chaos-test: %s\n' "$*" >&2; }

command -v python3 >/dev/null || { log "python3 not found (make test installs it)"; exit 1; }
command -v mariadb >/dev/null || { log "the mariadb client is not installed (scripts/deps.sh)"; exit 1; }

STOCKROOM_PROCESSES=2
STOCKROOM_THREADS="${STOCKROOM_THREADS:-32}"
STOCKROOM_WORKERS=1
STOCKROOM_TEST_HOOKS=1
STOCKROOM_LOCK_WAIT_TIMEOUT=1
CHAOS_TIMEOUT="${CHAOS_TIMEOUT:-720}"
[[ "$CHAOS_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || { log "CHAOS_TIMEOUT must be a number of seconds (got '$CHAOS_TIMEOUT')"; exit 2; }
# The worker settings are the defaults: a worker left with a delay by someone's shell would slow nothing
# here, but keep the stack predictable.
unset STOCKROOM_PROCESS_DELAY STOCKROOM_WORKER_BATCH STOCKROOM_WORKER_POLL_INTERVAL
test_stack_init chaos
export STOCKROOM_TEST_HOOKS STOCKROOM_LOCK_WAIT_TIMEOUT

# The helpers keep the same test-only responder settings, so that a `stack up` that brings MariaDB
# back keeps them.
test_stack_write_helpers \
    "$(printf 'export STOCKROOM_TEST_HOOKS=%q STOCKROOM_LOCK_WAIT_TIMEOUT=%q' "$STOCKROOM_TEST_HOOKS" "$STOCKROOM_LOCK_WAIT_TIMEOUT")" \
    'unset STOCKROOM_PROCESS_DELAY STOCKROOM_WORKER_BATCH STOCKROOM_WORKER_POLL_INTERVAL'

# A case that failed half-way may have left a process stopped (SIGSTOP): wake every process of the
# stack before stopping it, or its SIGTERM would wait for the SIGKILL fallback.
# shellcheck disable=SC2317 # run by cleanup
continue_stopped() {
    local f pid
    for f in "$STACK_DIR"/*.pid; do
        [[ -r "$f" ]] || continue
        read -r pid <"$f" 2>/dev/null || continue
        if [[ "$pid" =~ ^[0-9]+$ ]]; then kill -CONT "$pid" 2>/dev/null || true; fi
    done
}

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    continue_stopped
    if [[ -s "$STACK_DIR/chaos-summary.txt" ]]; then
        log "summary of the fault cases ($STACK_DIR/chaos-summary.txt):"
        cat "$STACK_DIR/chaos-summary.txt" >&2
    fi
    test_stack_teardown || { (( rc )) || rc=1; }
    exit "$rc"
}
test_stack_traps cleanup

test_stack_up "starting a stack on 127.0.0.1:$PORT in $STACK_DIR (responders: 2, workers: 1, test hooks on, lock wait timeout 1 s)"

rc=0
# The test kit's plugins (Tests/kit/stockroom_kit): the shared fixtures, and the fault suite's
# fixtures and guards around every case.
STOCKROOM_LOCK_WAIT_TIMEOUT="$STOCKROOM_LOCK_WAIT_TIMEOUT" \
    test_stack_run timeout -k 15 "$CHAOS_TIMEOUT" python3 -m pytest -q -s -p no:cacheprovider \
        -p stockroom_kit.plugin -p stockroom_kit.chaos_plugin Tests/Faults "$@" || rc=$?

if (( rc == 124 || rc == 137 )); then
    log "pytest did not finish within CHAOS_TIMEOUT=$CHAOS_TIMEOUT s"
fi
if (( rc != 0 )); then
    log "pytest failed (exit $rc); logs of the stack:"
    test_stack_print_logs
fi
exit "$rc"

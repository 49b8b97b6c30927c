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

log() { printf 'integration-test: %s\n' "$*" >&2; }

command -v python3 >/dev/null || { log "python3 not found (make test installs it)"; exit 1; }

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
STACK_DIR="$REPO/.run/test-$PORT"
BIN_DIR="${BIN_DIR:-$REPO/.build/release}"
STOCKROOM_PROCESSES="${STOCKROOM_PROCESSES:-2}"
STOCKROOM_THREADS="${STOCKROOM_THREADS:-32}"
STOCKROOM_WORKERS="${STOCKROOM_WORKERS:-2}"
export PORT STACK_DIR BIN_DIR STOCKROOM_PROCESSES STOCKROOM_THREADS STOCKROOM_WORKERS

rm -rf "$STACK_DIR"
mkdir -p "$STACK_DIR"

# Helpers the tests call: `stack down|up|status...` for this stack, `ctl ARGS` = stockroomctl with its env.
# Worker settings (STOCKROOM_PROCESS_DELAY, ...) are deliberately not pinned here: a test may run
# `STOCKROOM_PROCESS_DELAY=2 stack up` to restart the workers with other settings.
write_helper() {
    local path="$1" command="$2"
    {
        printf '#!/usr/bin/env bash\n'
        printf 'export STACK_DIR=%q PORT=%q BIN_DIR=%q STOCKROOM_PROCESSES=%q STOCKROOM_THREADS=%q STOCKROOM_WORKERS=%q\n' \
            "$STACK_DIR" "$PORT" "$BIN_DIR" "$STOCKROOM_PROCESSES" "$STOCKROOM_THREADS" "$STOCKROOM_WORKERS"
        [[ -n "${LOG_LEVEL:-}" ]] && printf 'export LOG_LEVEL=%q\n' "$LOG_LEVEL"
        printf 'exec bash %q %s "$@"\n' "$DEVSTACK" "$command"
    } >"$path"
    chmod +x "$path"
}
write_helper "$STACK_DIR/ctl" ctl
write_helper "$STACK_DIR/stack" ""

print_logs() { bash "$DEVSTACK" logs 60 || true; }

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    log "tearing down the stack in $STACK_DIR"
    bash "$DEVSTACK" down || log "devstack down failed"
    if [[ "${KEEP_STACK:-0}" == 1 ]]; then
        log "KEEP_STACK=1: logs and data kept in $STACK_DIR"
    else
        rm -rf "$STACK_DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting a stack on 127.0.0.1:$PORT in $STACK_DIR"
if ! bash "$DEVSTACK" up; then
    log "the stack did not come up"
    print_logs
    exit 1
fi

rc=0
STOCKROOM_URL="http://127.0.0.1:$PORT" \
STOCKROOM_STACK_DIR="$STACK_DIR" \
STOCKROOM_CTL="$STACK_DIR/ctl" \
STOCKROOM_STACK="$STACK_DIR/stack" \
PYTHONDONTWRITEBYTECODE=1 \
    python3 -m pytest -q -p no:cacheprovider Tests/Integration "$@" || rc=$?

if (( rc != 0 )); then
    log "pytest failed (exit $rc); logs of the stack:"
    print_logs
fi
exit "$rc"

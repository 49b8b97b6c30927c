# shellcheck shell=bash
# The private test stack shared by scripts/integration-test.sh, scripts/chaos-test.sh and
# scripts/fuzz-test.sh: a stack on a free port of 127.0.0.1 in its own folder under .run/, brought
# up with scripts/devstack.sh and torn down afterwards. Sourced, not run.
#
# The sourcing script sets REPO (the repository), DEVSTACK (scripts/devstack.sh) and a log function
# (its own prefix), then, in this order:
#   STOCKROOM_PROCESSES=... STOCKROOM_THREADS=... STOCKROOM_WORKERS=...   its stack settings
#   test_stack_init NAME           port, STACK_DIR=.run/NAME-PORT (emptied), BIN_DIR; exports them
#   test_stack_write_helpers ...   optional: the `ctl` and `stack` executables in STACK_DIR
#   test_stack_traps cleanup       its cleanup function (calling test_stack_teardown) on EXIT
#   test_stack_up                  exits 1, with the stack's logs, when the stack does not come up
#   test_stack_run COMMAND...      runs the tests with STOCKROOM_URL, STOCKROOM_STACK_DIR, ... and the
#                                  test kit (Tests/kit) on PYTHONPATH

# shellcheck source=processes.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib/processes.sh"

# test_stack_init NAME
# Picks a free port (PORT) and the stack folder STACK_DIR="$REPO/.run/NAME-$PORT", defaults BIN_DIR to
# the release build, exports PORT STACK_DIR BIN_DIR and the STOCKROOM_PROCESSES, STOCKROOM_THREADS and
# STOCKROOM_WORKERS the caller set, and makes STACK_DIR empty.
test_stack_init() {
    local name="$1"
    : "${STOCKROOM_PROCESSES:?set before test_stack_init}" "${STOCKROOM_THREADS:?set before test_stack_init}" \
        "${STOCKROOM_WORKERS:?set before test_stack_init}"
    PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    STACK_DIR="$REPO/.run/$name-$PORT"
    BIN_DIR="${BIN_DIR:-$REPO/.build/release}"
    # Each worker serves its metrics on a free loopback port of its own choosing (its log names it).
    WORKER_METRICS_PORT=0
    # MariaDB stays down when killed: the fault tests take it away and bring it back with `stack up`.
    MARIADB_AUTORESTART=0
    export PORT STACK_DIR BIN_DIR STOCKROOM_PROCESSES STOCKROOM_THREADS STOCKROOM_WORKERS WORKER_METRICS_PORT MARIADB_AUTORESTART

    rm -rf "$STACK_DIR"
    mkdir -p "$STACK_DIR"
}

# test_stack_write_helpers [LINE...]
# Writes the helpers the tests call into STACK_DIR: `stack down|up|status...` for this stack and
# `ctl ARGS` = stockroomctl with its env. Each pins STACK_DIR, PORT, BIN_DIR, the three STOCKROOM_*
# settings and LOG_LEVEL (when set); each LINE (shell code, e.g. more exports) goes in after them.
# shellcheck disable=SC2120 # the arguments are optional
test_stack_write_helpers() {
    _test_stack_write_helper "$STACK_DIR/ctl" ctl "$@"
    _test_stack_write_helper "$STACK_DIR/stack" "" "$@"
}

# _test_stack_write_helper PATH DEVSTACK_COMMAND [LINE...]
_test_stack_write_helper() {
    local path="$1" command="$2"
    shift 2
    {
        printf '#!/usr/bin/env bash\n'
        printf 'export STACK_DIR=%q PORT=%q BIN_DIR=%q STOCKROOM_PROCESSES=%q STOCKROOM_THREADS=%q STOCKROOM_WORKERS=%q WORKER_METRICS_PORT=%q MARIADB_AUTORESTART=%q\n' \
            "$STACK_DIR" "$PORT" "$BIN_DIR" "$STOCKROOM_PROCESSES" "$STOCKROOM_THREADS" "$STOCKROOM_WORKERS" "$WORKER_METRICS_PORT" "$MARIADB_AUTORESTART"
        (( $# == 0 )) || printf '%s\n' "$@"
        [[ -n "${LOG_LEVEL:-}" ]] && printf 'export LOG_LEVEL=%q\n' "$LOG_LEVEL"
        printf 'exec bash %q %s "$@"\n' "$DEVSTACK" "$command"
    } >"$path"
    chmod +x "$path"
}

# test_stack_print_logs [LINES]
# The last LINES (60) lines of the stack's logs; never fails.
# shellcheck disable=SC2120 # the arguments are optional
test_stack_print_logs() { bash "$DEVSTACK" logs "${1:-60}" || true; }

# test_stack_traps CLEANUP
# CLEANUP runs on EXIT (it should start with `local rc=$?; trap - EXIT INT TERM` and end with
# `exit "$rc"`); SIGINT exits 130 and SIGTERM 143, through it.
test_stack_traps() {
    # shellcheck disable=SC2064 # the function name is meant to be expanded now
    trap "$1" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# test_stack_up [MESSAGE]
# Logs MESSAGE (default "starting a stack on 127.0.0.1:PORT in STACK_DIR") and brings the stack up;
# when it does not come up, logs so with the stack's logs and exits 1.
# shellcheck disable=SC2120 # the arguments are optional
test_stack_up() {
    log "${1:-starting a stack on 127.0.0.1:$PORT in $STACK_DIR}"
    if ! bash "$DEVSTACK" up; then
        log "the stack did not come up"
        test_stack_print_logs
        exit 1
    fi
}

# test_stack_run COMMAND...
# Runs COMMAND with the stack's environment for the tests: STOCKROOM_URL, STOCKROOM_STACK_DIR,
# STOCKROOM_CTL, STOCKROOM_STACK, PYTHONDONTWRITEBYTECODE=1 and the test kit (Tests/kit, the
# package stockroom_kit) first on PYTHONPATH. Returns its exit code.
test_stack_run() {
    PYTHONPATH="$REPO/Tests/kit${PYTHONPATH:+:$PYTHONPATH}" \
    STOCKROOM_URL="http://127.0.0.1:$PORT" \
    STOCKROOM_STACK_DIR="$STACK_DIR" \
    STOCKROOM_CTL="$STACK_DIR/ctl" \
    STOCKROOM_STACK="$STACK_DIR/stack" \
    PYTHONDONTWRITEBYTECODE=1 \
        "$@"
}

# test_stack_down
# Stops the stack (logging it); returns 1 when `down` failed or left a process of the stack running
# (one that a pid file of the stack names: supervisord, MariaDB, nginx, responders, workers).
test_stack_down() {
    local f pid left=""
    log "tearing down the stack in $STACK_DIR"
    bash "$DEVSTACK" down || { log "devstack down failed"; return 1; }
    for f in "$STACK_DIR"/*.pid; do
        pid="$(read_pid "$f")"
        if alive "$pid"; then left+=" ${f##*/}:$pid($(proc_comm "$pid"))"; fi
    done
    [[ -z "$left" ]] || { log "devstack down left processes running:$left"; return 1; }
}

# test_stack_teardown
# test_stack_down, then removes STACK_DIR unless KEEP_STACK=1 or the stack did not stop cleanly;
# returns 1 (and the caller's cleanup should fail the run) when it did not.
test_stack_teardown() {
    local rc=0
    test_stack_down || rc=1
    if [[ "${KEEP_STACK:-0}" == 1 || $rc != 0 ]]; then
        log "logs and data kept in $STACK_DIR"
    else
        rm -rf "$STACK_DIR"
    fi
    return "$rc"
}

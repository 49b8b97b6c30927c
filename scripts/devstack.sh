#!/usr/bin/env bash
# Private dev/test stack for Stockroom under a supervisord of its own (Debian's `supervisor`): MariaDB,
# the stockroom-fcgi responders, the stockroom-worker order processors, nginx and a logrotate loop,
# everything under $STACK_DIR (default <repo>/.run), nothing touching the system instances. This
# script renders the configurations (supervisord, nginx, logrotate), initialises and migrates the
# database and waits for health; supervisord starts, stops and restarts the processes.
# With STOCKROOM_DB_HOSTS=host:port[,...] (e.g. `$(scripts/cluster.sh hosts)`) it runs no MariaDB of
# its own and uses that database (created by whoever runs it); `down`, `status` and `admin` take
# the mode from the stack's env file. docs/operations.md#the-dev-stack says more.
#
#   scripts/devstack.sh up | down | status | run   start what is not running and restart what the
#                        settings changed for, until /health is 200 | stop all (data stays) |
#                        supervisorctl status + /health, exit 3 unless all is up | up, wait for ^C, down
#   scripts/devstack.sh build | migrate | logs [LINES] | check-config
#   scripts/devstack.sh admin NAME      password on stdin: stockroomctl create-admin NAME
#   scripts/devstack.sh ctl ARGS...     stockroomctl ARGS with this stack's environment
#   scripts/devstack.sh supervisorctl ARGS...   this stack's supervisorctl (e.g. restart worker-1)
#
# Environment (docs/configuration.md#the-dev-stack-and-the-scripts): STACK_DIR, PORT (8080),
# LISTEN_ADDRESS (127.0.0.1), STOCKROOM_DB_HOSTS, STOCKROOM_PROCESSES (2), STOCKROOM_THREADS (32),
# STOCKROOM_WORKERS (1), BIN_DIR (<repo>/.build/release), MARIADB_AUTORESTART (1), MARIADB_ARGS (more
# mariadbd options for the stack's own MariaDB, e.g. --thread-handling=pool-of-threads),
# WORKER_METRICS_PORT (9465: worker N on 127.0.0.1:(this + N - 1); 0 any free port; empty none),
# and the settings in COMMON_SETTINGS, RESPONDER_SETTINGS and WORKER_SETTINGS below, when set.
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")"
REPO="$(cd "$(dirname "$SELF")/.." && pwd -P)"

PORT="${PORT:-8080}"
LISTEN_ADDRESS="${LISTEN_ADDRESS:-127.0.0.1}"
STOCKROOM_PROCESSES="${STOCKROOM_PROCESSES:-2}"
STOCKROOM_THREADS="${STOCKROOM_THREADS:-32}"
STOCKROOM_WORKERS="${STOCKROOM_WORKERS:-1}"
WORKER_METRICS_PORT="${WORKER_METRICS_PORT-9465}"
MARIADB_AUTORESTART="${MARIADB_AUTORESTART:-1}"
BIN_DIR="${BIN_DIR:-$REPO/.build/release}"
STACK_DIR="${STACK_DIR:-$REPO/.run}"

DB_NAME=stockroom
DB_USER=stockroom
DB_PASSWORD=stockroom-dev
# Each log of the stack is cut at this size, two old ones kept (supervisord for the programs'
# output, logrotate for the files nginx writes itself).
LOG_MAX_MB=20

# Settings taken from `up`'s environment when set, for responders and workers alike, for the
# responders only (the store's pricing; test stacks' hooks), and for the workers only.
COMMON_SETTINGS=(LOG_LEVEL LOG_SUMMARY_INTERVAL STOCKROOM_DB_TIMEOUT STOCKROOM_DB_STATEMENT_CACHE
                 STOCKROOM_SHUTDOWN_TIMEOUT)
RESPONDER_SETTINGS=(STOCKROOM_TAX_RATE STOCKROOM_DELIVERY_FEE STOCKROOM_FREE_DELIVERY_FROM STOCKROOM_SESSION_TTL
                    STOCKROOM_IDLE_TIMEOUT STOCKROOM_SLOW_REQUEST_MS STOCKROOM_TEST_HOOKS STOCKROOM_LOCK_WAIT_TIMEOUT)
WORKER_SETTINGS=(STOCKROOM_PROCESS_DELAY STOCKROOM_WORKER_BATCH STOCKROOM_WORKER_POLL_INTERVAL)

log() { printf 'devstack: %s\n' "$*" >&2; }
die() { printf 'devstack: error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=lib/processes.sh source-path=SCRIPTDIR
. "$(dirname "$SELF")/lib/processes.sh"

# ---------------------------------------------------------------------------- settings, paths

set_paths() {
    # The programs check their settings themselves (--check-config); these are checked here because
    # the configurations rendered below carry them (no quote, comma or percent sign can break them).
    local check name value
    for check in 'PORT=^[1-9][0-9]{0,4}$' 'STOCKROOM_PROCESSES=^[1-9][0-9]{0,2}$' 'STOCKROOM_THREADS=^[1-9][0-9]{0,3}$' \
            'STOCKROOM_WORKERS=^[0-9]{1,2}$' 'MARIADB_AUTORESTART=^[01]$' 'WORKER_METRICS_PORT=^([0-9]{1,5})?$' \
            'LISTEN_ADDRESS=^[A-Za-z0-9.:-]+$' 'STOCKROOM_DB_HOSTS=^[][A-Za-z0-9.:,-]*$' 'MARIADB_ARGS=^[A-Za-z0-9 ._=/-]*$' \
            $(printf '%s=^[A-Za-z0-9._:/+-]*$ ' "${COMMON_SETTINGS[@]}" "${RESPONDER_SETTINGS[@]}" "${WORKER_SETTINGS[@]}"); do
        name="${check%%=*}" value="${!name:-}"
        [[ "$value" =~ ${check#*=} ]] || die "$name='$value' is not a value the dev stack takes (docs/configuration.md)"
    done
    STOCKROOM_WORKERS=$((10#$STOCKROOM_WORKERS))
    mkdir -p "$STACK_DIR/nginx"
    STACK_DIR="$(cd "$STACK_DIR" && pwd -P)"
    case "$BIN_DIR" in /*) ;; *) BIN_DIR="$REPO/$BIN_DIR" ;; esac
    for name in STACK_DIR BIN_DIR REPO; do
        [[ "${!name}" =~ ^[A-Za-z0-9._/+-]+$ ]] || die "$name must be a path of letters, digits and ._/+- (supervisord's config cannot quote '${!name}')"
    done
    DB_DIR="$STACK_DIR/mariadb"
    DATADIR="$DB_DIR/data"
    DB_SOCK="$DB_DIR/mysqld.sock"
    DB_PID="$STACK_DIR/mariadb.pid"
    ENV_FILE="$STACK_DIR/env"
    WORKER_ENV_FILE="$STACK_DIR/worker.env"
    RESPONDER_ENV_FILE="$STACK_DIR/responder.env"
    NGINX_PREFIX="$STACK_DIR/nginx"
    NGINX_CONF="$NGINX_PREFIX/nginx.conf"
    NGINX_PID="$STACK_DIR/nginx.pid"
    SUP_CONF="$STACK_DIR/supervisord.conf"
    SUP_SOCK="$STACK_DIR/supervisor.sock"
    SUP_PID="$STACK_DIR/supervisord.pid"
    LOGROTATE_CONF="$STACK_DIR/logrotate.conf"
    TEMPLATE="$REPO/nginx/dev.conf.template"
    # An IPv6 address goes in brackets in nginx's listen line and in the URL.
    LISTEN_HOST="$LISTEN_ADDRESS"
    [[ "$LISTEN_ADDRESS" == *:* ]] && LISTEN_HOST="[$LISTEN_ADDRESS]"
    URL="http://$LISTEN_HOST:$PORT"
    # sun_path holds 108 bytes including the NUL.
    local sock
    for sock in "$STACK_DIR/fcgi-$STOCKROOM_PROCESSES.sock" "$DB_SOCK" "$SUP_SOCK"; do
        (( ${#sock} <= 107 )) || die "STACK_DIR is too deep for unix socket paths ($sock is ${#sock} bytes, max 107)"
    done
}

# The external database: STOCKROOM_DB_HOSTS for the commands that start things (up, run, migrate;
# --env-only); for the others also the one the last `up` wrote into the env file. Empty: our own MariaDB.
db_hosts() {
    if [[ -n "${STOCKROOM_DB_HOSTS:-}" || "${1:-}" == --env-only ]]; then
        printf '%s' "${STOCKROOM_DB_HOSTS:-}"
    elif [[ -r "$ENV_FILE" ]]; then
        # shellcheck disable=SC1090
        (unset STOCKROOM_DB_HOSTS; . "$ENV_FILE"; printf '%s' "${STOCKROOM_DB_HOSTS:-}")
    fi
}

# The database settings every program and stockroomctl get, as NAME=value lines.
stack_settings() {
    local hosts
    hosts="$(db_hosts --env-only)"
    if [[ -n "$hosts" ]]; then printf 'STOCKROOM_DB_HOSTS=%s\n' "$hosts"; else printf 'STOCKROOM_DB_SOCKET=%s\n' "$DB_SOCK"; fi
    printf '%s\n' "STOCKROOM_DB_USER=$DB_USER" "STOCKROOM_DB_PASSWORD=$DB_PASSWORD" "STOCKROOM_DB_NAME=$DB_NAME" \
        "STOCKROOM_SQL_DIR=$REPO/sql" "STOCKROOM_THREADS=$STOCKROOM_THREADS"
}

# settings_lines VAR...: the VARs that are set, as NAME=value lines.
settings_lines() {
    local v
    for v in "$@"; do [[ -n "${!v:-}" ]] && printf '%s=%s\n' "$v" "${!v}"; done
    return 0
}

# write_exports FILE TITLE < NAME=value lines: FILE as `export NAME=value` lines (systemd's
# EnvironmentFile= syntax too, which the programs read through STOCKROOM_ENV_FILE).
write_exports() {
    local line
    {
        printf '# %s of the dev stack in %s (written by scripts/devstack.sh up)\n' "$2" "$STACK_DIR"
        while IFS= read -r line; do printf 'export %s=%q\n' "${line%%=*}" "${line#*=}"; done
    } >"$1.tmp"
    mv "$1.tmp" "$1"
}

write_env_files() {
    stack_settings | write_exports "$ENV_FILE" Environment
    settings_lines "${COMMON_SETTINGS[@]}" "${RESPONDER_SETTINGS[@]}" | write_exports "$RESPONDER_ENV_FILE" "Responder settings"
    settings_lines "${COMMON_SETTINGS[@]}" "${WORKER_SETTINGS[@]}" | write_exports "$WORKER_ENV_FILE" "Worker settings"
}

# ---------------------------------------------------------------------------- supervisord

# sv_environment < NAME=value lines: supervisord's environment= value (all values were checked
# for quotes and percent signs by set_paths or come from the paths it checked).
sv_environment() {
    local line out=""
    while IFS= read -r line; do out+="${out:+,}${line%%=*}=\"${line#*=}\""; done
    printf '%s' "$out"
}

# Seconds a worker may take to stop: it finishes its current batch first (up to
# STOCKROOM_WORKER_BATCH orders x STOCKROOM_PROCESS_DELAY), plus 20 s.
worker_stop_seconds() {
    awk -v d="${STOCKROOM_PROCESS_DELAY:-0}" -v b="${STOCKROOM_WORKER_BATCH:-10}" \
        'BEGIN { s = 20 + d * b; printf "%d\n", (s == int(s)) ? s : int(s) + 1 }'
}

# A program's section: NAME, COMMAND, LOG, then extra `key=value` lines. Every program is started by
# `up` in order (autostart off), restarted by supervisord when it dies, its output cut at LOG_MAX_MB.
sv_program() {
    local kv
    printf '\n[program:%s]\ncommand=%s\n' "$1" "$2"
    for kv in autostart=false autorestart=true startsecs=1 startretries=3; do
        [[ " ${*:4} " == *" ${kv%%=*}="* ]] || printf '%s\n' "$kv"
    done
    printf 'redirect_stderr=true\nstdout_logfile=%s\nstdout_logfile_maxbytes=%sMB\nstdout_logfile_backups=2\n' "$3" "$LOG_MAX_MB"
    (( $# <= 3 )) || printf '%s\n' "${@:4}"
}

# The command of a Stockroom program: a shell that writes its pid where the tests look, then
# becomes the program (the pid stays) with every signal at its default, so that what a program
# does with a signal is its own doing (supervisord, a Python program, would pass on its ignored SIGPIPE).
pid_then_exec() { printf "/bin/sh -c 'echo \$\$ >%s && exec env --default-signal %s'" "$1" "$2"; }

render_supervisord() {
    local i port common responder worker stop_secs mariadb_args=""
    (( EUID == 0 )) && mariadb_args=" --user=root"
    common="$(stack_settings; settings_lines "${COMMON_SETTINGS[@]}")"
    responder="$( (printf '%s\n' "$common"; settings_lines "${RESPONDER_SETTINGS[@]}"
                   printf 'STOCKROOM_ENV_FILE=%s\n' "$RESPONDER_ENV_FILE") | sv_environment)"
    worker="$( (printf '%s\n' "$common"; settings_lines "${WORKER_SETTINGS[@]}"
                printf 'STOCKROOM_ENV_FILE=%s\n' "$WORKER_ENV_FILE") | sv_environment)"
    {
        printf '; supervisord configuration of the dev stack in %s (written by scripts/devstack.sh up)\n' "$STACK_DIR"
        printf '[unix_http_server]\nfile=%s\nchmod=0700\n\n' "$SUP_SOCK"
        printf '[supervisorctl]\nserverurl=unix://%s\n\n' "$SUP_SOCK"
        printf '[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n'
        printf '[supervisord]\nlogfile=%s/supervisord.log\nlogfile_maxbytes=%sMB\nlogfile_backups=2\npidfile=%s\ndirectory=%s\nchildlogdir=%s\n' \
            "$STACK_DIR" "$LOG_MAX_MB" "$SUP_PID" "$REPO" "$STACK_DIR"
        if [[ -z "$(db_hosts --env-only)" ]]; then
            # No --log-error: its log goes to stderr, which supervisord caps. Not restarted with
            # MARIADB_AUTORESTART=0: the fault tests kill it to take the database away.
            sv_program mariadb "mariadbd --no-defaults --datadir=$DATADIR --socket=$DB_SOCK --skip-networking --pid-file=$DB_PID$mariadb_args --innodb-buffer-pool-size=256M --max-connections=300 --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci --innodb-flush-log-at-trx-commit=1${MARIADB_ARGS:+ $MARIADB_ARGS}" \
                "$STACK_DIR/mariadb.log" "autorestart=$( ((MARIADB_AUTORESTART)) && echo true || echo false)" \
                stopwaitsecs=60 priority=10
        fi
        # One process per responder socket; their number is the group's numprocs.
        sv_program responder "$(pid_then_exec "$STACK_DIR/fcgi-%(process_num)d.pid" "$BIN_DIR/stockroom-fcgi")" \
            "$STACK_DIR/fcgi-%(process_num)d.log" "numprocs=$STOCKROOM_PROCESSES" numprocs_start=1 \
            "process_name=responder-%(process_num)d" stopwaitsecs=20 priority=20 \
            "environment=$responder,STOCKROOM_SOCKET=\"$STACK_DIR/fcgi-%(process_num)d.sock\""
        # One section a worker rather than numprocs: each has a metrics port of its own.
        stop_secs="$(worker_stop_seconds)"
        for ((i = 1; i <= STOCKROOM_WORKERS; i++)); do
            port=$((10#${WORKER_METRICS_PORT:-0}))
            (( port == 0 )) || port=$((port + i - 1))
            [[ -z "$WORKER_METRICS_PORT" ]] && port="" || port=",STOCKROOM_WORKER_METRICS_ADDRESS=\"127.0.0.1:$port\""
            sv_program "worker-$i" "$(pid_then_exec "$STACK_DIR/worker-$i.pid" "$BIN_DIR/stockroom-worker")" \
                "$STACK_DIR/worker-$i.log" "stopwaitsecs=$stop_secs" priority=30 "environment=$worker$port"
        done
        if (( STOCKROOM_WORKERS > 0 )); then
            printf '\n[group:workers]\nprograms=%s\n' "$(seq -f 'worker-%g' -s , 1 "$STOCKROOM_WORKERS")"
        fi
        sv_program nginx "nginx -p $NGINX_PREFIX -c $NGINX_CONF -e $NGINX_PREFIX/error.log -g 'daemon off;'" \
            "$NGINX_PREFIX/nginx.out.log" stopsignal=QUIT stopwaitsecs=20 priority=40
        sv_program logrotate "/bin/sh -c 'while :; do logrotate -s $STACK_DIR/logrotate.state $LOGROTATE_CONF; sleep 60; done'" \
            "$STACK_DIR/logrotate.log" stopasgroup=true killasgroup=true priority=50
    } >"$SUP_CONF.tmp"
    mv "$SUP_CONF.tmp" "$SUP_CONF"
}

# The logs nginx writes itself, rotated by the logrotate program (every minute, past LOG_MAX_MB).
render_logrotate() {
    cat >"$LOGROTATE_CONF" <<EOF
# logrotate configuration of the dev stack in $STACK_DIR (written by scripts/devstack.sh up)
$NGINX_PREFIX/access.log $NGINX_PREFIX/error.log {
    size ${LOG_MAX_MB}M
    rotate 2
    missingok
    notifempty
    compress
    delaycompress
    sharedscripts
    postrotate
        kill -USR1 "\$(cat $NGINX_PID)" 2>/dev/null || true
    endscript
}
EOF
}

sv() { supervisorctl -c "$SUP_CONF" "$@"; }
supervisord_pid() { running_pid "$SUP_PID" "" "supervisord -c $SUP_CONF"; }

# Processes of this stack whose supervisord is gone (killed): stopped before a new one starts them.
stop_orphans() {
    local f pid
    for f in "$NGINX_PID" "$STACK_DIR"/fcgi-*.pid "$STACK_DIR"/worker-*.pid "$DB_PID"; do
        pid="$(running_pid "$f" "" "")" || continue
        case "$(proc_comm "$pid")" in
            nginx) stop_pid "nginx left running" "$pid" QUIT 20 ;;
            stockroom-fcgi | stockroom-worke | mariadbd) stop_pid "$(proc_comm "$pid") left running" "$pid" TERM 60 ;;
        esac
    done
}

# The stack's env files and configurations, then supervisord with them.
configure() { write_env_files; render_supervisord; render_logrotate; start_supervisord; }

# Starts supervisord when it is not running (with a clean environment: the programs get only what
# the configuration says), else applies the new configuration: `update` restarts the programs
# whose sections changed and stops the ones that are gone.
start_supervisord() {
    command -v supervisord >/dev/null || die "supervisord not found; run: scripts/deps.sh"
    if supervisord_pid >/dev/null; then
        sv update >/dev/null || die "supervisorctl update failed (log: $STACK_DIR/supervisord.log)"
        return 0
    fi
    stop_orphans
    log "starting supervisord ($SUP_CONF)"
    (cd "$STACK_DIR" && env -i PATH="$PATH" HOME="${HOME:-/}" LANG=C.UTF-8 supervisord -c "$SUP_CONF") \
        || die "supervisord failed to start (log: $STACK_DIR/supervisord.log)"
    local deadline=$((SECONDS + 20))
    until sv pid >/dev/null 2>&1; do
        (( SECONDS < deadline )) || die "supervisord does not answer on $SUP_SOCK (log: $STACK_DIR/supervisord.log)"
        sleep 0.1
    done
}

# sv_start NAME...: starts those not running; supervisord waits for each to stay up startsecs.
sv_start() { local out; out="$(sv start "$@" 2>&1)" || { printf '%s\n' "$out" >&2; die "could not start $* (devstack.sh logs)"; }; }

# ---------------------------------------------------------------------------- MariaDB

db_root() { mariadb --no-defaults -S "$DB_SOCK" -uroot "$@"; }

init_datadir() {
    [[ -d "$DATADIR/mysql" ]] && return 0
    command -v mariadb-install-db >/dev/null || die "mariadb-install-db not found; run: scripts/deps.sh"
    log "initialising a private MariaDB data dir in $DATADIR"
    mkdir -p "$DB_DIR"
    rm -rf "$DATADIR" "$DATADIR.new"
    local -a as_root=()
    (( EUID == 0 )) && as_root=(--user=root)
    mariadb-install-db --no-defaults --datadir="$DATADIR.new" "${as_root[@]}" --auth-root-authentication-method=normal \
        --skip-test-db >>"$STACK_DIR/mariadb.log" 2>&1 || die "mariadb-install-db failed (log: $STACK_DIR/mariadb.log)"
    mv "$DATADIR.new" "$DATADIR"
}

wait_mariadb() {
    local deadline=$((SECONDS + 60))
    until db_root -N -B -e 'select 1' >/dev/null 2>&1; do
        if (( SECONDS >= deadline )) || ! sv status mariadb >/dev/null; then
            tail -n 30 "$STACK_DIR/mariadb.log" >&2 || true
            die "MariaDB does not answer on $DB_SOCK (log: $STACK_DIR/mariadb.log)"
        fi
        sleep 0.2
    done
}

prepare_db() {
    if [[ -n "$(db_hosts --env-only)" ]]; then
        log "external database: $(db_hosts --env-only) (no MariaDB of this stack started)"
    else
        init_datadir
        sv_start mariadb
        wait_mariadb
        db_root <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'localhost';
SQL
    fi
    log "stockroomctl migrate"
    run_ctl migrate || die "stockroomctl migrate failed"
}

run_ctl() {
    [[ -r "$ENV_FILE" ]] || die "$ENV_FILE missing: start the stack first (make up)"
    need_binary stockroomctl
    # shellcheck disable=SC1090
    (. "$ENV_FILE"; cd "$REPO"; exec "$BIN_DIR/stockroomctl" "$@")
}

need_binary() {
    [[ -x "$BIN_DIR/$1" ]] || die "$BIN_DIR/$1 not found; build first (make build, or scripts/devstack.sh build)${2:+$2}"
}

# The responder's (as instance 1) and the worker's --check-config, each with the settings its
# supervisord section gives it (the socket is not touched: a running responder's shows as a note).
cmd_check_config() {
    [[ -r "$ENV_FILE" ]] || die "$ENV_FILE missing: start the stack first (make up)"
    need_binary stockroom-fcgi
    need_binary stockroom-worker
    local fcgi=0 worker=0 rc
    # shellcheck disable=SC1090
    (. "$ENV_FILE"; STOCKROOM_ENV_FILE="$RESPONDER_ENV_FILE" STOCKROOM_SOCKET="$STACK_DIR/fcgi-1.sock" \
        exec "$BIN_DIR/stockroom-fcgi" --check-config) || fcgi=$?
    # shellcheck disable=SC1090
    (. "$ENV_FILE"; STOCKROOM_ENV_FILE="$WORKER_ENV_FILE" exec "$BIN_DIR/stockroom-worker" --check-config) || worker=$?
    for rc in 1 2; do (( fcgi == rc || worker == rc )) && return "$rc"; done
    return $(( fcgi > worker ? fcgi : worker ))
}

# ---------------------------------------------------------------------------- nginx

sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

render_nginx() {
    local out="$1" user i up_line="" up_inline="" s
    if (( EUID == 0 )); then user="root root"; else user="$(id -un) $(id -gn)"; fi
    for ((i = 1; i <= STOCKROOM_PROCESSES; i++)); do
        s="$(sed_escape "server unix:$STACK_DIR/fcgi-$i.sock max_fails=1 fail_timeout=2s;")"
        up_line="${up_line:+$up_line\\n}\\1$s"
        up_inline="${up_inline:+$up_inline }$s"
    done
    sed -e "s|^\\([[:space:]]*\\)@UPSTREAM_SERVERS@[[:space:]]*\$|$up_line|" -e "s|@UPSTREAM_SERVERS@|$up_inline|g" \
        -e "s|@PORT@|$PORT|g" -e "s|@LISTEN_ADDRESS@|$(sed_escape "$LISTEN_HOST")|g" -e "s|@STACK_DIR@|$STACK_DIR|g" \
        -e "s|@REPO@|$REPO|g" -e "s|@NGINX_USER@|$user|g" "$TEMPLATE" >"$out"
    if grep -qE '@[A-Z_]+@' "$out"; then die "unknown placeholder left in $out: $(grep -oE '@[A-Z_]+@' "$out" | sort -u | tr '\n' ' ')"; fi
    mkdir -p "$NGINX_PREFIX/logs"
    local err
    err="$(nginx -p "$NGINX_PREFIX" -c "$out" -e "$NGINX_PREFIX/error.log" -t 2>&1)" || { printf '%s\n' "$err" >&2; die "nginx -t failed for $out"; }
}

# Renders nginx's configuration; a running nginx whose configuration changed (the number of
# responders) reloads it, else supervisord starts it.
start_nginx() {
    command -v nginx >/dev/null || die "nginx not found; run: scripts/deps.sh"
    render_nginx "$NGINX_CONF.new"
    local pid changed=0
    cmp -s "$NGINX_CONF.new" "$NGINX_CONF" || changed=1
    mv "$NGINX_CONF.new" "$NGINX_CONF"
    if (( changed )) && pid="$(running_pid "$NGINX_PID" nginx "-c $NGINX_CONF ")"; then
        log "nginx configuration changed (responders: $STOCKROOM_PROCESSES); reloading nginx (pid $pid)"
        kill -HUP "$pid"
    fi
    sv_start nginx
}

# ---------------------------------------------------------------------------- commands

# Until GET /health answers 200; a program that supervisord gave up on (or keeps restarting) ends it early.
wait_health() {
    local deadline=$((SECONDS + 60)) code="" failed=""
    until [[ "$code" == 200 ]]; do
        (( SECONDS % 3 )) || failed="$(sv status | grep -E ' (BACKOFF|FATAL|EXITED) ' || true)"
        if [[ -n "$failed" ]] || (( SECONDS >= deadline )); then
            log "GET $URL/health is not 200 (last: ${code:-none})${failed:+; not running: $failed}"; cmd_logs 40; exit 1; fi
        sleep 0.2
        code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$URL/health" 2>/dev/null || true)"
    done
}

cmd_up() {
    need_binary stockroomctl
    need_binary stockroom-fcgi
    (( STOCKROOM_WORKERS == 0 )) || need_binary stockroom-worker "; or start the stack without workers: STOCKROOM_WORKERS=0"
    configure
    prepare_db
    sv_start 'responder:*'
    local i
    for ((i = 1; i <= STOCKROOM_PROCESSES; i++)); do
        # Running for startsecs means listening; nginx must never see a missing socket.
        [[ -S "$STACK_DIR/fcgi-$i.sock" ]] || die "responder $i runs but $STACK_DIR/fcgi-$i.sock is missing (log: $STACK_DIR/fcgi-$i.log)"
    done
    start_nginx
    (( STOCKROOM_WORKERS == 0 )) || sv_start 'workers:*'
    sv_start logrotate
    wait_health
    log "stack up: $URL (stack dir $STACK_DIR; responders: $STOCKROOM_PROCESSES, workers: $STOCKROOM_WORKERS)"
    printf '%s\n' "$URL"
}

cmd_down() {
    local pid
    if pid="$(supervisord_pid)"; then
        log "stopping the stack's programs and supervisord (pid $pid)"
        sv shutdown >/dev/null || kill -TERM "$pid" 2>/dev/null || true
        # supervisord stops the programs (workers finish their batch) before it exits.
        wait_gone "$pid" 300 || stop_pid supervisord "$pid" KILL 5
    fi
    stop_orphans
    rm -f "$STACK_DIR"/fcgi-*.sock
    log "stack down ($STACK_DIR; data kept)"
}

cmd_status() {
    local ok=1 code out
    printf 'stack %s, %s\n' "$STACK_DIR" "$URL"
    if [[ -n "$(db_hosts)" ]]; then printf '  external database: %s (make check-config says whether it answers)\n' "$(db_hosts)"; fi
    out="$(supervisord_pid >/dev/null && sv status 2>&1)" || { ok=0; out="${out:-supervisord not running}"; }
    printf '%s\n' "$out" | sed 's/^/  /'
    code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$URL/health" 2>/dev/null || true)"
    [[ "$code" =~ ^[1-9] ]] || code="no answer"
    printf '  GET /health: %s\n' "$code"
    [[ "$code" == 200 ]] || ok=0
    (( ok )) || exit 3
}

cmd_run() {
    local stop=0
    trap 'stop=1' INT TERM
    # up in its own process: errexit stays in force there, and a Ctrl-C during up interrupts it.
    bash "$SELF" up || { trap '' INT TERM; log "up failed; stopping what was started"; cmd_down; exit 1; }
    (( stop )) || log "serving $URL (workers: $STOCKROOM_WORKERS; logs: $STACK_DIR/*.log); press Ctrl-C to stop"
    while (( ! stop )); do sleep 1 & wait $! 2>/dev/null || true; done
    trap '' INT TERM
    printf '\n' >&2
    cmd_down
}

cmd_admin() {
    local name="${1:-}"
    [[ -n "$name" ]] || die "usage: devstack.sh admin NAME   (password on stdin)"
    if [[ -t 0 ]]; then
        local pw pw2
        read -rs -p "Password for admin '$name': " pw; printf '\n' >&2
        read -rs -p "Repeat password: " pw2; printf '\n' >&2
        [[ "$pw" == "$pw2" ]] || die "passwords differ"
        printf '%s\n' "$pw" | run_ctl create-admin "$name"
    else
        run_ctl create-admin "$name"
    fi
}

cmd_logs() {
    local n="${1:-40}" f
    # Nested stacks are pruned: test stacks, and scripts/cluster.sh's cluster and app stack (make cluster).
    while IFS= read -r f; do
        printf '\n===== %s (last %s lines) =====\n' "$f" "$n" >&2
        tail -n "$n" "$f" >&2 || true
    done < <(find "$STACK_DIR" -maxdepth 2 \( -path "$STACK_DIR/test-*" -o -path "$STACK_DIR/cluster" \
                  -o -path "$STACK_DIR/cluster-*" \) -prune -o -name '*.log' -type f -print 2>/dev/null | sort)
}

main() {
    local verb="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$verb" in
        build) command -v swift >/dev/null || die "no 'swift' on PATH; install the Swift toolchain (https://www.swift.org/install/linux/)"
               log "swift build -c release"; (cd "$REPO" && swift build -c release) ;;
        up) set_paths; cmd_up ;;
        down) set_paths; cmd_down ;;
        status) set_paths; cmd_status ;;
        run) set_paths; cmd_run ;;
        migrate) set_paths; configure; prepare_db ;;
        admin) set_paths; cmd_admin "$@" ;;
        ctl) set_paths; run_ctl "$@" ;;
        supervisorctl) set_paths; sv "$@" ;;
        check-config) set_paths; cmd_check_config ;;
        logs) set_paths; cmd_logs "${1:-40}" ;;
        deps) exec bash "$REPO/scripts/deps.sh" "$@" ;;
        *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF" >&2; exit 2 ;;
    esac
}

main "$@"

#!/usr/bin/env bash
# Private dev/test stack for Stockroom: MariaDB + supervised stockroom-fcgi responders + nginx,
# plus supervised stockroom-worker order processors, everything under $STACK_DIR (default <repo>/.run),
# nothing touching the system instances.
# External-database mode: with STOCKROOM_DB_HOSTS=host:port[,host:port...] set (e.g. the Galera
# cluster of scripts/cluster.sh: `STOCKROOM_DB_HOSTS=$(scripts/cluster.sh hosts)`), the stack starts,
# bootstraps and stops no MariaDB of its own: it uses that database (`stockroom`, user `stockroom`,
# password stockroom-dev, created by whoever runs it), still migrates it on `up` and `migrate`, and
# starts responders, workers and nginx as usual. `down`, `status` and `admin` take the mode from the
# stack's env file, so they need no STOCKROOM_DB_HOSTS.
#
#   scripts/devstack.sh deps [--test]   install the Debian packages (as root), or print the apt-get line
#                                       (--test: also promtool's package and python3's pytest and requests)
#   scripts/devstack.sh build           swift build -c release
#   scripts/devstack.sh up              start what is not running, return once GET /health answers 200
#   scripts/devstack.sh down            stop everything up started (data stays)
#   scripts/devstack.sh status          what runs, and /health
#   scripts/devstack.sh run             up, stay in the foreground until Ctrl-C/SIGTERM, then down
#   scripts/devstack.sh migrate         start MariaDB if needed, apply migrations
#   scripts/devstack.sh admin NAME      password on stdin: stockroomctl create-admin NAME
#   scripts/devstack.sh ctl ARGS...     stockroomctl ARGS with this stack's environment
#   scripts/devstack.sh check-config    stockroom-fcgi and stockroom-worker --check-config with this
#                                       stack's environment (exit 1 if either would not start, else 2
#                                       if either cannot reach the database, else 0)
#   scripts/devstack.sh logs [LINES]    tail of every log of the stack
#
# Environment: STACK_DIR, PORT (8080), LISTEN_ADDRESS (127.0.0.1, nginx's listen address),
#              STOCKROOM_DB_HOSTS (unset: a MariaDB of the stack's own), STOCKROOM_PROCESSES (2), STOCKROOM_THREADS (32),
#              STOCKROOM_WORKERS (1; 0 runs none), BIN_DIR (<repo>/.build/release), LOG_LEVEL;
#              for the workers, when set: STOCKROOM_PROCESS_DELAY, STOCKROOM_WORKER_BATCH,
#              STOCKROOM_WORKER_POLL_INTERVAL (`up` restarts running workers when these change);
#              WORKER_METRICS_PORT (9465): worker N serves its metrics on 127.0.0.1:(this + N - 1),
#              0 lets each take a free port (its log says which), empty serves none;
#              for the responders, when set (`up` restarts running responders when these change):
#              the store's pricing, STOCKROOM_TAX_RATE, STOCKROOM_DELIVERY_FEE,
#              STOCKROOM_FREE_DELIVERY_FROM; and for test stacks only STOCKROOM_TEST_HOOKS (1 enables the
#              test-only fault hooks, e.g. the X-Stockroom-Test-Lock-Delay-Ms header),
#              STOCKROOM_LOCK_WAIT_TIMEOUT (seconds).
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")"
REPO="$(cd "$(dirname "$SELF")/.." && pwd -P)"

PORT="${PORT:-8080}"
LISTEN_ADDRESS="${LISTEN_ADDRESS:-127.0.0.1}"
STOCKROOM_PROCESSES="${STOCKROOM_PROCESSES:-2}"
STOCKROOM_THREADS="${STOCKROOM_THREADS:-32}"
STOCKROOM_WORKERS="${STOCKROOM_WORKERS:-1}"
WORKER_METRICS_PORT="${WORKER_METRICS_PORT-9465}"
BIN_DIR="${BIN_DIR:-$REPO/.build/release}"
STACK_DIR="${STACK_DIR:-$REPO/.run}"

# galera-4, mariadb-backup (its SST method) and iproute2 (network namespaces): scripts/cluster.sh.
DEB_PACKAGES=(mariadb-server mariadb-client libmariadb-dev libfcgi-bin nginx libargon2-dev pkg-config curl
              galera-4 mariadb-backup iproute2)
# For the tests only (deps --test): promtool, which checks every metrics target's exposition
# (Debian ships it in the prometheus package; the service is not started here, and need not run).
TEST_DEB_PACKAGES=(prometheus)
# Any of these satisfies "nginx" (Debian 12 ships nginx plus the -light/-core/-full/-extras flavours).
NGINX_FLAVOURS=(nginx nginx-core nginx-light nginx-full nginx-extras)

DB_NAME=stockroom
DB_USER=stockroom
DB_PASSWORD=stockroom-dev

log() { printf 'devstack: %s\n' "$*" >&2; }
die() { printf 'devstack: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------- paths

set_paths() {
    if ! [[ "$PORT" =~ ^[0-9]+$ ]] || (( PORT < 1 || PORT > 65535 )); then
        die "PORT must be a TCP port number (got '$PORT')"
    fi
    [[ "$STOCKROOM_PROCESSES" =~ ^[1-9][0-9]*$ ]] || die "STOCKROOM_PROCESSES must be a positive integer (got '$STOCKROOM_PROCESSES')"
    [[ "$STOCKROOM_THREADS" =~ ^[1-9][0-9]*$ ]] || die "STOCKROOM_THREADS must be a positive integer (got '$STOCKROOM_THREADS')"
    [[ "$STOCKROOM_WORKERS" =~ ^[0-9]+$ ]] || die "STOCKROOM_WORKERS must be a number, 0 or more (got '$STOCKROOM_WORKERS')"
    STOCKROOM_WORKERS=$((10#$STOCKROOM_WORKERS))
    local v
    for v in STOCKROOM_PROCESS_DELAY STOCKROOM_WORKER_POLL_INTERVAL; do
        [[ -z "${!v:-}" || "${!v}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$v must be a number of seconds, e.g. 0.5 (got '${!v}')"
    done
    [[ -z "$WORKER_METRICS_PORT" || ( "$WORKER_METRICS_PORT" =~ ^[0-9]{1,5}$ && 10#$WORKER_METRICS_PORT -le 65000 ) ]] \
        || die "WORKER_METRICS_PORT must be a TCP port number, 0 or empty (got '$WORKER_METRICS_PORT')"
    [[ -z "${STOCKROOM_WORKER_BATCH:-}" || "$STOCKROOM_WORKER_BATCH" =~ ^[1-9][0-9]*$ ]] \
        || die "STOCKROOM_WORKER_BATCH must be a positive integer (got '$STOCKROOM_WORKER_BATCH')"
    [[ -z "${STOCKROOM_TEST_HOOKS:-}" || "$STOCKROOM_TEST_HOOKS" =~ ^[01]$ ]] \
        || die "STOCKROOM_TEST_HOOKS must be 0 or 1 (got '$STOCKROOM_TEST_HOOKS')"
    [[ -z "${STOCKROOM_LOCK_WAIT_TIMEOUT:-}" || "$STOCKROOM_LOCK_WAIT_TIMEOUT" =~ ^[1-9][0-9]*$ ]] \
        || die "STOCKROOM_LOCK_WAIT_TIMEOUT must be a positive whole number of seconds (got '$STOCKROOM_LOCK_WAIT_TIMEOUT')"
    [[ "$LISTEN_ADDRESS" =~ ^[A-Za-z0-9.:-]+$ ]] || die "LISTEN_ADDRESS must be an IP address or host name (got '$LISTEN_ADDRESS')"
    if [[ -n "${STOCKROOM_DB_HOSTS:-}" ]]; then check_db_hosts "$STOCKROOM_DB_HOSTS"; fi
    mkdir -p "$STACK_DIR"
    STACK_DIR="$(cd "$STACK_DIR" && pwd -P)"
    case "$BIN_DIR" in /*) ;; *) BIN_DIR="$REPO/$BIN_DIR" ;; esac
    DB_DIR="$STACK_DIR/mariadb"
    DATADIR="$DB_DIR/data"
    DB_SOCK="$DB_DIR/mysqld.sock"
    DB_PID="$STACK_DIR/mariadb.pid"
    DB_LOG="$STACK_DIR/mariadb.log"
    ENV_FILE="$STACK_DIR/env"
    WORKER_ENV_FILE="$STACK_DIR/worker.env"
    RESPONDER_ENV_FILE="$STACK_DIR/responder.env"
    NGINX_PREFIX="$STACK_DIR/nginx"
    NGINX_CONF="$NGINX_PREFIX/nginx.conf"
    NGINX_ERROR_LOG="$NGINX_PREFIX/error.log"
    NGINX_PID="$STACK_DIR/nginx.pid"
    TEMPLATE="$REPO/nginx/dev.conf.template"
    # An IPv6 address goes in brackets in nginx's listen line and in the URL.
    LISTEN_HOST="$LISTEN_ADDRESS"
    [[ "$LISTEN_ADDRESS" == *:* ]] && LISTEN_HOST="[$LISTEN_ADDRESS]"
    URL="http://$LISTEN_HOST:$PORT"
    # sun_path holds 108 bytes including the NUL.
    local longest="$STACK_DIR/fcgi-$STOCKROOM_PROCESSES.sock"
    (( ${#DB_SOCK} > ${#longest} )) && longest="$DB_SOCK"
    (( ${#longest} <= 107 )) || die "STACK_DIR is too deep for unix socket paths ($longest is ${#longest} bytes, max 107); use a shorter STACK_DIR"
}

# ---------------------------------------------------------------------------- processes

# shellcheck source=lib/processes.sh source-path=SCRIPTDIR
. "$(dirname "$SELF")/lib/processes.sh"

mariadb_pid() {
    local pid
    pid="$(running_pid "$DB_PID" "" "--datadir=$DATADIR ")" || return 1
    [[ "$(proc_comm "$pid")" == mariadbd || "$(proc_comm "$pid")" == mysqld ]] || return 1
    printf '%s' "$pid"
}
supervisor_pid() { running_pid "$STACK_DIR/supervisor-$1.pid" "" "_supervise $1 $STACK_DIR "; }
fcgi_pid() { running_pid "$STACK_DIR/fcgi-$1.pid" stockroom-fcgi ""; }
# The kernel keeps 15 characters of a process name: stockroom-worker shows as "stockroom-worke" in
# /proc/PID/comm (and to ps, pgrep, top), so the full name is checked in the command line instead.
WORKER_COMM=stockroom-worke
worker_supervisor_pid() { running_pid "$STACK_DIR/worker-supervisor-$1.pid" "" "_supervise_worker $1 $STACK_DIR "; }
worker_pid() { running_pid "$STACK_DIR/worker-$1.pid" "$WORKER_COMM" "/stockroom-worker"; }
nginx_pid() { running_pid "$NGINX_PID" nginx "-c $NGINX_CONF "; }

# Processes of this stack that no pid file names any more (a lost pid file, an interrupted up):
# recognised by their command line (datadir, supervisor arguments, nginx config) or, for
# stockroom-fcgi, by the socket path in their environment, for stockroom-worker by the
# MariaDB socket or (with an external database) the worker settings file in theirs.
stray_pids() {
    local d pid cmd line
    local -a parts
    for d in /proc/[0-9]*; do
        pid="${d#/proc/}"
        [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
        parts=()
        { mapfile -d '' -t parts <"$d/cmdline"; } 2>/dev/null || continue
        (( ${#parts[@]} )) || continue
        cmd="${parts[*]} "
        case "$cmd" in
            *"--datadir=$DATADIR "* | *"_supervise "[0-9]*" $STACK_DIR "* | *"_supervise_worker "[0-9]*" $STACK_DIR "* | *"-c $NGINX_CONF "*)
                alive "$pid" && printf '%s\n' "$pid" ;;
            *)
                case "$(proc_comm "$pid")" in
                    stockroom-fcgi)
                        { mapfile -d '' -t parts <"$d/environ"; } 2>/dev/null || continue
                        for line in "${parts[@]}"; do
                            if [[ "$line" == "STOCKROOM_SOCKET=$STACK_DIR/fcgi-"*.sock && "${line#"STOCKROOM_SOCKET=$STACK_DIR/"}" != */* ]]; then
                                alive "$pid" && printf '%s\n' "$pid"
                                break
                            fi
                        done ;;
                    "$WORKER_COMM")
                        [[ "$cmd" == *"/stockroom-worker "* ]] || continue
                        { mapfile -d '' -t parts <"$d/environ"; } 2>/dev/null || continue
                        for line in "${parts[@]}"; do
                            if [[ "$line" == "STOCKROOM_DB_SOCKET=$DB_SOCK" || "$line" == "STOCKROOM_ENV_FILE=$WORKER_ENV_FILE" ]]; then
                                alive "$pid" && printf '%s\n' "$pid"
                                break
                            fi
                        done ;;
                esac ;;
        esac
    done
}

stop_strays() {
    local -a strays
    local pid deadline=$((SECONDS + 60))
    mapfile -t strays < <(stray_pids)
    (( ${#strays[@]} )) || return 0
    log "stopping leftover processes of this stack: ${strays[*]}"
    for pid in "${strays[@]}"; do
        if [[ "$(proc_comm "$pid")" == nginx ]]; then kill -QUIT "$pid" 2>/dev/null || true
        else kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for pid in "${strays[@]}"; do
        while alive "$pid" && (( SECONDS < deadline )); do sleep 0.1; done
        if alive "$pid"; then
            log "pid $pid still running, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

# Indices of responders that have pid files in the stack dir.
known_indices() { indices_of "$STACK_DIR"/supervisor-*.pid "$STACK_DIR"/fcgi-*.pid; }
# Indices of workers that have pid files in the stack dir.
known_worker_indices() { indices_of "$STACK_DIR"/worker-supervisor-*.pid "$STACK_DIR"/worker-*.pid; }

# indices_of FILE...: the N of every existing NAME-N.pid.
indices_of() {
    local f n
    for f in "$@"; do
        [[ -e "$f" ]] || continue
        n="${f##*-}"; n="${n%.pid}"
        [[ "$n" =~ ^[0-9]+$ ]] && printf '%s\n' "$n"
    done | sort -nu
}

# ---------------------------------------------------------------------------- deps

pkg_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" || return 1
    [[ "$status" == *" installed" ]]
}

missing_packages() {
    local p f ok
    for p in "${DEB_PACKAGES[@]}"; do
        if [[ "$p" == nginx ]]; then
            ok=0
            for f in "${NGINX_FLAVOURS[@]}"; do pkg_installed "$f" && { ok=1; break; }; done
            (( ok )) || printf '%s\n' "$p"
        else
            pkg_installed "$p" || printf '%s\n' "$p"
        fi
    done
}

apt_lists_present() { compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; }

apt_install() {
    local -a cmd=(apt-get install -y --no-install-recommends "$@")
    if ! apt_lists_present; then
        log "apt-get update (no package lists yet)"
        apt-get update
    fi
    log "DEBIAN_FRONTEND=noninteractive ${cmd[*]}"
    if ! DEBIAN_FRONTEND=noninteractive "${cmd[@]}"; then
        log "install failed; refreshing the package lists and retrying"
        apt-get update
        DEBIAN_FRONTEND=noninteractive "${cmd[@]}"
    fi
}

print_apt_line() {
    log "missing Debian packages: $*"
    log "install them as root with:"
    printf '  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s\n' "$*" >&2
}

python_test_deps_ok() { command -v python3 >/dev/null && python3 -c 'import pytest, requests' 2>/dev/null; }
# openapi-core validates the live answers against docs/openapi.yaml (Tests/Integration/test_openapi_live.py);
# 0.19 brought the OpenAPI/Config API the test uses. Debian 12 has no package of it new enough.
OPENAPI_CORE_VERSION=0.23.1
openapi_core_ok() {
    python3 -c 'import sys, openapi_core; from openapi_core import OpenAPI, Config
sys.exit(tuple(int(x) for x in openapi_core.__version__.split(".")[:2]) < (0, 19))' 2>/dev/null
}

cmd_deps() {
    local want_test=0
    [[ "${1:-}" == --test ]] && want_test=1
    if ! command -v dpkg-query >/dev/null; then
        log "not a Debian system: make sure these (or their equivalents) are installed: ${DEB_PACKAGES[*]}"
    else
        local -a missing
        mapfile -t missing < <(missing_packages)
        if (( ${#missing[@]} == 0 )); then
            log "Debian packages present"
        elif (( EUID == 0 )); then
            apt_install "${missing[@]}"
        else
            print_apt_line "${missing[@]}"
            exit 1
        fi
    fi
    if (( want_test )); then
        ensure_test_packages
        ensure_python_test_deps
        ensure_openapi_core
    fi
    if ! command -v swift >/dev/null; then
        log "warning: no 'swift' on PATH; install the Swift toolchain (https://www.swift.org/install/linux/) to build"
    fi
}

ensure_test_packages() {
    local p
    local -a missing=()
    command -v dpkg-query >/dev/null || { command -v promtool >/dev/null || log "warning: no promtool on PATH (the metrics tests need it)"; return 0; }
    for p in "${TEST_DEB_PACKAGES[@]}"; do pkg_installed "$p" || missing+=("$p"); done
    (( ${#missing[@]} )) || return 0
    if (( EUID == 0 )); then apt_install "${missing[@]}"; else print_apt_line "${missing[@]}"; exit 1; fi
}

# pytest + requests for the integration suite: Debian's packages for the system python3
# (pip refuses to touch it, PEP 668), pip for any other python3 (pyenv, venv, ...).
ensure_python_test_deps() {
    if python_test_deps_ok; then
        log "python3 with pytest and requests present"
        return 0
    fi
    local sys_python=0
    if ! command -v python3 >/dev/null; then
        sys_python=1
    elif [[ "$(python3 -c 'import sys; print(sys.prefix)' 2>/dev/null)" == /usr ]] && command -v dpkg-query >/dev/null; then
        sys_python=1
    fi
    if (( sys_python )); then
        local -a pk=()
        command -v python3 >/dev/null || pk+=(python3)
        pk+=(python3-pytest python3-requests)
        if (( EUID == 0 )); then
            apt_install "${pk[@]}"
        else
            print_apt_line "${pk[@]}"
            exit 1
        fi
    else
        log "python3 -m pip install pytest requests"
        python3 -m pip install --quiet pytest requests
    fi
    python_test_deps_ok || die "python3 still cannot import pytest and requests"
}

ensure_openapi_core() {
    if openapi_core_ok; then
        log "python3 with openapi-core present"
        return 0
    fi
    log "python3 -m pip install openapi-core==$OPENAPI_CORE_VERSION"
    if ! python3 -m pip install --quiet "openapi-core==$OPENAPI_CORE_VERSION"; then
        # A Debian system python refuses plain pip installs (PEP 668).
        log "retrying with --user --break-system-packages"
        python3 -m pip install --quiet --user --break-system-packages "openapi-core==$OPENAPI_CORE_VERSION"
    fi
    openapi_core_ok || die "python3 still cannot import openapi-core >= 0.19"
}

# ---------------------------------------------------------------------------- build

cmd_build() {
    command -v swift >/dev/null || die "no 'swift' on PATH; install the Swift toolchain (https://www.swift.org/install/linux/)"
    log "swift build -c release"
    (cd "$REPO" && swift build -c release)
}

# need_binary NAME [HINT]
need_binary() {
    [[ -x "$BIN_DIR/$1" ]] || die "$BIN_DIR/$1 not found; build first (make build, or scripts/devstack.sh build)${2:+$2}"
}

# ---------------------------------------------------------------------------- MariaDB

# check_db_hosts LIST: host:port[,host:port...] (an IPv6 host in brackets).
check_db_hosts() {
    local entry
    local -a entries
    IFS=, read -r -a entries <<<"$1"
    (( ${#entries[@]} )) || die "STOCKROOM_DB_HOSTS is empty"
    # read drops a trailing empty field: "a:1," would pass as "a:1".
    [[ "$1" != *, ]] || die "STOCKROOM_DB_HOSTS must be host:port[,host:port...] (got '$1'; it ends with a comma)"
    for entry in "${entries[@]}"; do
        if ! [[ "$entry" =~ ^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})$ ]] \
                || (( 10#${BASH_REMATCH[2]} < 1 || 10#${BASH_REMATCH[2]} > 65535 )); then
            die "STOCKROOM_DB_HOSTS must be host:port[,host:port...] (got '$1'; bad entry '$entry')"
        fi
    done
}

# The external database of this stack: STOCKROOM_DB_HOSTS from the environment for the commands that
# start things (up, run, migrate); for the others (down, status, admin) also the one the last `up`
# wrote into the env file. Empty: the stack runs its own MariaDB.
db_hosts() {
    if [[ -n "${STOCKROOM_DB_HOSTS:-}" || "${1:-}" == --env-only ]]; then
        printf '%s' "${STOCKROOM_DB_HOSTS:-}"
        return 0
    fi
    [[ -r "$ENV_FILE" ]] || return 0
    (
        unset STOCKROOM_DB_HOSTS
        # shellcheck disable=SC1090
        . "$ENV_FILE"
        printf '%s' "${STOCKROOM_DB_HOSTS:-}"
    )
}

db_root() { mariadb --no-defaults -S "$DB_SOCK" -uroot "$@"; }
db_answers() { db_root -N -B -e 'select 1' >/dev/null 2>&1; }

start_mariadb() {
    local pid
    if pid="$(mariadb_pid)"; then
        log "MariaDB running (pid $pid)"
        db_answers || wait_mariadb "$pid"
        return 0
    fi
    command -v mariadbd >/dev/null || die "mariadbd not found; run: scripts/devstack.sh deps"
    mkdir -p "$DB_DIR"
    local -a as_root=()
    (( EUID == 0 )) && as_root=(--user=root)
    if [[ ! -d "$DATADIR/mysql" ]]; then
        log "initialising a private MariaDB data dir in $DATADIR"
        rm -rf "$DATADIR" "$DATADIR.new"
        if ! mariadb-install-db --no-defaults --datadir="$DATADIR.new" "${as_root[@]}" \
                --auth-root-authentication-method=normal --skip-test-db >>"$DB_LOG" 2>&1; then
            tail -n 30 "$DB_LOG" >&2 || true
            die "mariadb-install-db failed (log: $DB_LOG)"
        fi
        mv "$DATADIR.new" "$DATADIR"
    fi
    rm -f "$DB_PID" "$DB_SOCK"
    log "starting MariaDB (socket $DB_SOCK)"
    setsid nohup mariadbd --no-defaults \
        --datadir="$DATADIR" --socket="$DB_SOCK" --skip-networking \
        --pid-file="$DB_PID" --log-error="$DB_LOG" "${as_root[@]}" \
        --innodb-buffer-pool-size=256M --max-connections=300 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --innodb-flush-log-at-trx-commit=1 \
        </dev/null >>"$DB_LOG" 2>&1 &
    pid=$!
    disown "$pid" 2>/dev/null || true
    # mariadbd writes the same pid itself later; writing it now lets `down` find a half-started server.
    printf '%s\n' "$pid" >"$DB_PID"
    wait_mariadb "$pid"
}

wait_mariadb() {
    local pid="$1" deadline=$((SECONDS + 60))
    until db_answers; do
        if ! alive "$pid"; then
            tail -n 30 "$DB_LOG" >&2 || true
            die "MariaDB exited during startup (log: $DB_LOG)"
        fi
        (( SECONDS < deadline )) || { tail -n 30 "$DB_LOG" >&2 || true; die "MariaDB did not answer within 60 s (log: $DB_LOG)"; }
        sleep 0.2
    done
    log "MariaDB answers"
}

bootstrap_db() {
    db_root <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'localhost';
SQL
}

write_env() {
    local tmp="$ENV_FILE.tmp" hosts
    hosts="$(db_hosts --env-only)"
    {
        printf '# Environment of the dev stack in %s (written by scripts/devstack.sh up)\n' "$STACK_DIR"
        if [[ -n "$hosts" ]]; then
            # Single quotes rather than %q (which writes \, for a comma): check_db_hosts allows no
            # quote in it, and the naive readers of this file (the tests' env parsers) get it right.
            printf "export STOCKROOM_DB_HOSTS='%s'\n" "$hosts"
        else
            printf 'export STOCKROOM_DB_SOCKET=%q\n' "$DB_SOCK"
        fi
        printf 'export STOCKROOM_DB_USER=%q\n' "$DB_USER"
        printf 'export STOCKROOM_DB_PASSWORD=%q\n' "$DB_PASSWORD"
        printf 'export STOCKROOM_DB_NAME=%q\n' "$DB_NAME"
        printf 'export STOCKROOM_SQL_DIR=%q\n' "$REPO/sql"
        printf 'export STOCKROOM_THREADS=%q\n' "$STOCKROOM_THREADS"
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
}

run_ctl() {
    [[ -r "$ENV_FILE" ]] || die "$ENV_FILE missing: start the stack first (make up)"
    need_binary stockroomctl
    (
        # shellcheck disable=SC1090
        . "$ENV_FILE"
        cd "$REPO"
        exec "$BIN_DIR/stockroomctl" "$@"
    )
}

# The responder's (as instance 1) and the worker's --check-config, each with the environment its
# supervisor gives it (the socket is not touched: a running responder's shows as a note).
cmd_check_config() {
    [[ -r "$ENV_FILE" ]] || die "$ENV_FILE missing: start the stack first (make up)"
    need_binary stockroom-fcgi
    need_binary stockroom-worker
    local fcgi=0 worker=0
    (
        # shellcheck disable=SC1090
        . "$ENV_FILE"
        if [[ -r "$RESPONDER_ENV_FILE" ]]; then export STOCKROOM_ENV_FILE="$RESPONDER_ENV_FILE"; fi
        export STOCKROOM_SOCKET="$STACK_DIR/fcgi-1.sock"
        exec "$BIN_DIR/stockroom-fcgi" --check-config
    ) || fcgi=$?
    (
        # shellcheck disable=SC1090
        . "$ENV_FILE"
        if [[ -r "$WORKER_ENV_FILE" ]]; then export STOCKROOM_ENV_FILE="$WORKER_ENV_FILE"; fi
        exec "$BIN_DIR/stockroom-worker" --check-config
    ) || worker=$?
    if (( fcgi == 1 || worker == 1 )); then return 1; fi
    if (( fcgi == 2 || worker == 2 )); then return 2; fi
    return $(( fcgi > worker ? fcgi : worker ))
}

prepare_db() {
    local hosts
    hosts="$(db_hosts --env-only)"
    if [[ -n "$hosts" ]]; then
        log "external database: $hosts (no MariaDB of this stack started)"
        mariadb_pid >/dev/null && log "note: this stack's own MariaDB still runs ($DATADIR); devstack.sh down without STOCKROOM_DB_HOSTS stops it"
    else
        start_mariadb
        bootstrap_db
    fi
    write_env
    need_binary stockroomctl
    log "stockroomctl migrate"
    run_ctl migrate || die "stockroomctl migrate failed"
}

stop_mariadb() {
    local pid
    if [[ -n "$(db_hosts --env-only)" ]]; then
        mariadb_pid >/dev/null && log "STOCKROOM_DB_HOSTS is set: leaving this stack's own MariaDB running ($DATADIR)"
        return 0
    fi
    if pid="$(mariadb_pid)"; then
        stop_pid MariaDB "$pid" TERM 60
    fi
    rm -f "$DB_PID"
}

# The database lines of the env file (the responders and workers read it when they start).
db_env_lines() { grep '^export STOCKROOM_DB_' "$ENV_FILE" 2>/dev/null || true; }

# restart_for_new_database OLD-LINES: the env file now names another database (own MariaDB <->
# STOCKROOM_DB_HOSTS, or other hosts): the running responders and workers are stopped, to be
# started again by this `up` with the new one.
restart_for_new_database() {
    [[ -n "$1" && "$1" != "$(db_env_lines)" ]] || return 0
    local -a idx=()
    mapfile -t idx < <(known_indices)
    if (( ${#idx[@]} )); then
        log "the stack's database changed; restarting responders ${idx[*]}"
        stop_responders "${idx[@]}"
    fi
    mapfile -t idx < <(known_worker_indices)
    if (( ${#idx[@]} )); then
        log "the stack's database changed; restarting workers ${idx[*]}"
        stop_workers "${idx[@]}"
    fi
}

# ---------------------------------------------------------------------------- responders

# The supervisor of responder $1 (runs as its own process: devstack.sh _supervise I STACK_DIR).
# Keeps one stockroom-fcgi child running (a child, not exec, so the process name stays stockroom-fcgi),
# restarts it 0.5 s after it dies, and on SIGTERM/SIGINT forwards SIGTERM to it, waits, and exits.
cmd_supervise() {
    local i="$1"
    supervise "$i" stockroom-fcgi "$STACK_DIR/fcgi-$i.pid" responder_env
    rm -f "$STACK_DIR/fcgi-$i.sock"
    printf 'devstack supervisor %s: stopped\n' "$i"
    exit 0
}

# The supervisor of worker $1 (devstack.sh _supervise_worker I STACK_DIR): the same for one
# stockroom-worker (exiting 0 after SIGTERM once its current batch is done).
cmd_supervise_worker() {
    local i="$1"
    supervise "$i" stockroom-worker "$STACK_DIR/worker-$i.pid" worker_env
    printf 'devstack supervisor %s: stopped (stockroom-worker exit status %s)\n' "$i" "$SUPERVISED_STATUS"
    exit 0
}

# Run before every start, so a restarted process runs with what the last `up` wrote: the stack's
# environment plus the responder settings of the last `up` (none inherited from the `up` that
# started this supervisor: the file alone decides).
responder_env() {
    unset "${RESPONDER_SETTINGS[@]}"
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    if [[ -r "$RESPONDER_ENV_FILE" ]]; then
        # shellcheck disable=SC1090
        . "$RESPONDER_ENV_FILE"
        # Read again by the responder on SIGHUP/SIGUSR2 (a test edits it, then reloads).
        export STOCKROOM_ENV_FILE="$RESPONDER_ENV_FILE"
    fi
    export STOCKROOM_SOCKET="$STACK_DIR/fcgi-$1.sock"
    rm -f "$STOCKROOM_SOCKET"
}

# The stack's environment plus the worker settings of the last `up` (none inherited from the
# `up` that started this supervisor: the file alone decides), and worker $1's metrics address.
worker_env() {
    unset "${WORKER_SETTINGS[@]}" STOCKROOM_WORKER_METRICS_ADDRESS
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    if [[ -r "$WORKER_ENV_FILE" ]]; then
        # shellcheck disable=SC1090
        . "$WORKER_ENV_FILE"
        export STOCKROOM_ENV_FILE="$WORKER_ENV_FILE"
    fi
    if [[ -n "${WORKER_METRICS_PORT:-}" ]]; then
        local port=$((10#$WORKER_METRICS_PORT))
        (( port == 0 )) || port=$((port + $1 - 1))
        export STOCKROOM_WORKER_METRICS_ADDRESS="127.0.0.1:$port"
    fi
    unset WORKER_METRICS_PORT
}

# supervise I BINARY PIDFILE SETUP: runs SETUP I in this shell, then $BIN_DIR/BINARY as a child
# whose pid goes to PIDFILE; starts it again 0.5 s after it exits, until SIGTERM/SIGINT, which is
# forwarded to the child. Returns once the child is gone, its exit status in SUPERVISED_STATUS.
supervise() {
    local i="$1" bin="$2" pidfile="$3" setup="$4"
    set +e
    local stopping=0 child="" rc=""
    trap 'stopping=1; [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null' TERM INT
    trap '' HUP
    # The child gets the default action for HUP (ignored here), INT and QUIT (which bash ignores in
    # background jobs), as under systemd: a signal test then sees what production would.
    local -a default_signals=()
    env --default-signal=HUP true 2>/dev/null && default_signals=(env --default-signal=HUP,INT,QUIT)
    while (( ! stopping )); do
        "$setup" "$i"
        "${default_signals[@]}" "$BIN_DIR/$bin" </dev/null &
        child=$!
        printf '%s\n' "$child" >"$pidfile"
        (( stopping )) && kill -TERM "$child" 2>/dev/null
        # wait returns early when a trapped signal arrives; keep waiting until the child is gone.
        while :; do
            wait "$child"; rc=$?
            alive "$child" || break
        done
        # The last wait may have been cut short by the signal just as the child exited; bash keeps
        # the status of its dead children, so asking again gives the child's own.
        wait "$child"; rc=$?
        child=""
        rm -f "$pidfile"
        (( stopping )) && break
        printf 'devstack supervisor %s: %s exited (status %s), restarting in 0.5 s\n' "$i" "$bin" "$rc"
        sleep 0.5
    done
    SUPERVISED_STATUS="${rc:-none}"
}

start_responder() {
    local i="$1"
    local pid log="$STACK_DIR/fcgi-$i.log"
    if pid="$(supervisor_pid "$i")"; then
        log "responder $i supervised (supervisor pid $pid)"
        return 0
    fi
    # A responder whose supervisor is gone would keep a stale socket; stop it before starting afresh.
    if pid="$(fcgi_pid "$i")"; then
        stop_pid "orphaned stockroom-fcgi $i" "$pid" TERM 20
    fi
    rm -f "$STACK_DIR/fcgi-$i.pid" "$STACK_DIR/supervisor-$i.pid"
    log "starting responder $i (socket $STACK_DIR/fcgi-$i.sock, $STOCKROOM_THREADS threads)"
    # The supervisor takes STACK_DIR from its arguments (they also identify it in `ps`).
    BIN_DIR="$BIN_DIR" setsid nohup bash "$SELF" _supervise "$i" "$STACK_DIR" </dev/null >>"$log" 2>&1 &
    pid=$!
    disown "$pid" 2>/dev/null || true
    printf '%s\n' "$pid" >"$STACK_DIR/supervisor-$i.pid"
}

# Wait until every responder listens (its socket exists), so nginx never sees a missing socket
# and takes the server out of rotation for fail_timeout.
# Gives up early when a responder keeps crashing (3 restarts logged by its supervisor since $1).
wait_responders() {
    local -n since="$1"
    local i sock log crashes deadline=$((SECONDS + 60))
    for ((i = 1; i <= STOCKROOM_PROCESSES; i++)); do
        sock="$STACK_DIR/fcgi-$i.sock"
        log="$STACK_DIR/fcgi-$i.log"
        until [[ -S "$sock" ]] && fcgi_pid "$i" >/dev/null; do
            crashes="$(tail -c "+$(( ${since[$i]:-0} + 1 ))" "$log" 2>/dev/null | grep -c "^devstack supervisor $i: stockroom-fcgi exited" || true)"
            if (( SECONDS >= deadline || crashes >= 3 )); then
                tail -n 30 "$log" >&2 || true
                (( crashes >= 3 )) && die "responder $i keeps exiting ($crashes restarts; log: $log)"
                die "responder $i is not listening on $sock after 60 s (log: $log)"
            fi
            sleep 0.1
        done
    done
    log "responders listening"
}

stop_responders() { stop_supervised responder 20 "$@"; }

# stop_supervised responder|worker SECONDS I...: SIGTERM to the supervisors of those processes, all
# at once (each forwards it to its child and waits for it); SIGKILL for what is left after SECONDS.
stop_supervised() {
    local kind="$1" secs="$2"
    shift 2
    local -a idx=("$@") sup=()
    local sup_fn child_fn bin i pid
    case "$kind" in
        responder) sup_fn=supervisor_pid child_fn=fcgi_pid bin=stockroom-fcgi ;;
        worker) sup_fn=worker_supervisor_pid child_fn=worker_pid bin=stockroom-worker ;;
        *) die "stop_supervised: unknown kind '$kind'" ;;
    esac
    for i in "${idx[@]}"; do
        if pid="$("$sup_fn" "$i")"; then
            log "stopping $kind $i (supervisor pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            sup+=("$i:$pid")
        fi
    done
    local entry deadline=$((SECONDS + secs))
    for entry in "${sup[@]}"; do
        i="${entry%%:*}"; pid="${entry#*:}"
        while alive "$pid" && (( SECONDS < deadline )); do sleep 0.1; done
        if alive "$pid"; then
            local child
            log "$kind $i (supervisor pid $pid) still running after $secs s, sending SIGKILL"
            if child="$("$child_fn" "$i")"; then kill -KILL "$child" 2>/dev/null || true; fi
            wait_gone "$pid" 2 || kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    # Children left behind (supervisor killed, or never had one).
    for i in "${idx[@]}"; do
        if pid="$("$child_fn" "$i")"; then
            stop_pid "$bin $i" "$pid" TERM "$secs"
        fi
        case "$kind" in
            responder) rm -f "$STACK_DIR/supervisor-$i.pid" "$STACK_DIR/fcgi-$i.pid" "$STACK_DIR/fcgi-$i.sock" ;;
            worker) rm -f "$STACK_DIR/worker-supervisor-$i.pid" "$STACK_DIR/worker-$i.pid" ;;
        esac
    done
}

# settings_lines VAR...: the variables among VAR that are set, as `export` lines (none when unset).
settings_lines() {
    local v
    for v in "$@"; do
        [[ -n "${!v:-}" ]] && printf 'export %s=%q\n' "$v" "${!v}"
    done
    return 0
}

# write_settings_file FILE TITLE VAR...: writes the set VARs to FILE; true when they differ from
# what FILE held (the settings the running processes use).
write_settings_file() {
    local file="$1" title="$2" old="" new
    shift 2
    [[ -r "$file" ]] && old="$(grep -v '^#' "$file" || true)"
    new="$(settings_lines "$@")"
    {
        printf '# %s of the dev stack in %s (written by scripts/devstack.sh up)\n' "$title" "$STACK_DIR"
        [[ -z "$new" ]] || printf '%s\n' "$new"
    } >"$file.tmp"
    mv "$file.tmp" "$file"
    [[ "$old" != "$new" ]]
}

# The responder settings `up` was given: the store's pricing, and the test-only ones (never in
# $ENV_FILE, stockroomctl or production).
RESPONDER_SETTINGS=(STOCKROOM_TAX_RATE STOCKROOM_DELIVERY_FEE STOCKROOM_FREE_DELIVERY_FROM
                    STOCKROOM_TEST_HOOKS STOCKROOM_LOCK_WAIT_TIMEOUT)
responder_settings() { settings_lines "${RESPONDER_SETTINGS[@]}"; }
write_responder_env() { write_settings_file "$RESPONDER_ENV_FILE" "Responder settings" "${RESPONDER_SETTINGS[@]}"; }

# Before the responders are started: when the responder settings changed, the running responders
# 1..STOCKROOM_PROCESSES are stopped here so that start_responder starts them with the new ones.
restart_changed_responders() {
    local i
    local -a running=()
    for ((i = 1; i <= STOCKROOM_PROCESSES; i++)); do
        if supervisor_pid "$i" >/dev/null || fcgi_pid "$i" >/dev/null; then running+=("$i"); fi
    done
    if write_responder_env && (( ${#running[@]} )); then
        local now
        now="$(responder_settings | sed 's/^export //' | paste -sd ' ' -)"
        log "responder settings changed (now: ${now:-the defaults}); restarting responders ${running[*]}"
        stop_responders "${running[@]}"
    fi
}

# ---------------------------------------------------------------------------- workers

# The worker settings `up` was given (WORKER_METRICS_PORT becomes each worker's
# STOCKROOM_WORKER_METRICS_ADDRESS in worker_env).
WORKER_SETTINGS=(STOCKROOM_PROCESS_DELAY STOCKROOM_WORKER_BATCH STOCKROOM_WORKER_POLL_INTERVAL WORKER_METRICS_PORT)
worker_settings() { settings_lines "${WORKER_SETTINGS[@]}"; }
write_worker_env() { write_settings_file "$WORKER_ENV_FILE" "Worker settings" "${WORKER_SETTINGS[@]}"; }

# Seconds to wait for the workers to stop: a worker finishes its current batch first
# (up to STOCKROOM_WORKER_BATCH orders x STOCKROOM_PROCESS_DELAY), plus 20 s.
worker_stop_seconds() {
    local settings delay batch
    settings="$(
        unset STOCKROOM_PROCESS_DELAY STOCKROOM_WORKER_BATCH
        # shellcheck disable=SC1090
        [[ -r "$WORKER_ENV_FILE" ]] && . "$WORKER_ENV_FILE"
        printf '%s %s' "${STOCKROOM_PROCESS_DELAY:-0}" "${STOCKROOM_WORKER_BATCH:-10}"
    )"
    read -r delay batch <<<"$settings"
    awk -v d="$delay" -v b="$batch" 'BEGIN { s = 20 + d * b; printf "%d\n", (s == int(s)) ? s : int(s) + 1 }'
}

stop_workers() { stop_supervised worker "$(worker_stop_seconds)" "$@"; }

# Workers started by this `up` (index -> microseconds at start, log size at start), for wait_workers.
declare -A WORKER_STARTED=() WORKER_LOG_SIZE=()

now_us() { printf '%s' "${EPOCHREALTIME/[.,]/}"; }

start_worker() {
    local i="$1"
    local pid log="$STACK_DIR/worker-$i.log"
    if pid="$(worker_supervisor_pid "$i")"; then
        log "worker $i supervised (supervisor pid $pid)"
        return 0
    fi
    if pid="$(worker_pid "$i")"; then
        stop_pid "orphaned stockroom-worker $i" "$pid" TERM "$(worker_stop_seconds)"
    fi
    rm -f "$STACK_DIR/worker-$i.pid" "$STACK_DIR/worker-supervisor-$i.pid"
    WORKER_LOG_SIZE[$i]="$(stat -c %s "$log" 2>/dev/null || echo 0)"
    WORKER_STARTED[$i]="$(now_us)"
    log "starting worker $i (log $log)"
    BIN_DIR="$BIN_DIR" setsid nohup bash "$SELF" _supervise_worker "$i" "$STACK_DIR" </dev/null >>"$log" 2>&1 &
    pid=$!
    disown "$pid" 2>/dev/null || true
    printf '%s\n' "$pid" >"$STACK_DIR/worker-supervisor-$i.pid"
}

# The workers started by this `up` must be running and must not have exited in their first second
# (a worker has no socket to wait for: staying up that long is what "started" means here).
wait_workers() {
    local i log crashes settle_us=1000000 deadline=$((SECONDS + 60))
    for i in "${!WORKER_STARTED[@]}"; do
        log="$STACK_DIR/worker-$i.log"
        while :; do
            crashes="$(tail -c "+$(( ${WORKER_LOG_SIZE[$i]:-0} + 1 ))" "$log" 2>/dev/null | grep -c "^devstack supervisor $i: stockroom-worker exited" || true)"
            if (( crashes > 0 )); then
                tail -n 30 "$log" >&2 || true
                die "worker $i exited during startup (log: $log)"
            fi
            if worker_pid "$i" >/dev/null && (( $(now_us) - WORKER_STARTED[$i] >= settle_us )); then
                break
            fi
            if (( SECONDS >= deadline )); then
                tail -n 30 "$log" >&2 || true
                die "worker $i did not start within 60 s (log: $log)"
            fi
            sleep 0.1
        done
    done
    (( ${#WORKER_STARTED[@]} == 0 )) || log "workers running"
}

# ---------------------------------------------------------------------------- nginx

sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

render_nginx() {
    local out="$1" user i up_line="" up_inline=""
    [[ -r "$TEMPLATE" ]] || die "$TEMPLATE not found"
    if (( EUID == 0 )); then user="root root"; else user="$(id -un) $(id -gn)"; fi
    for ((i = 1; i <= STOCKROOM_PROCESSES; i++)); do
        local s
        s="$(sed_escape "server unix:$STACK_DIR/fcgi-$i.sock max_fails=1 fail_timeout=2s;")"
        if [[ -z "$up_inline" ]]; then up_line="\\1$s"; up_inline="$s"
        else up_line="$up_line\\n\\1$s"; up_inline="$up_inline $s"; fi
    done
    sed -e "s|^\\([[:space:]]*\\)@UPSTREAM_SERVERS@[[:space:]]*\$|$up_line|" \
        -e "s|@UPSTREAM_SERVERS@|$up_inline|g" \
        -e "s|@PORT@|$PORT|g" \
        -e "s|@LISTEN_ADDRESS@|$(sed_escape "$LISTEN_HOST")|g" \
        -e "s|@STACK_DIR@|$(sed_escape "$STACK_DIR")|g" \
        -e "s|@REPO@|$(sed_escape "$REPO")|g" \
        -e "s|@NGINX_USER@|$(sed_escape "$user")|g" \
        "$TEMPLATE" >"$out"
    if grep -qE '@[A-Z_]+@' "$out"; then
        die "unknown placeholder left in $out: $(grep -oE '@[A-Z_]+@' "$out" | sort -u | tr '\n' ' ')"
    fi
}

# Directories the rendered config writes into (temp paths, logs, pid), plus the usual ones.
nginx_dirs() {
    local conf="$1" p
    mkdir -p "$NGINX_PREFIX/logs" "$NGINX_PREFIX/tmp"
    while read -r p; do
        [[ -n "$p" && "$p" == /* ]] && mkdir -p "$p"
    done < <(sed -nE 's/^[[:space:]]*[a-z_]+_temp_path[[:space:]]+([^ ;]+).*/\1/p' "$conf")
    while read -r p; do
        [[ -n "$p" && "$p" == /* ]] && mkdir -p "$(dirname "$p")"
    done < <(sed -nE 's/^[[:space:]]*(access_log|error_log|pid)[[:space:]]+([^ ;]+).*/\2/p' "$conf")
}

# nginx_args CONF: sets NGINX_ARGS; pins the pid file with -g only when CONF does not set one itself.
nginx_args() {
    NGINX_ARGS=(-p "$NGINX_PREFIX" -c "$1" -e "$NGINX_ERROR_LOG")
    if ! grep -qE '^[[:space:]]*pid[[:space:]]' "$1"; then
        NGINX_ARGS+=(-g "pid $NGINX_PID;")
    fi
}

nginx_test() {
    local conf="$1" out
    nginx_args "$conf"
    if ! out="$(nginx "${NGINX_ARGS[@]}" -t 2>&1)"; then
        printf '%s\n' "$out" >&2
        die "nginx -t failed for $conf"
    fi
}

start_nginx() {
    command -v nginx >/dev/null || die "nginx not found; run: scripts/devstack.sh deps"
    mkdir -p "$NGINX_PREFIX"
    local new="$NGINX_CONF.new" pid
    render_nginx "$new"
    nginx_dirs "$new"
    if pid="$(nginx_pid)"; then
        if cmp -s "$new" "$NGINX_CONF"; then
            rm -f "$new"
            log "nginx running (pid $pid)"
            return 0
        fi
        nginx_test "$new"
        mv "$new" "$NGINX_CONF"
        log "nginx config changed (responders: $STOCKROOM_PROCESSES); reloading nginx (pid $pid)"
        kill -HUP "$pid"
        return 0
    fi
    mv "$new" "$NGINX_CONF"
    nginx_test "$NGINX_CONF"
    rm -f "$NGINX_PID"
    nginx_args "$NGINX_CONF"
    log "starting nginx on $LISTEN_HOST:$PORT"
    # nginx daemonises (its master calls setsid) and writes its pid file just after.
    local out
    if ! out="$(nginx "${NGINX_ARGS[@]}" </dev/null 2>&1)"; then
        printf '%s\n' "$out" >&2
        die "nginx failed to start (log: $NGINX_ERROR_LOG)"
    fi
    local deadline=$((SECONDS + 10))
    until pid="$(nginx_pid)"; do
        (( SECONDS < deadline )) || die "nginx wrote no live pid to $NGINX_PID (log: $NGINX_ERROR_LOG)"
        sleep 0.1
    done
}

stop_nginx() {
    local pid
    if pid="$(nginx_pid)"; then
        log "stopping nginx (pid $pid)"
        kill -QUIT "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" 20; then
            log "nginx (pid $pid) still running after 20 s, sending SIGTERM"
            stop_pid nginx "$pid" TERM 5
        fi
    fi
    rm -f "$NGINX_PID"
}

# ---------------------------------------------------------------------------- health, logs

health_code() { curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$URL/health" 2>/dev/null || true; }

wait_health() {
    local deadline=$((SECONDS + 60)) code=""
    while :; do
        code="$(health_code)"
        [[ "$code" == 200 ]] && return 0
        (( SECONDS < deadline )) || break
        sleep 0.25
    done
    log "GET $URL/health did not answer 200 within 60 s (last status: ${code:-none})"
    cmd_logs 40
    exit 1
}

cmd_logs() {
    local n="${1:-40}" f lines
    while IFS= read -r f; do
        lines="$n"
        # access logs are mostly noise next to the error logs
        [[ "$f" == */access.log ]] && (( lines > 15 )) && lines=15
        printf '\n===== %s (last %s lines) =====\n' "$f" "$lines" >&2
        tail -n "$lines" "$f" >&2 || true
    # Nested stacks are pruned: test stacks, and scripts/cluster.sh's cluster and app stack (make cluster).
    done < <(find "$STACK_DIR" -maxdepth 3 \( -path "$STACK_DIR/test-*" -o -path "$DB_DIR" -o -path "$STACK_DIR/cluster" \
                  -o -path "$STACK_DIR/cluster-*" \) -prune \
                  -o -name '*.log' -type f -print 2>/dev/null | sort)
}

# ---------------------------------------------------------------------------- commands

cmd_up() {
    need_binary stockroomctl
    need_binary stockroom-fcgi
    if (( STOCKROOM_WORKERS > 0 )); then
        need_binary stockroom-worker "; or start the stack without workers: STOCKROOM_WORKERS=0"
    fi
    [[ -r "$TEMPLATE" ]] || die "$TEMPLATE not found"
    local old_db
    old_db="$(db_env_lines)"
    prepare_db
    restart_for_new_database "$old_db"
    restart_changed_responders
    local i
    local -A log_size=()
    for ((i = 1; i <= STOCKROOM_PROCESSES; i++)); do
        # shellcheck disable=SC2034 # read by wait_responders through a nameref
        log_size[$i]="$(stat -c %s "$STACK_DIR/fcgi-$i.log" 2>/dev/null || echo 0)"
        start_responder "$i"
    done
    # Fewer processes than last time: stop the extra ones (after nginx stops sending to them).
    local -a extra=()
    while read -r i; do
        (( i > STOCKROOM_PROCESSES )) && extra+=("$i")
    done < <(known_indices)
    start_workers
    wait_responders log_size
    start_nginx
    if (( ${#extra[@]} )); then stop_responders "${extra[@]}"; fi
    wait_health
    wait_workers
    log "stack up: $URL (stack dir $STACK_DIR; responders: $STOCKROOM_PROCESSES, workers: $STOCKROOM_WORKERS)"
    printf '%s\n' "$URL"
}

# Workers 1..STOCKROOM_WORKERS: the extra ones of an earlier `up` stopped, running ones restarted
# when the worker settings changed, missing ones started.
start_workers() {
    local i
    local -a extra=() running=()
    while read -r i; do
        if (( i > STOCKROOM_WORKERS )); then extra+=("$i")
        elif worker_supervisor_pid "$i" >/dev/null || worker_pid "$i" >/dev/null; then running+=("$i"); fi
    done < <(known_worker_indices)
    if (( ${#extra[@]} )); then stop_workers "${extra[@]}"; fi
    # Stopped with the settings they run with (worker_stop_seconds reads the file), before it changes.
    local stop_secs
    stop_secs="$(worker_stop_seconds)"
    if write_worker_env && (( ${#running[@]} )); then
        local now
        now="$(worker_settings | sed 's/^export //' | paste -sd ' ' -)"
        log "worker settings changed (now: ${now:-the defaults}); restarting workers ${running[*]}"
        stop_supervised worker "$stop_secs" "${running[@]}"
    fi
    for ((i = 1; i <= STOCKROOM_WORKERS; i++)); do
        start_worker "$i"
    done
}

cmd_down() {
    stop_nginx
    local -a idx=()
    mapfile -t idx < <(known_indices)
    if (( ${#idx[@]} )); then stop_responders "${idx[@]}"; fi
    mapfile -t idx < <(known_worker_indices)
    if (( ${#idx[@]} )); then stop_workers "${idx[@]}"; fi
    stop_mariadb
    stop_strays
    rm -f "$STACK_DIR"/supervisor-*.pid "$STACK_DIR"/fcgi-*.pid "$STACK_DIR"/fcgi-*.sock "$STACK_DIR"/worker-*.pid
    log "stack down ($STACK_DIR; data kept)"
}

cmd_status() {
    local ok=1 pid spid i n="$STOCKROOM_PROCESSES"
    printf 'stack %s, %s\n' "$STACK_DIR" "$URL"
    local hosts
    hosts="$(db_hosts)"
    if [[ -n "$hosts" ]]; then printf '  %-14s external: %s\n' database "$(external_db_status "$hosts")"
    elif pid="$(mariadb_pid)"; then printf '  %-14s running (pid %s)\n' mariadb "$pid"
    else printf '  %-14s stopped\n' mariadb; ok=0; fi
    while read -r i; do (( i > n )) && n="$i"; done < <(known_indices)
    for ((i = 1; i <= n; i++)); do
        if spid="$(supervisor_pid "$i")"; then
            if pid="$(fcgi_pid "$i")"; then printf '  %-14s running (supervisor %s, stockroom-fcgi %s)\n' "responder $i" "$spid" "$pid"
            else printf '  %-14s restarting (supervisor %s, no stockroom-fcgi)\n' "responder $i" "$spid"; ok=0; fi
        elif pid="$(fcgi_pid "$i")"; then printf '  %-14s unsupervised (stockroom-fcgi %s)\n' "responder $i" "$pid"; ok=0
        else printf '  %-14s stopped\n' "responder $i"; ok=0; fi
    done
    n="$STOCKROOM_WORKERS"
    while read -r i; do (( i > n )) && n="$i"; done < <(known_worker_indices)
    for ((i = 1; i <= n; i++)); do
        if spid="$(worker_supervisor_pid "$i")"; then
            if pid="$(worker_pid "$i")"; then printf '  %-14s running (supervisor %s, stockroom-worker %s)\n' "worker $i" "$spid" "$pid"
            else printf '  %-14s restarting (supervisor %s, no stockroom-worker)\n' "worker $i" "$spid"; ok=0; fi
        elif pid="$(worker_pid "$i")"; then printf '  %-14s unsupervised (stockroom-worker %s)\n' "worker $i" "$pid"; ok=0
        else printf '  %-14s stopped\n' "worker $i"; ok=0; fi
    done
    if pid="$(nginx_pid)"; then printf '  %-14s running (pid %s)\n' nginx "$pid"
    else printf '  %-14s stopped\n' nginx; ok=0; fi
    local code
    code="$(health_code)"
    [[ "$code" =~ ^[1-9] ]] || code="no answer"
    printf '  %-14s %s\n' health "$code"
    [[ "$code" == 200 ]] || ok=0
    (( ok )) || exit 3
}

# external_db_status LIST: each host:port of LIST followed by whether it answers as the stack's user.
external_db_status() {
    local entry host out=""
    local -a entries
    IFS=, read -r -a entries <<<"$1"
    for entry in "${entries[@]}"; do
        host="${entry%:*}"; host="${host#[}"; host="${host%]}"
        if mariadb --no-defaults --connect-timeout=2 -h "$host" -P "${entry##*:}" -u"$DB_USER" -p"$DB_PASSWORD" \
                -N -B -e 'select 1' >/dev/null 2>&1; then out="$out $entry up,"
        else out="$out $entry no answer,"; fi
    done
    out="${out# }"
    printf '%s' "${out%,}"
}

cmd_run() {
    local stop=0
    trap 'stop=1' INT TERM
    # up in its own process: errexit stays in force there, and a Ctrl-C during up interrupts it.
    if ! STACK_DIR="$STACK_DIR" PORT="$PORT" BIN_DIR="$BIN_DIR" STOCKROOM_PROCESSES="$STOCKROOM_PROCESSES" \
            STOCKROOM_THREADS="$STOCKROOM_THREADS" STOCKROOM_WORKERS="$STOCKROOM_WORKERS" bash "$SELF" up; then
        trap '' INT TERM
        log "up failed; stopping what was started"
        cmd_down
        exit 1
    fi
    if (( ! stop )); then
        if (( STOCKROOM_WORKERS > 0 )); then
            log "stockroom-worker running ($STOCKROOM_WORKERS process(es), moving pending orders to processed; log: $STACK_DIR/worker-1.log)"
        else
            log "no stockroom-worker (STOCKROOM_WORKERS=0): orders stay pending"
        fi
        log "serving $URL; press Ctrl-C to stop"
    fi
    while (( ! stop )); do
        sleep 1 &
        wait $! 2>/dev/null || true
    done
    trap '' INT TERM
    printf '\n' >&2
    cmd_down
}

cmd_admin() {
    local name="${1:-}"
    [[ -n "$name" ]] || die "usage: devstack.sh admin NAME   (password on stdin)"
    [[ -r "$ENV_FILE" ]] || die "$ENV_FILE missing: start the stack first (make up)"
    if [[ -z "$(db_hosts)" ]]; then
        mariadb_pid >/dev/null || die "MariaDB of $STACK_DIR is not running: start the stack first (make up)"
    fi
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

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF" >&2
    exit 2
}

main() {
    local verb="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$verb" in
        _supervise) STACK_DIR="$2"; set_paths; cmd_supervise "$1" ;;
        _supervise_worker) STACK_DIR="$2"; set_paths; cmd_supervise_worker "$1" ;;
        deps) cmd_deps "$@" ;;
        build) cmd_build ;;
        up) set_paths; cmd_up ;;
        down) set_paths; cmd_down ;;
        status) set_paths; cmd_status ;;
        run) set_paths; cmd_run ;;
        migrate) set_paths; need_binary stockroomctl; prepare_db ;;
        admin) set_paths; cmd_admin "$@" ;;
        ctl) set_paths; run_ctl "$@" ;;
        check-config) set_paths; cmd_check_config ;;
        logs) set_paths; cmd_logs "${1:-40}" ;;
        *) usage ;;
    esac
}

main "$@"

#!/usr/bin/env bash
# Cluster fault suite (issue 11): Tests/ClusterFaults against several hosts emulated on this
# machine, each in its own network namespace on one bridge (Tests/kit/stockroom_kit/netns.py):
#   PREFIX-db1..3    a 3-node MariaDB Galera cluster (scripts/cluster.sh), SUBNET.11-13:3306
#   PREFIX-app1..2   two app hosts (scripts/devstack.sh against the cluster: nginx on SUBNET.2N:8080,
#                    2 responder processes, 1 worker), STACK_DIR .run/cluster-chaos/appN
#   root namespace   the front nginx (nginx/front.conf.template) on 127.0.0.1:<free port>, the tests
# then the cases under order load through the front (kill the writer node, cut it off, kill an app
# host, a node's rejoin by IST), each followed by the books checked on every node.
# Everything is torn down afterwards, whatever happens (app hosts, cluster, front, namespaces,
# bridge). Needs root (namespaces) and the release build: run `swift build -c release` first.
#   KEEP_STACK=1                keep the logs and data in .run/cluster-chaos (everything is stopped either way)
#   CLUSTER_CHAOS_TIMEOUT=S     hard bound on the pytest run in seconds (default 420)
#   STOCKROOM_NETNS_PREFIX, STOCKROOM_NETNS_SUBNET   another prefix/subnet (defaults stk, 10.77.0),
#                               for a second run at the same time; its files go to .run/cluster-chaos-PREFIX
#   extra arguments are passed to pytest (e.g. -k app_host -x)
# Exit code: pytest's (1 when the hosts do not come up, 124 when CLUSTER_CHAOS_TIMEOUT ran out).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$REPO"

log() { printf 'cluster-chaos: %s\n' "$*" >&2; }
die() { printf 'cluster-chaos: error: %s\n' "$*" >&2; exit 1; }

PREFIX="${STOCKROOM_NETNS_PREFIX:-stk}"
SUBNET="${STOCKROOM_NETNS_SUBNET:-10.77.0}"
[[ "$PREFIX" =~ ^[a-z][a-z0-9]{0,5}$ ]] || die "STOCKROOM_NETNS_PREFIX must be 1-6 lowercase letters or digits, starting with a letter (got '$PREFIX')"
[[ "$SUBNET" =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "STOCKROOM_NETNS_SUBNET must be three octets, e.g. 10.77.0 (got '$SUBNET')"
export STOCKROOM_NETNS_PREFIX="$PREFIX" STOCKROOM_NETNS_SUBNET="$SUBNET"
RUN_DIR="$REPO/.run/cluster-chaos"
[[ "$PREFIX" == stk ]] || RUN_DIR="$REPO/.run/cluster-chaos-$PREFIX"
BIN_DIR="${BIN_DIR:-$REPO/.build/release}"
CLUSTER_CHAOS_TIMEOUT="${CLUSTER_CHAOS_TIMEOUT:-420}"
[[ "$CLUSTER_CHAOS_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "CLUSTER_CHAOS_TIMEOUT must be a number of seconds (got '$CLUSTER_CHAOS_TIMEOUT')"
APP_PORT=8080
APP_HOSTS=(1 2)
DB_HOSTS="$SUBNET.11:3306,$SUBNET.12:3306,$SUBNET.13:3306"
FRONT_DIR="$RUN_DIR/front"
export PYTHONPATH="$REPO/Tests/kit${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1

# ---------------------------------------------------------------------------- what it needs

(( EUID == 0 )) || die "run as root: the hosts are network namespaces (ip netns)"
for b in stockroom-fcgi stockroom-worker stockroomctl; do
    [[ -x "$BIN_DIR/$b" ]] || die "$BIN_DIR/$b not found; build first: swift build -c release"
done
for c in ip nginx mariadbd mariabackup curl flock timeout python3; do
    command -v "$c" >/dev/null || die "$c not found (scripts/deps.sh; Galera: apt-get install galera-4 mariadb-backup)"
done
[[ -e /usr/lib/galera/libgalera_smm.so ]] || die "the Galera provider is not installed (apt-get install galera-4)"
python3 -c 'import pytest, requests' 2>/dev/null || die "python3 cannot import pytest and requests (scripts/deps.sh --test)"
[[ -r scripts/cluster.sh ]] || die "scripts/cluster.sh not found (branch cluster-infra)"
grep -q STOCKROOM_DB_HOSTS scripts/devstack.sh || die "scripts/devstack.sh has no external-database mode (STOCKROOM_DB_HOSTS; branch cluster-infra)"

# One run per prefix at a time: a second one would tear down the first one's namespaces. Only this
# shell holds the lock: every command it starts gets fd 9 closed (`9>&-`), so that a daemon left
# behind by a crashed run does not keep the next run from cleaning up after it.
mkdir -p /run/lock
exec 9>"/run/lock/stockroom-cluster-chaos-$PREFIX.lock"
flock -n 9 || die "another cluster fault run uses the prefix $PREFIX (set STOCKROOM_NETNS_PREFIX and STOCKROOM_NETNS_SUBNET for a second one)"

# ---------------------------------------------------------------------------- helpers

netns() { python3 -m stockroom_kit.netns "$@" 9>&-; }

# The helpers the tests call (stockroom_kit.cluster): this run's cluster.sh, an app host's devstack.sh
# inside its namespace, and stockroomctl through app host 1.
write_helpers() {
    mkdir -p "$RUN_DIR/bin"
    {
        printf '#!/usr/bin/env bash\n# scripts/cluster.sh for this run\n'
        printf 'exec env STACK_DIR=%q CLUSTER_NETNS_PREFIX=%q bash %q "$@"\n' "$RUN_DIR" "$PREFIX" "$REPO/scripts/cluster.sh"
    } >"$RUN_DIR/bin/cluster"
    {
        printf '#!/usr/bin/env bash\n# apphost N VERB...: scripts/devstack.sh VERB for app host N, in its namespace\n'
        printf 'n="${1:-}"; shift || true\n'
        printf 'case "$n" in 1|2) ;; *) echo "usage: apphost 1|2 VERB..." >&2; exit 2 ;; esac\n'
        printf 'unset STOCKROOM_PROCESS_DELAY STOCKROOM_WORKER_BATCH STOCKROOM_WORKER_POLL_INTERVAL STOCKROOM_TEST_HOOKS STOCKROOM_LOCK_WAIT_TIMEOUT\n'
        printf 'exec ip netns exec %q-app"$n" env STACK_DIR=%q/app"$n" STOCKROOM_DB_HOSTS=%q LISTEN_ADDRESS=%q."2$n" PORT=%q \\\n' \
            "$PREFIX" "$RUN_DIR" "$DB_HOSTS" "$SUBNET" "$APP_PORT"
        printf '    STOCKROOM_PROCESSES=2 STOCKROOM_WORKERS=1 BIN_DIR=%q bash %q "$@"\n' "$BIN_DIR" "$REPO/scripts/devstack.sh"
    } >"$RUN_DIR/bin/apphost"
    {
        printf '#!/usr/bin/env bash\n# stockroomctl ARGS through app host 1\n'
        printf 'exec %q 1 ctl "$@"\n' "$RUN_DIR/bin/apphost"
    } >"$RUN_DIR/bin/ctl"
    chmod +x "$RUN_DIR/bin/cluster" "$RUN_DIR/bin/apphost" "$RUN_DIR/bin/ctl"
}

front_pid() {
    local pid
    read -r pid 2>/dev/null <"$FRONT_DIR/nginx.pid" || return 1
    [[ "$pid" =~ ^[0-9]+$ && "$(cat "/proc/$pid/comm" 2>/dev/null)" == nginx ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-c $FRONT_DIR/nginx.conf" || return 1
    printf '%s' "$pid"
}

start_front() {
    local user
    mkdir -p "$FRONT_DIR"
    if (( EUID == 0 )); then user="root root"; else user="$(id -un) $(id -gn)"; fi
    sed -e "s|@PORT@|$PORT|g" -e "s|@FRONT_DIR@|$FRONT_DIR|g" -e "s|@NGINX_USER@|$user|g" \
        -e "s|@APP1@|$SUBNET.21|g" -e "s|@APP2@|$SUBNET.22|g" -e "s|@APP_PORT@|$APP_PORT|g" \
        nginx/front.conf.template >"$FRONT_DIR/nginx.conf"
    if grep -qE '@[A-Z0-9_]+@' "$FRONT_DIR/nginx.conf"; then
        die "placeholder left in $FRONT_DIR/nginx.conf: $(grep -oE '@[A-Z0-9_]+@' "$FRONT_DIR/nginx.conf" | sort -u | tr '\n' ' ')"
    fi
    nginx -q -t -p "$FRONT_DIR/" -c "$FRONT_DIR/nginx.conf" -e "$FRONT_DIR/error.log" 9>&-
    log "front nginx on 127.0.0.1:$PORT -> $SUBNET.21:$APP_PORT, $SUBNET.22:$APP_PORT"
    nginx -p "$FRONT_DIR/" -c "$FRONT_DIR/nginx.conf" -e "$FRONT_DIR/error.log" </dev/null 9>&-
}

stop_front() {
    local pid i
    pid="$(front_pid)" || return 0
    log "stopping the front nginx (pid $pid)"
    kill -QUIT "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# Everything of this run (or of a crashed earlier one with this prefix), in order: the namespaces
# reconnected, the app hosts and the front stopped, the cluster shut down cleanly, then whatever
# is left in the namespaces killed and the namespaces and bridge deleted.
teardown() {
    local n
    [[ -x "$RUN_DIR/bin/cluster" ]] || write_helpers
    if [[ -e "/run/netns/$PREFIX-db1" ]]; then
        for n in db1 db2 db3 app1 app2; do netns restore "$PREFIX-$n" 2>/dev/null || true; done
    fi
    for n in "${APP_HOSTS[@]}"; do
        if [[ -d "$RUN_DIR/app$n" && -e "/run/netns/$PREFIX-app$n" ]]; then
            "$RUN_DIR/bin/apphost" "$n" down >>"$RUN_DIR/teardown.log" 2>&1 9>&- || log "app host $n: devstack down failed (see $RUN_DIR/teardown.log)"
        fi
    done
    stop_front
    if [[ -d "$RUN_DIR/cluster" ]]; then
        "$RUN_DIR/bin/cluster" down >>"$RUN_DIR/teardown.log" 2>&1 9>&- || log "cluster down failed (see $RUN_DIR/teardown.log)"
    fi
    netns down || log "removing the namespaces failed"
}

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pytest
    if [[ -s "$RUN_DIR/chaos-summary.txt" ]]; then
        log "summary of the cluster fault cases ($RUN_DIR/chaos-summary.txt):"
        cat "$RUN_DIR/chaos-summary.txt" >&2
    fi
    local t=$SECONDS
    log "tearing down (app hosts, front nginx, cluster, namespaces)"
    teardown
    log "teardown took $((SECONDS - t)) s; the whole run $SECONDS s"
    if [[ "${KEEP_STACK:-0}" == 1 ]]; then
        log "KEEP_STACK=1: logs and data kept in $RUN_DIR"
    else
        rm -rf "$RUN_DIR"
    fi
    exit "$rc"
}

# pytest runs in the background (a signal to this script is then handled at once, not after the
# cases); an interrupted run stops it before tearing down.
PYTEST_PID=""
stop_pytest() {
    [[ -n "$PYTEST_PID" ]] && kill -0 "$PYTEST_PID" 2>/dev/null || return 0
    log "stopping pytest (pid $PYTEST_PID)"
    kill -TERM "$PYTEST_PID" 2>/dev/null || true  # timeout passes it on to pytest
    local i
    for ((i = 0; i < 150; i++)); do
        kill -0 "$PYTEST_PID" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$PYTEST_PID" 2>/dev/null || true
}

print_logs() {
    local f
    while IFS= read -r f; do
        printf '\n===== %s (last 40 lines) =====\n' "$f" >&2
        tail -n 40 "$f" >&2 || true
    done < <(find "$RUN_DIR" -maxdepth 3 -name '*.log' -type f ! -name access.log ! -path '*/data/*' 2>/dev/null | sort)
}

# ---------------------------------------------------------------------------- up

if [[ -d "$RUN_DIR" || -e "/run/netns/$PREFIX-db1" || -e "/run/netns/$PREFIX-app1" ]]; then
    log "removing what an earlier run with prefix $PREFIX left"
    teardown
fi
rm -rf "$RUN_DIR"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
write_helpers

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"

t_setup=$SECONDS
netns up
log "starting the Galera cluster in $PREFIX-db1..3"
if ! "$RUN_DIR/bin/cluster" up >"$RUN_DIR/cluster-up.log" 2>&1 9>&-; then
    cat "$RUN_DIR/cluster-up.log" >&2
    print_logs
    die "the cluster did not come up"
fi
log "cluster up ($(sed -n 's/.*cluster up: //p' "$RUN_DIR/cluster-up.log")) after $((SECONDS - t_setup)) s"

# Both app hosts at once: their migrations take turns through the migration lease.
declare -A up_pid=()
for n in "${APP_HOSTS[@]}"; do
    log "starting app host $n in $PREFIX-app$n ($SUBNET.2$n:$APP_PORT)"
    "$RUN_DIR/bin/apphost" "$n" up >"$RUN_DIR/app$n-up.log" 2>&1 9>&- &
    up_pid[$n]=$!
done
failed=0
for n in "${APP_HOSTS[@]}"; do
    if ! wait "${up_pid[$n]}"; then
        log "app host $n did not come up:"
        cat "$RUN_DIR/app$n-up.log" >&2
        failed=1
    fi
done
(( ! failed )) || { print_logs; die "the app hosts did not come up"; }

start_front
for ((i = 0; i < 120; i++)); do
    [[ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/health" 2>/dev/null)" == 200 ]] && break
    sleep 0.25
done
(( i < 120 )) || { print_logs; die "the front nginx does not answer /health 200 on 127.0.0.1:$PORT"; }

ADMIN_USERNAME="cluster-admin-$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
ADMIN_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
printf '%s\n' "$ADMIN_PASSWORD" | "$RUN_DIR/bin/apphost" 1 admin "$ADMIN_USERNAME" >"$RUN_DIR/admin.log" 2>&1 9>&- \
    || { cat "$RUN_DIR/admin.log" >&2; die "devstack.sh admin $ADMIN_USERNAME failed"; }
log "hosts up in $((SECONDS - t_setup)) s; admin $ADMIN_USERNAME"

# ---------------------------------------------------------------------------- the cases

t_tests=$SECONDS
rc=0
STOCKROOM_URL="http://127.0.0.1:$PORT" \
STOCKROOM_STACK_DIR="$RUN_DIR" \
STOCKROOM_CLUSTER_RUN_DIR="$RUN_DIR" \
STOCKROOM_CLUSTER="$RUN_DIR/bin/cluster" \
STOCKROOM_APPHOST="$RUN_DIR/bin/apphost" \
STOCKROOM_CTL="$RUN_DIR/bin/ctl" \
STOCKROOM_BIN_DIR="$BIN_DIR" \
STOCKROOM_ADMIN_USERNAME="$ADMIN_USERNAME" \
STOCKROOM_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    timeout -k 15 "$CLUSTER_CHAOS_TIMEOUT" python3 -m pytest -q -s -p no:cacheprovider \
        -p stockroom_kit.cluster_plugin Tests/ClusterFaults "$@" </dev/null 9>&- &
PYTEST_PID=$!
wait "$PYTEST_PID" || rc=$?
PYTEST_PID=""
log "cases took $((SECONDS - t_tests)) s (setup $((t_tests - t_setup)) s)"

if (( rc == 124 || rc == 137 )); then
    log "pytest did not finish within CLUSTER_CHAOS_TIMEOUT=$CLUSTER_CHAOS_TIMEOUT s"
fi
if (( rc != 0 )); then
    log "pytest failed (exit $rc); logs of the hosts:"
    print_logs
fi
exit "$rc"

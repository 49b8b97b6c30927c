#!/usr/bin/env bash
# A 3-node MariaDB Galera cluster for dev and tests (Debian's mariadb-server 10.11 + galera-4),
# everything under $STACK_DIR/cluster (default <repo>/.run/cluster), nothing touching the system MariaDB.
#
#   scripts/cluster.sh up          start the nodes that are not running (bootstrapping a new or fully
#                                  stopped cluster first), wait until all 3 are Synced, then create the
#                                  database and user `stockroom` (password stockroom-dev)
#   scripts/cluster.sh down        stop every node (SIGTERM, one after the other, node 1 last; data kept)
#   scripts/cluster.sh status      per node: pid, wsrep state, cluster size and status, ready, last committed
#   scripts/cluster.sh kill N      SIGKILL node N (a crash)
#   scripts/cluster.sh stop N      SIGTERM node N, wait until it is gone
#   scripts/cluster.sh start N     start node N into the running cluster (after a crash, --wsrep-recover
#                                  first, so it rejoins by IST), wait until it is Synced
#   scripts/cluster.sh hosts       the nodes' SQL addresses as host:port,host:port,host:port
#   scripts/cluster.sh sql N ARGS  the mariadb client as root on node N's unix socket
#
# Environment: STACK_DIR (<repo>/.run); CLUSTER_WAIT_SECONDS (90, the bound of every wait).
#   Loopback mode (default): node i listens on 127.0.0.1, SQL port BASE_PORT+i-1 (BASE_PORT 3311),
#   gcomm GCOMM_BASE_PORT+i-1 (4571), IST IST_BASE_PORT+i-1 (4581), SST SST_BASE_PORT+i-1 (4591).
#   Netns mode, CLUSTER_NETNS_PREFIX=P: node i runs in the existing network namespace P-db<i>, on the
#   IPv4 address of that namespace's eth0, with the standard ports (SQL 3306, gcomm 4567, IST 4568, SST 4444).
# Files: $STACK_DIR/cluster/nodeN/{my.cnf,data/,mysqld.sock,mysqld.pid,mysqld.log,wsrep-recover.log,tmp/,sst-log-archive/}.
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")"
REPO="$(cd "$(dirname "$SELF")/.." && pwd -P)"

STACK_DIR="${STACK_DIR:-$REPO/.run}"
BASE_PORT="${BASE_PORT:-3311}"
GCOMM_BASE_PORT="${GCOMM_BASE_PORT:-4571}"
IST_BASE_PORT="${IST_BASE_PORT:-4581}"
SST_BASE_PORT="${SST_BASE_PORT:-4591}"
CLUSTER_NETNS_PREFIX="${CLUSTER_NETNS_PREFIX:-}"
WAIT_SECONDS="${CLUSTER_WAIT_SECONDS:-90}"

NODES=(1 2 3)
PROVIDER=/usr/lib/galera/libgalera_smm.so
CLUSTER_NAME=stockroom-dev
DB_NAME=stockroom
DB_USER=stockroom
DB_PASSWORD=stockroom-dev
# The donor's mariabackup connects to its own node with this account during an SST.
SST_USER=sst
SST_PASSWORD=sst-dev
ZERO_UUID=00000000-0000-0000-0000-000000000000

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { printf 'cluster: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------- paths, addresses

set_paths() {
    local v
    for v in BASE_PORT GCOMM_BASE_PORT IST_BASE_PORT SST_BASE_PORT; do
        if ! [[ "${!v}" =~ ^[0-9]{1,5}$ ]] || (( 10#${!v} < 1 || 10#${!v} + 2 > 65535 )); then
            die "$v must be a TCP port number, at most 65533 (got '${!v}')"
        fi
    done
    [[ "$WAIT_SECONDS" =~ ^[1-9][0-9]*$ ]] || die "CLUSTER_WAIT_SECONDS must be a positive whole number (got '$WAIT_SECONDS')"
    [[ -z "$CLUSTER_NETNS_PREFIX" || "$CLUSTER_NETNS_PREFIX" =~ ^[A-Za-z0-9_.-]+$ ]] \
        || die "CLUSTER_NETNS_PREFIX may hold letters, digits, '_', '.', '-' only (got '$CLUSTER_NETNS_PREFIX')"
    mkdir -p "$STACK_DIR/cluster"
    STACK_DIR="$(cd "$STACK_DIR" && pwd -P)"
    CL="$STACK_DIR/cluster"
    local sock="$CL/node3/mysqld.sock"
    (( ${#sock} <= 107 )) || die "STACK_DIR is too deep for unix socket paths ($sock is ${#sock} bytes, max 107)"
    NETNS_PROBLEM=""
    if [[ -n "$CLUSTER_NETNS_PREFIX" ]]; then
        local i
        for i in "${NODES[@]}"; do read_netns_addr "$i"; done
    fi
}

# For the commands that need the nodes' addresses (down, kill, stop and sql do not: they work
# after the namespaces are gone).
need_addresses() { [[ -z "$NETNS_PROBLEM" ]] || die "$NETNS_PROBLEM"; }

node_dir() { printf '%s' "$CL/node$1"; }
node_data() { printf '%s' "$CL/node$1/data"; }
node_sock() { printf '%s' "$CL/node$1/mysqld.sock"; }
node_pidfile() { printf '%s' "$CL/node$1/mysqld.pid"; }
node_log() { printf '%s' "$CL/node$1/mysqld.log"; }
node_cnf() { printf '%s' "$CL/node$1/my.cnf"; }
node_ns() { printf '%s-db%s' "$CLUSTER_NETNS_PREFIX" "$1"; }

check_node() { [[ "${1:-}" =~ ^[123]$ ]] || die "node must be 1, 2 or 3 (got '${1:-}')"; }

# read_netns_addr I: NETNS_ADDR[I] := the IPv4 address of eth0 in node I's namespace (set up by
# whoever created the namespaces), or NETNS_PROBLEM := why there is none.
declare -A NETNS_ADDR=()
read_netns_addr() {
    local ns addr
    ns="$(node_ns "$1")"
    if [[ ! -e "/run/netns/$ns" ]]; then
        NETNS_PROBLEM="network namespace $ns does not exist (CLUSTER_NETNS_PREFIX=$CLUSTER_NETNS_PREFIX)"
        return 0
    fi
    addr="$(ip -n "$ns" -4 -o addr show dev eth0 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')"
    if [[ -z "$addr" ]]; then
        NETNS_PROBLEM="no IPv4 address on eth0 in network namespace $ns"
        return 0
    fi
    NETNS_ADDR[$1]="$addr"
}

# node_addrs I: sets HOST SQL_PORT GCOMM_PORT IST_PORT SST_PORT for node I.
node_addrs() {
    local i="$1"
    if [[ -n "$CLUSTER_NETNS_PREFIX" ]]; then
        HOST="${NETNS_ADDR[$i]:-?}" SQL_PORT=3306 GCOMM_PORT=4567 IST_PORT=4568 SST_PORT=4444
    else
        HOST=127.0.0.1
        SQL_PORT=$((BASE_PORT + i - 1)) GCOMM_PORT=$((GCOMM_BASE_PORT + i - 1))
        IST_PORT=$((IST_BASE_PORT + i - 1)) SST_PORT=$((SST_BASE_PORT + i - 1))
    fi
}

gcomm_address() {
    local i list=""
    for i in "${NODES[@]}"; do
        node_addrs "$i"
        list="${list:+$list,}$HOST:$GCOMM_PORT"
    done
    printf 'gcomm://%s' "$list"
}

hosts_list() {
    local i list=""
    for i in "${NODES[@]}"; do
        node_addrs "$i"
        list="${list:+$list,}$HOST:$SQL_PORT"
    done
    printf '%s' "$list"
}

# ---------------------------------------------------------------------------- processes

# shellcheck source=lib/processes.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib/processes.sh"

# node_pid I: the pid of node I's mariadbd when its pid file names a live mariadbd started with
# this node's config (guards against pid reuse).
node_pid() {
    local pid
    pid="$(read_pid "$(node_pidfile "$1")")"
    alive "$pid" || return 1
    [[ "$(proc_comm "$pid")" == mariadbd ]] || return 1
    [[ "$(proc_cmdline "$pid")" == *"--defaults-file=$(node_cnf "$1") "* ]] || return 1
    printf '%s' "$pid"
}

# Processes of node I that no pid file names (a lost pid file, an interrupted start), by command line.
stray_pids() {
    local d pid needle
    needle="--defaults-file=$(node_cnf "$1") "
    for d in /proc/[0-9]*; do
        pid="${d#/proc/}"
        [[ "$(proc_cmdline "$pid")" == *"$needle"* ]] && alive "$pid" && printf '%s\n' "$pid"
    done
    return 0
}

die_with_log() {
    local i="$1"
    shift
    printf '\n===== %s (last 40 lines) =====\n' "$(node_log "$i")" >&2
    tail -n 40 "$(node_log "$i")" >&2 2>/dev/null || true
    die "$*"
}

# ---------------------------------------------------------------------------- SQL

node_sql() { local i="$1"; shift; mariadb --no-defaults -S "$(node_sock "$i")" -uroot "$@"; }
node_answers() { node_sql "$1" -N -B -e 'select 1' >/dev/null 2>&1; }

# node_status I NAME: a global status variable of node I (empty when it does not answer).
node_status() {
    node_sql "$1" -N -B -e "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | awk '{ print $2 }' || true
}

# ---------------------------------------------------------------------------- saved state

# grastate I KEY: uuid, seqno or safe_to_bootstrap from node I's grastate.dat (empty when absent).
grastate() {
    local f
    f="$(node_data "$1")/grastate.dat"
    [[ -r "$f" ]] || return 0
    awk -v k="$2:" '$1 == k { print $2; exit }' "$f"
}

# has_state I: node I has been part of a cluster (its grastate.dat names one).
has_state() {
    local uuid
    uuid="$(grastate "$1" uuid)"
    [[ -n "$uuid" && "$uuid" != "$ZERO_UUID" ]]
}

# recover_position I: runs `mariadbd --wsrep-recover` on stopped node I (the Galera docs' way to
# learn where a node that did not shut down cleanly stands); sets RECOVERED[I] to uuid:seqno.
declare -A RECOVERED=()
recover_position() {
    local i="$1" rlog pos
    [[ -n "${RECOVERED[$i]:-}" ]] && return 0
    rlog="$(node_dir "$i")/wsrep-recover.log"
    rm -f "$rlog"
    write_cnf "$i"
    log "node $i: mariadbd --wsrep-recover"
    if ! timeout "$WAIT_SECONDS" mariadbd --defaults-file="$(node_cnf "$i")" --wsrep-recover \
            --log-error="$rlog" </dev/null >/dev/null 2>&1; then
        tail -n 30 "$rlog" >&2 2>/dev/null || true
        die "node $i: mariadbd --wsrep-recover failed (log: $rlog)"
    fi
    pos="$(sed -nE 's/.*WSREP: Recovered position: ([0-9a-f-]+:-?[0-9]+).*/\1/p' "$rlog" | tail -n 1)"
    [[ -n "$pos" ]] || { tail -n 30 "$rlog" >&2 2>/dev/null || true; die "node $i: no recovered position in $rlog"; }
    log "node $i: recovered position $pos"
    RECOVERED[$i]="$pos"
}

set_safe_to_bootstrap() {
    local f
    f="$(node_data "$1")/grastate.dat"
    sed -i -E 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' "$f"
}

# ---------------------------------------------------------------------------- nodes

write_cnf() {
    local i="$1" cnf tmp
    cnf="$(node_cnf "$i")"
    tmp="$cnf.tmp"
    mkdir -p "$(node_dir "$i")/tmp"
    node_addrs "$i"
    local -a run_as=()
    (( EUID == 0 )) && run_as=("user=root")
    {
        printf '# Node %s of the dev Galera cluster (written by scripts/cluster.sh; read with --defaults-file only)\n' "$i"
        printf '[mysqld]\n'
        printf '%s\n' "${run_as[@]}"
        printf 'datadir=%s\n' "$(node_data "$i")"
        printf 'socket=%s\n' "$(node_sock "$i")"
        printf 'pid-file=%s\n' "$(node_pidfile "$i")"
        printf 'log-error=%s\n' "$(node_log "$i")"
        # Also the SST script's temporary directories (it reads tmpdir from [mysqld]).
        printf 'tmpdir=%s\n' "$(node_dir "$i")/tmp"
        printf 'bind-address=%s\n' "$HOST"
        printf 'port=%s\n' "$SQL_PORT"
        printf 'skip-name-resolve\n'
        printf 'character-set-server=utf8mb4\ncollation-server=utf8mb4_unicode_ci\n'
        printf 'max_connections=300\ninnodb_buffer_pool_size=128M\n'
        printf 'binlog_format=ROW\ndefault_storage_engine=InnoDB\ninnodb_autoinc_lock_mode=2\n'
        printf '# Galera replicates through the (emulated) binary log, so a non-SUPER user'"'"'s CREATE TRIGGER\n'
        printf '# (our migrations run as stockroom) fails with error 1419 unless this is on.\n'
        printf 'log_bin_trust_function_creators=1\n'
        printf 'wsrep_on=ON\n'
        printf 'wsrep_provider=%s\n' "$PROVIDER"
        printf 'wsrep_cluster_name=%s\n' "$CLUSTER_NAME"
        printf 'wsrep_cluster_address=%s\n' "$(gcomm_address)"
        node_addrs "$i"
        printf 'wsrep_node_name=node%s\n' "$i"
        printf 'wsrep_node_address=%s:%s\n' "$HOST" "$GCOMM_PORT"
        printf 'wsrep_node_incoming_address=%s:%s\n' "$HOST" "$SQL_PORT"
        # One writer node (docs/cluster.md): let the standbys queue up to 256 write sets before flow
        # control pauses it (the default 16 paused it 64-75 % of a spread-order bench).
        printf 'wsrep_provider_options="gmcast.listen_addr=tcp://%s:%s;ist.recv_addr=%s:%s;gcache.size=256M;gcs.fc_limit=256;gcs.fc_factor=0.8"\n' \
            "$HOST" "$GCOMM_PORT" "$HOST" "$IST_PORT"
        printf 'wsrep_sst_method=mariabackup\n'
        printf 'wsrep_sst_auth=%s:%s\n' "$SST_USER" "$SST_PASSWORD"
        printf 'wsrep_sst_receive_address=%s:%s\n' "$HOST" "$SST_PORT"
        # Appliers on the standbys: orders on different products apply in parallel.
        printf 'wsrep_slave_threads=4\n'
        # The SST script keeps its old logs in /tmp/sst_log_archive unless told otherwise.
        printf '[sst]\nsst-log-archive-dir=%s\n' "$(node_dir "$i")/sst-log-archive"
        printf '[client]\nsocket=%s\n' "$(node_sock "$i")"
    } >"$tmp"
    mv "$tmp" "$cnf"
}

init_datadir() {
    local i="$1" data
    data="$(node_data "$i")"
    [[ -d "$data/mysql" ]] && return 0
    command -v mariadb-install-db >/dev/null || die "mariadb-install-db not found; run: scripts/deps.sh"
    log "node $i: initialising $data"
    rm -rf "$data" "$data.new"
    local -a as_root=()
    (( EUID == 0 )) && as_root=(--user=root)
    if ! mariadb-install-db --no-defaults --datadir="$data.new" "${as_root[@]}" \
            --auth-root-authentication-method=normal --skip-test-db >>"$(node_log "$i")" 2>&1; then
        die_with_log "$i" "node $i: mariadb-install-db failed"
    fi
    mv "$data.new" "$data"
}

# launch I [MARIADBD-OPTION...]: starts node I's mariadbd in the background (in its namespace in netns mode).
launch() {
    local i="$1"
    shift
    command -v mariadbd >/dev/null || die "mariadbd not found; run: scripts/deps.sh"
    [[ -e "$PROVIDER" ]] || die "$PROVIDER not found; run: scripts/deps.sh (galera-4)"
    command -v mariabackup >/dev/null || die "mariabackup not found (the SST method); run: scripts/deps.sh (mariadb-backup)"
    mkdir -p "$(node_dir "$i")"
    init_datadir "$i"
    write_cnf "$i"
    local -a netns=()
    [[ -n "$CLUSTER_NETNS_PREFIX" ]] && netns=(ip netns exec "$(node_ns "$i")")
    node_addrs "$i"
    rm -f "$(node_pidfile "$i")" "$(node_sock "$i")"
    log "node $i: starting on $HOST:$SQL_PORT (gcomm $GCOMM_PORT, IST $IST_PORT, SST $SST_PORT)${*:+ with $*}"
    # `ip netns exec` execs the command in place (no fork), so $! is mariadbd's pid in both modes.
    setsid nohup "${netns[@]}" mariadbd --defaults-file="$(node_cnf "$i")" "$@" \
        </dev/null >>"$(node_log "$i")" 2>&1 &
    local pid=$!
    disown "$pid" 2>/dev/null || true
    # mariadbd writes the same pid itself later; writing it now lets `down` find a half-started node.
    printf '%s\n' "$pid" >"$(node_pidfile "$i")"
}

# start_position_args I: after a crash (grastate.dat's seqno is -1), the position --wsrep-recover
# finds, for --wsrep-start-position: without it the node forgets where it was and asks for a full SST.
start_position_args() {
    local i="$1"
    START_ARGS=()
    has_state "$i" || return 0
    [[ "$(grastate "$i" seqno)" == -1 ]] || return 0
    recover_position "$i"
    START_ARGS=("--wsrep-start-position=${RECOVERED[$i]}")
}

# wait_synced I [SIZE]: until node I answers and reports Synced (and, when given, that cluster size).
wait_synced() {
    local i="$1" size="${2:-}" deadline=$((SECONDS + WAIT_SECONDS)) pid state="" csize=""
    while :; do
        # The pid file's process, not node_pid: just after launch it may not have exec'd mariadbd yet.
        pid="$(read_pid "$(node_pidfile "$i")")"
        alive "$pid" || die_with_log "$i" "node $i exited during startup (log: $(node_log "$i"))"
        if node_answers "$i"; then
            state="$(node_status "$i" wsrep_local_state_comment)"
            csize="$(node_status "$i" wsrep_cluster_size)"
            if [[ "$state" == Synced && ( -z "$size" || "$csize" == "$size" ) ]]; then
                log "node $i: Synced (pid $pid, cluster size $csize)"
                return 0
            fi
        fi
        (( SECONDS < deadline )) || die_with_log "$i" "node $i not Synced${size:+ in a cluster of $size} after ${WAIT_SECONDS}s (state: ${state:-no answer}, cluster size: ${csize:-?}; log: $(node_log "$i"))"
        sleep 0.25
    done
}

# primary_node: a running node that is Synced in the primary component (empty when none).
primary_node() {
    local i
    for i in "${NODES[@]}"; do
        node_pid "$i" >/dev/null || continue
        [[ "$(node_status "$i" wsrep_cluster_status)" == Primary && "$(node_status "$i" wsrep_local_state_comment)" == Synced ]] \
            && { printf '%s' "$i"; return 0; }
    done
    return 0
}

# join I: starts stopped node I into the running cluster and waits until it is Synced.
join() {
    local i="$1"
    start_position_args "$i"
    launch "$i" "${START_ARGS[@]}"
    wait_synced "$i"
}

# bootstrap_node: sets BOOTSTRAP_NODE to the stopped node that starts a new primary component. No
# node that ever ran wsrep means a new cluster (node 1); otherwise the one grastate.dat marks
# safe_to_bootstrap (the last to leave after a clean shutdown), or else the one with the highest
# seqno --wsrep-recover finds (then marked safe_to_bootstrap, which Galera requires).
bootstrap_node() {
    local i any=0 best="" best_seqno=-2 seqno
    BOOTSTRAP_NODE=1
    for i in "${NODES[@]}"; do
        has_state "$i" || continue
        any=1
        if [[ "$(grastate "$i" safe_to_bootstrap)" == 1 ]]; then
            log "node $i: safe_to_bootstrap: 1 in grastate.dat"
            BOOTSTRAP_NODE="$i"
            return 0
        fi
    done
    (( any )) || return 0
    for i in "${NODES[@]}"; do
        has_state "$i" || continue
        seqno="$(grastate "$i" seqno)"
        if [[ "$seqno" == -1 ]]; then
            recover_position "$i"
            seqno="${RECOVERED[$i]##*:}"
        fi
        log "node $i: seqno $seqno"
        if (( seqno > best_seqno )); then best="$i" best_seqno="$seqno"; fi
    done
    log "no node is marked safe_to_bootstrap; node $best has the highest seqno ($best_seqno), marking it"
    set_safe_to_bootstrap "$best"
    BOOTSTRAP_NODE="$best"
}

ensure_sst_user() {
    node_sql "$1" <<SQL
CREATE USER IF NOT EXISTS '$SST_USER'@'localhost' IDENTIFIED BY '$SST_PASSWORD';
GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO '$SST_USER'@'localhost';
SQL
}

# Created on one node: Galera replicates the DDL and account statements to the others.
ensure_database() {
    node_sql "$1" <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'%';
SQL
}

stop_node() {
    local i="$1" pid
    if pid="$(node_pid "$i")"; then
        log "node $i: stopping (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" "$WAIT_SECONDS"; then
            log "node $i (pid $pid) still running after ${WAIT_SECONDS}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || log "node $i (pid $pid) did not die"
        fi
    fi
    local -a strays
    mapfile -t strays < <(stray_pids "$i")
    for pid in "${strays[@]}"; do
        log "node $i: stopping leftover process $pid"
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" "$WAIT_SECONDS" || kill -KILL "$pid" 2>/dev/null || true
    done
    rm -f "$(node_pidfile "$i")"
}

# ---------------------------------------------------------------------------- commands

cmd_up() {
    local i running=() stopped=()
    for i in "${NODES[@]}"; do
        if node_pid "$i" >/dev/null; then running+=("$i"); else stopped+=("$i"); fi
    done
    if (( ${#running[@]} == 0 )); then
        local first
        bootstrap_node
        first="$BOOTSTRAP_NODE"
        start_position_args "$first"
        log "node $first: bootstrapping the cluster"
        launch "$first" --wsrep-new-cluster "${START_ARGS[@]}"
        wait_synced "$first"
        ensure_sst_user "$first"
        for i in "${NODES[@]}"; do
            [[ "$i" == "$first" ]] || join "$i"
        done
    else
        local p
        for i in "${running[@]}"; do wait_synced "$i"; done
        p="$(primary_node)"
        [[ -n "$p" ]] || die "nodes ${running[*]} run but none is Synced in a primary component; see: scripts/cluster.sh status"
        ensure_sst_user "$p"
        for i in "${stopped[@]}"; do join "$i"; done
    fi
    for i in "${NODES[@]}"; do wait_synced "$i" "${#NODES[@]}"; done
    ensure_database "$(primary_node)"
    log "cluster up: $(hosts_list) (stack dir $CL)"
}

cmd_down() {
    local i
    for i in 3 2 1; do stop_node "$i"; done
    log "cluster down ($CL; data kept)"
}

cmd_status() {
    local i pid ok=1
    printf 'cluster %s (%s)\n' "$CL" "${CLUSTER_NETNS_PREFIX:+netns ${CLUSTER_NETNS_PREFIX}-db1..3, }${NETNS_PROBLEM:-$(hosts_list)}"
    for i in "${NODES[@]}"; do
        if pid="$(node_pid "$i")"; then
            if node_answers "$i"; then
                local -A st=()
                local name value
                while read -r name value; do st[$name]="$value"; done < <(node_sql "$i" -N -B -e \
                    "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment','wsrep_cluster_size','wsrep_cluster_status','wsrep_ready','wsrep_last_committed')" 2>/dev/null)
                printf '  node %s  pid %-8s %-8s cluster_size=%s cluster_status=%s ready=%s last_committed=%s\n' "$i" "$pid" \
                    "${st[wsrep_local_state_comment]:-?}" "${st[wsrep_cluster_size]:-?}" "${st[wsrep_cluster_status]:-?}" \
                    "${st[wsrep_ready]:-?}" "${st[wsrep_last_committed]:-?}"
                [[ "${st[wsrep_local_state_comment]:-}" == Synced ]] || ok=0
            else
                printf '  node %s  pid %-8s not answering (starting, or in a state transfer)\n' "$i" "$pid"; ok=0
            fi
        else
            printf '  node %s  stopped' "$i"
            has_state "$i" && printf '  (grastate: seqno %s, safe_to_bootstrap %s)' "$(grastate "$i" seqno)" "$(grastate "$i" safe_to_bootstrap)"
            printf '\n'
            ok=0
        fi
    done
    (( ok )) || exit 3
}

cmd_kill() {
    local i="$1" pid
    pid="$(node_pid "$i")" || die "node $i is not running"
    log "node $i: SIGKILL (pid $pid)"
    kill -KILL "$pid"
    wait_gone "$pid" 10 || die "node $i (pid $pid) still there 10 s after SIGKILL"
    rm -f "$(node_pidfile "$i")"
}

cmd_start() {
    local i="$1" pid
    if pid="$(node_pid "$i")"; then
        log "node $i running (pid $pid)"
        wait_synced "$i"
        return 0
    fi
    [[ -n "$(primary_node)" ]] || die "no running node is Synced in a primary component to join; start the cluster with: scripts/cluster.sh up"
    join "$i"
}

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF" >&2
    exit 2
}

main() {
    local verb="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$verb" in
        up) set_paths; need_addresses; cmd_up ;;
        down) set_paths; cmd_down ;;
        status) set_paths; cmd_status ;;
        kill) check_node "${1:-}"; set_paths; cmd_kill "$1" ;;
        stop) check_node "${1:-}"; set_paths; stop_node "$1" ;;
        start) check_node "${1:-}"; set_paths; need_addresses; cmd_start "$1" ;;
        hosts) set_paths; need_addresses; hosts_list; printf '\n' ;;
        sql) check_node "${1:-}"; set_paths; node_sql "$@" ;;
        *) usage ;;
    esac
}

main "$@"

#!/usr/bin/env bash
# make bench-cluster: Stockroom's order throughput on the Galera cluster's writer node against a single
# plain MariaDB server over TCP, measured in the same run, interleaved; the figures are ratios
# cluster / single (issue 11's goal: cluster >= 0.8 x single).
#
# 1. Two databases, each fresh, under $BENCH_CLUSTER_DIR (<repo>/.run/bench-cluster):
#      galera/   the 3-node cluster of scripts/cluster.sh (STACK_DIR=galera, SQL ports 3321-3323,
#                gcomm 4601-, IST 4611-, SST 4621-)
#      single/   one plain mariadbd (no wsrep) on 127.0.0.1:3331, whose my.cnf is node 1's my.cnf
#                with the wsrep lines (and the [sst] section) taken out: same buffer pool,
#                max_connections, binlog_format, autoinc lock mode, flush settings (defaults on both)
#    and the database and user `stockroom` as cluster.sh makes them. The report lists every global
#    variable whose value differs between node 1 and the single server.
# 2. Two app stacks (scripts/devstack.sh, external-database mode; 2 responders x 32 threads, 1 worker,
#    nginx on a free port each): app-single on 127.0.0.1:3331, app-cluster on `cluster.sh hosts`
#    (the responders write on the first node, node 1).
# 3. Seeds each through its API as scripts/bench.sh does: an admin, a buyer, 1000 products with stock
#    1000000000. Galera hands out ids in steps of 3 (auto_increment_increment), so each target's ids
#    are read back as first, last and step (PRODUCT_STEP for the wrk scripts).
# 4. BENCH_ROUNDS rounds of wrk -t1 -c32 through each stack's nginx, a warm-up then the measured run:
#      POST /api/v1/orders spread (bench/order-spread.lua), one product (bench/order-hot.lua), and
#      GET /api/v1/products/{id} (bench/product-get.lua), each on single and cluster one right after
#    the other (odd rounds single first, even rounds cluster first). Next to each run: CPU time per
#    request by process (from /proc), the responders' mean order lock hold/wait and time per order
#    (/metrics), and for the cluster Galera's counters on each node (flow control, queues, cert).
# 5. wsrep_sync_wait: sysbench's point select (bench/sysbench-point-select.lua, 32 threads) on node 1
#    with --sync-wait=0 and --sync-wait=1, and on the single server (nothing set), interleaved, rounds.
# 6. BENCH_CLUSTER_EXTRAS=1: extra rounds, reported apart and labelled, with one setting of the
#    cluster's nodes changed at runtime (SET GLOBAL on the 3 nodes, set back afterwards), spread and hot
#    orders against the unchanged single server, interleaved as above:
#      threads8  wsrep_slave_threads = 8 (the dev cluster runs 2): more appliers on nodes 2 and 3
#      flush2    innodb_flush_log_at_trx_commit = 2 on the nodes: WEAKER DURABILITY than production
#                (sql/mariadb-production.cnf: 1); what that setting would give, not a result
# 7. Prints the table and writes bench/results/YYYY-MM-DD-<commit>-cluster.md.
# 8. Stops everything it started (trap EXIT): both app stacks, the single server, the cluster
#    (cluster.sh down); BENCH_KEEP_STACK=1 leaves them running, and `scripts/bench-cluster.sh down`
#    stops them. The data stays in $BENCH_CLUSTER_DIR until the next run deletes it and starts afresh.
#
# Environment: BENCH_DURATION (10 s per measured run), BENCH_WARMUP (2 s), BENCH_ROUNDS (4; even, so
# that each target runs first as often as the other), BENCH_CONNECTIONS (32; also the sysbench
# threads), BENCH_PRODUCTS (1000), BENCH_KEEP_STACK (0), BENCH_CLUSTER_EXTRAS (0), BENCH_CLUSTER_DIR,
# BENCH_CLUSTER_BASE_PORT (3321; gcomm, IST and SST from BENCH_GCOMM_BASE_PORT 4601,
# BENCH_IST_BASE_PORT 4611, BENCH_SST_BASE_PORT 4621), BENCH_SINGLE_PORT (3331).
# STOCKROOM_PROCESSES / STOCKROOM_THREADS pass through to devstack.sh (2 x 32).
# The report's text holds Markdown backticks in single-quoted printf formats:
# shellcheck disable=SC2016
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DEVSTACK="$REPO/scripts/devstack.sh"
CLUSTER="$REPO/scripts/cluster.sh"
BENCH="$REPO/bench"
RESULTS="$BENCH/results"

DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-2}"
ROUNDS="${BENCH_ROUNDS:-4}"
CONNS="${BENCH_CONNECTIONS:-32}"
NPRODUCTS="${BENCH_PRODUCTS:-1000}"
KEEP_STACK="${BENCH_KEEP_STACK:-0}"
EXTRAS="${BENCH_CLUSTER_EXTRAS:-0}"
ROOT="${BENCH_CLUSTER_DIR:-$REPO/.run/bench-cluster}"
CL_BASE_PORT="${BENCH_CLUSTER_BASE_PORT:-3321}"
CL_GCOMM_PORT="${BENCH_GCOMM_BASE_PORT:-4601}"
CL_IST_PORT="${BENCH_IST_BASE_PORT:-4611}"
CL_SST_PORT="${BENCH_SST_BASE_PORT:-4621}"
SINGLE_PORT="${BENCH_SINGLE_PORT:-3331}"
STOCK=1000000000

export STOCKROOM_PROCESSES="${STOCKROOM_PROCESSES:-2}" STOCKROOM_THREADS="${STOCKROOM_THREADS:-32}" STOCKROOM_WORKERS=1
# Production behaviour, as in scripts/bench.sh: no test-only hooks, the default log level and worker settings.
unset STOCKROOM_TEST_HOOKS STOCKROOM_LOCK_WAIT_TIMEOUT STOCKROOM_PROCESS_DELAY STOCKROOM_WORKER_BATCH \
      STOCKROOM_WORKER_POLL_INTERVAL LOG_LEVEL STOCKROOM_DB_HOSTS

DB_NAME=stockroom DB_USER=stockroom DB_PASSWORD=stockroom-dev
ADMIN_USER=bench_admin ADMIN_PASSWORD=bench-admin-secret-1
BUYER_USER=bench_buyer BUYER_PASSWORD=bench-buyer-secret-1
PRODUCT_PREFIX="bench-product-"
TARGETS=(single cluster)

START_SECONDS=$SECONDS
log() { printf 'bench-cluster: %s\n' "$*" >&2; }
die() { printf 'bench-cluster: error: %s\n' "$*" >&2; exit 1; }

for v in DURATION WARMUP ROUNDS CONNS NPRODUCTS CL_BASE_PORT CL_GCOMM_PORT CL_IST_PORT CL_SST_PORT SINGLE_PORT; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
[[ "$EXTRAS" =~ ^[01]$ ]] || die "BENCH_CLUSTER_EXTRAS must be 0 or 1 (got '$EXTRAS')"
(( ROUNDS >= 1 && DURATION >= 1 && NPRODUCTS >= 2 )) || die "BENCH_ROUNDS, BENCH_DURATION must be 1 or more, BENCH_PRODUCTS 2 or more"

# ---------------------------------------------------------------------------- tools, ports

declare -A TOOL_PACKAGE=([wrk]=wrk [sysbench]=sysbench [cgi-fcgi]=libfcgi-bin [curl]=curl [mariadb]=mariadb-client
                         [nginx]=nginx [mariadbd]=mariadb-server [mariabackup]=mariadb-backup [ss]=iproute2)

# shellcheck source=lib/packages.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib/packages.sh"

ensure_tools() {
    local tool
    local -a missing=()
    for tool in wrk sysbench cgi-fcgi curl mariadb nginx mariadbd mariabackup ss; do
        command -v "$tool" >/dev/null || missing+=("${TOOL_PACKAGE[$tool]}")
    done
    [[ -e /usr/lib/galera/libgalera_smm.so ]] || missing+=(galera-4)
    install_missing_packages "${missing[@]}"
}

port_in_use() { [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]; }

declare -A TAKEN_PORTS=()
free_port() {
    local p tries=0
    while (( tries++ < 200 )); do
        p=$(( 20000 + RANDOM % 30000 ))
        [[ -n "${TAKEN_PORTS[$p]:-}" ]] && continue
        port_in_use "$p" || { TAKEN_PORTS[$p]=1; printf '%s' "$p"; return 0; }
    done
    die "no free TCP port found"
}

# The fixed ports of the two databases must be free (checked after our own leftovers are stopped).
check_db_ports() {
    local p i
    local -a busy=()
    for i in 0 1 2; do
        for p in $((CL_BASE_PORT + i)) $((CL_GCOMM_PORT + i)) $((CL_IST_PORT + i)) $((CL_SST_PORT + i)); do
            port_in_use "$p" && busy+=("$p")
            TAKEN_PORTS[$p]=1
        done
    done
    port_in_use "$SINGLE_PORT" && busy+=("$SINGLE_PORT")
    TAKEN_PORTS[$SINGLE_PORT]=1
    (( ${#busy[@]} == 0 )) || die "ports in use by someone else: ${busy[*]} (set BENCH_CLUSTER_BASE_PORT, BENCH_GCOMM_BASE_PORT, BENCH_IST_BASE_PORT, BENCH_SST_BASE_PORT, BENCH_SINGLE_PORT)"
}

# shellcheck source=lib/processes.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib/processes.sh"
# Run as `flock /tmp/stockroom-bench.lock make bench-cluster`: the daemons started below must not keep the lock.
close_inherited_fds
# shellcheck source=lib/cpu-time.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib/cpu-time.sh"

# ---------------------------------------------------------------------------- the databases

GALERA_DIR="$ROOT/galera"
SINGLE_DIR="$ROOT/single"
cluster() {
    STACK_DIR="$GALERA_DIR" BASE_PORT="$CL_BASE_PORT" GCOMM_BASE_PORT="$CL_GCOMM_PORT" IST_BASE_PORT="$CL_IST_PORT" \
        SST_BASE_PORT="$CL_SST_PORT" bash "$CLUSTER" "$@"
}
node_sock() { printf '%s' "$GALERA_DIR/cluster/node$1/mysqld.sock"; }
node_pid() { read_pid "$GALERA_DIR/cluster/node$1/mysqld.pid"; }
# root_sql WHERE ARGS...: the mariadb client as root on the single server (single) or node N (1..3).
root_sql() {
    local where="$1" sock
    shift
    if [[ "$where" == single ]]; then sock="$SINGLE_DIR/mysqld.sock"; else sock="$(node_sock "$where")"; fi
    mariadb --no-defaults -S "$sock" -uroot -N -B "$@"
}

single_pid() {
    local pid
    pid="$(read_pid "$SINGLE_DIR/mysqld.pid")"
    alive "$pid" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == mariadbd ]] \
        && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--defaults-file=$SINGLE_DIR/my.cnf" || return 1
    printf '%s' "$pid"
}

stop_single() {
    local pid deadline
    pid="$(single_pid)" || return 0
    log "stopping the single MariaDB (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 90))
    while alive "$pid" && (( SECONDS < deadline )); do sleep 0.2; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$SINGLE_DIR/mysqld.pid"
}

# The single server's my.cnf: node 1's, without the wsrep_* lines and the [sst] section, with the
# single server's own paths and port. REMOVED_LINES: what was taken out (for the report).
write_single_cnf() {
    local src="$GALERA_DIR/cluster/node1/my.cnf"
    [[ -r "$src" ]] || die "$src not found (the cluster writes it when it starts node 1)"
    mkdir -p "$SINGLE_DIR/tmp"
    awk -v dir="$SINGLE_DIR" -v port="$SINGLE_PORT" '
        /^\[/ { section = $0 }
        section == "[sst]" { next }
        /^wsrep_/ { next }
        /^# Node 1 / { print "# The single plain MariaDB of scripts/bench-cluster.sh: node 1'\''s my.cnf of the bench cluster without its wsrep lines"; next }
        /^datadir=/ { print "datadir=" dir "/data"; next }
        /^socket=/ { print "socket=" dir "/mysqld.sock"; next }
        /^pid-file=/ { print "pid-file=" dir "/mysqld.pid"; next }
        /^log-error=/ { print "log-error=" dir "/mysqld.log"; next }
        /^tmpdir=/ { print "tmpdir=" dir "/tmp"; next }
        /^port=/ { print "port=" port; next }
        { print }' "$src" >"$SINGLE_DIR/my.cnf"
    REMOVED_LINES="$(awk '/^\[/ { s = $0 } s == "[sst]" || /^wsrep_/ { print }' "$src" \
        | sed -E 's/(wsrep_sst_auth=)[^ ]*/\1…/')"
    # What else differs in the files besides the paths and the port (expected: nothing).
    CNF_OTHER_DIFF="$(diff <(grep -vE '^(wsrep_|datadir=|socket=|pid-file=|log-error=|tmpdir=|port=|#|\[sst\]|sst-log-archive-dir=)' "$src") \
                           <(grep -vE '^(datadir=|socket=|pid-file=|log-error=|tmpdir=|port=|#)' "$SINGLE_DIR/my.cnf") || true)"
}

start_single() {
    write_single_cnf
    local data="$SINGLE_DIR/data" logf="$SINGLE_DIR/mysqld.log" pid deadline
    local -a as_root=()
    (( EUID == 0 )) && as_root=(--user=root)
    log "single MariaDB: initialising $data"
    mariadb-install-db --no-defaults --datadir="$data" "${as_root[@]}" \
        --auth-root-authentication-method=normal --skip-test-db >>"$logf" 2>&1 \
        || { tail -n 30 "$logf" >&2; die "mariadb-install-db failed (log: $logf)"; }
    log "single MariaDB: starting on 127.0.0.1:$SINGLE_PORT ($SINGLE_DIR/my.cnf)"
    setsid nohup mariadbd --defaults-file="$SINGLE_DIR/my.cnf" </dev/null >>"$logf" 2>&1 &
    pid=$!
    disown "$pid" 2>/dev/null || true
    printf '%s\n' "$pid" >"$SINGLE_DIR/mysqld.pid"
    deadline=$((SECONDS + 90))
    until root_sql single -e 'select 1' >/dev/null 2>&1; do
        alive "$pid" || { tail -n 30 "$logf" >&2; die "the single MariaDB exited during startup (log: $logf)"; }
        (( SECONDS < deadline )) || { tail -n 30 "$logf" >&2; die "the single MariaDB did not answer within 90 s"; }
        sleep 0.2
    done
    # As scripts/cluster.sh's ensure_database does on the cluster.
    root_sql single <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'%';
SQL
}

# Global variables whose values differ between node 1 and the single server, paths, ports and
# server_uid aside; the wsrep_* ones are counted, not listed.
variable_diff() {
    local a b
    a="$(root_sql 1 -e 'SHOW GLOBAL VARIABLES')"
    b="$(root_sql single -e 'SHOW GLOBAL VARIABLES')"
    VAR_DIFF="$(awk -F'\t' -v g="$GALERA_DIR" -v s="$SINGLE_DIR" -v p1="$CL_BASE_PORT" -v p2="$SINGLE_PORT" '
        NR == FNR { c[$1] = $2; next }
        { sv[$1] = $2 }
        END {
            for (k in c) {
                if (k ~ /^wsrep_/) { if (c[k] != "" && c[k] != "OFF") nw++; continue }
                if (c[k] == sv[k] || k == "server_uid") continue
                if (index(c[k], g) || index(sv[k], s)) continue
                if (c[k] == p1 && sv[k] == p2) continue
                printf "%s\t%s\t%s\n", k, c[k], (k in sv ? sv[k] : "(absent)")
            }
            for (k in sv) if (!(k in c)) printf "%s\t(absent)\t%s\n", k, sv[k]
            printf "#wsrep\t%d\n", nw
        }' <(printf '%s\n' "$a") <(printf '%s\n' "$b") | sort)"
}

# ---------------------------------------------------------------------------- app stacks

declare -A APP_DIR=([single]="$ROOT/app-single" [cluster]="$ROOT/app-cluster")
declare -A URLS=() HOSTS=() DBPORT=() TOKEN=() FIRST=() LAST=() STEP=()

app() { local t="$1"; shift; STACK_DIR="${APP_DIR[$t]}" bash "$DEVSTACK" "$@"; }

app_up() {
    local t="$1" port
    port="$(free_port)"
    URLS[$t]="http://127.0.0.1:$port"
    log "app stack $t: ${APP_DIR[$t]} on ${URLS[$t]}, database ${HOSTS[$t]}"
    APP_STARTED[$t]=1
    STACK_DIR="${APP_DIR[$t]}" PORT="$port" STOCKROOM_DB_HOSTS="${HOSTS[$t]}" bash "$DEVSTACK" up >/dev/null
}

# ---------------------------------------------------------------------------- cleanup

declare -A APP_STARTED=()
CLUSTER_STARTED=""

teardown() {
    local t
    for t in "${TARGETS[@]}"; do
        if [[ -n "${APP_STARTED[$t]:-}" || -r "${APP_DIR[$t]}/env" ]]; then
            app "$t" down >/dev/null 2>&1 || app "$t" down || true
        fi
    done
    stop_single
    if [[ -n "$CLUSTER_STARTED" || -d "$GALERA_DIR/cluster" ]]; then cluster down 2>/dev/null || cluster down || true; fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ "$KEEP_STACK" == 1 ]]; then
        log "BENCH_KEEP_STACK=1: left running: single ${URLS[single]:-} (MariaDB 127.0.0.1:$SINGLE_PORT), cluster ${URLS[cluster]:-} (${HOSTS[cluster]:-}); stop them with scripts/bench-cluster.sh down (the next run does too)"
    else
        log "stopping the app stacks, the single MariaDB and the cluster"
        teardown
    fi
    rm -f "$RESULTS"/*-cluster-$$.tmp
    log "run time $((SECONDS - START_SECONDS)) s"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------- HTTP, seeding

# api URL METHOD PATH [BODY] [TOKEN]: prints "STATUS BODY".
api() {
    local url="$1" method="$2" path="$3" body="${4:-}" token="${5:-}" out
    local -a args=(-sS -X "$method" --max-time 30 -o - -w ' %{http_code}')
    [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
    out="$(curl "${args[@]}" "$url$path")" || die "$method $url$path failed"
    printf '%s %s' "${out##* }" "${out% *}"
}

login() {
    local out
    out="$(api "$1" POST /api/v1/auth/login "{\"username\":\"$2\",\"password\":\"$3\"}")"
    [[ "$out" == 200\ * ]] || die "login as $2 on $1 failed: $out"
    sed -E 's/.*"token":"([^"]+)".*/\1/' <<<"${out#* }"
}

# app_sql TARGET ARGS...: the mariadb client as the app's user, over TCP, on the target's writer.
app_sql() {
    local t="$1"
    shift
    mariadb --no-defaults -h 127.0.0.1 -P "${DBPORT[$t]}" -u"$DB_USER" -p"$DB_PASSWORD" -N -B "$DB_NAME" "$@"
}

# seed TARGET: as scripts/bench.sh's seed(): an admin, a buyer, NPRODUCTS products; then the ids.
seed() {
    local t="$1" url="${URLS[$1]}" admin out cfg i codes bad
    log "seeding $t through the API (admin, buyer, $NPRODUCTS products with stock $STOCK)"
    printf '%s\n' "$ADMIN_PASSWORD" | app "$t" admin "$ADMIN_USER" >/dev/null
    admin="$(login "$url" "$ADMIN_USER" "$ADMIN_PASSWORD")"
    out="$(api "$url" POST /api/v1/auth/register "{\"username\":\"$BUYER_USER\",\"password\":\"$BUYER_PASSWORD\"}")"
    [[ "$out" == 201\ * ]] || die "register $BUYER_USER on $t: $out"
    TOKEN[$t]="$(login "$url" "$BUYER_USER" "$BUYER_PASSWORD")"
    cfg="$RESULTS/seed-$t-cluster-$$.tmp"
    : >"$cfg"
    for ((i = 1; i <= NPRODUCTS; i++)); do
        printf 'url = "%s/api/v1/products"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata = "{\\"name\\":\\"%s%04d\\",\\"price\\":%d.%02d,\\"stock\\":%d}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
            "$url" "$admin" "$PRODUCT_PREFIX" "$i" $(( 1 + i % 97 )) $(( i % 100 )) "$STOCK" >>"$cfg"
        (( i < NPRODUCTS )) && printf 'next\n' >>"$cfg"
    done
    codes="$(curl -sS --no-progress-meter --parallel --parallel-max 8 -K "$cfg")" || die "creating products on $t failed"
    rm -f "$cfg"
    bad="$(grep -cv '^201$' <<<"$codes" || true)"
    (( bad == 0 )) || die "creating products on $t: $bad answers other than 201: $(sort <<<"$codes" | uniq -c | tr '\n' ' ')"
    # The ids: one arithmetic progression (step 1 on the single server, the cluster size on Galera).
    local ids
    ids="$(app_sql "$t" -e "SELECT id FROM products WHERE name LIKE '$PRODUCT_PREFIX%' AND deleted_at IS NULL ORDER BY id")"
    read -r "FIRST[$t]" "STEP[$t]" "LAST[$t]" < <(awk 'NR == 1 { f = $1 } NR == 2 { s = $1 - f }
        NR > 1 && $1 - p != s { bad = 1 } { p = $1; n++ }
        END { if (bad || n < 2) print "x x x"; else print f, s, p }' <<<"$ids")
    [[ "${STEP[$t]}" =~ ^[1-9][0-9]*$ ]] || die "the bench products on $t are not evenly spaced ids: $(head -c 200 <<<"$ids" | tr '\n' ' ')"
    log "$t: products ${FIRST[$t]}..${LAST[$t]} step ${STEP[$t]}"
}

# ---------------------------------------------------------------------------- measuring: processes

# Process groups of a target, as "group pid pid ..." lines.
proc_groups() {
    local t="$1" i pid d
    if [[ "$t" == single ]]; then printf 'mariadbd %s\n' "$(single_pid || true)"
    else for i in 1 2 3; do printf 'node%s %s\n' "$i" "$(node_pid "$i")"; done; fi
    local dir="${APP_DIR[$t]}" list=""
    for d in "$dir"/fcgi-*.pid; do [[ -e "$d" ]] && list+=" $(read_pid "$d")"; done
    printf 'responders%s\n' "$list"
    pid="$(read_pid "$dir/nginx.pid")"
    list="$pid"
    if alive "$pid"; then list+=" $(ps -o pid= --ppid "$pid" | tr '\n' ' ')"; fi
    printf 'nginx %s\n' "$list"
    list=""
    for d in "$dir"/worker-[0-9]*.pid; do [[ -e "$d" ]] && list+=" $(read_pid "$d")"; done
    printf 'worker%s\n' "$list"
}

# cpu_snapshot TARGET: "group=ticks ..." (utime + stime of each group's processes, in clock ticks),
# fs_SERVER=InnoDB fsyncs of each server, machine=busy ticks of all CPUs (from /proc/stat) and
# wall=microseconds.
cpu_snapshot() {
    local t="$1" group out
    out="$(group_cpu_ticks < <(proc_groups "$t")) "
    # InnoDB's fsyncs (redo log and data files) of each server.
    if [[ "$t" == single ]]; then out+="fs_mariadbd=$(root_sql single -e "SHOW GLOBAL STATUS LIKE 'Innodb_data_fsyncs'" | cut -f2) "
    else for group in 1 2 3; do out+="fs_node$group=$(root_sql "$group" -e "SHOW GLOBAL STATUS LIKE 'Innodb_data_fsyncs'" | cut -f2) "; done; fi
    out+="machine=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat) wall=${EPOCHREALTIME/[.,]/}"
    printf '%s' "$out"
}

# cpu_delta BEFORE AFTER REQUESTS: "group=ms-per-request ... fs_SERVER=fsyncs-per-request ...
# machine_cores=busy-cores"
cpu_delta() {
    awk -v b="$1" -v a="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        split(b, x, " "); split(a, y, " ")
        for (i in x) { split(x[i], kv, "="); B[kv[1]] = kv[2] }
        for (i in y) { split(y[i], kv, "="); A[kv[1]] = kv[2] }
        secs = (A["wall"] - B["wall"]) / 1e6
        out = ""
        for (k in A) if (k ~ /^fs_/) out = out sprintf("%s=%.2f ", k, n > 0 ? (A[k] - B[k]) / n : 0)
        else if (k != "wall" && k != "machine")
            out = out sprintf("%s=%.3f ", k, n > 0 ? (A[k] - B[k]) / hz * 1000 / n : 0)
        printf "%smachine_cores=%.2f", out, (A["machine"] - B["machine"]) / hz / secs }'
}

# ---------------------------------------------------------------------------- measuring: /metrics

metrics_of() {
    env -i PATH="$PATH" SCRIPT_NAME=/metrics REQUEST_URI=/metrics DOCUMENT_URI=/metrics REQUEST_METHOD=GET \
        QUERY_STRING= SERVER_PROTOCOL=HTTP/1.1 REMOTE_ADDR=127.0.0.1 SERVER_NAME=localhost \
        timeout 15 cgi-fcgi -bind -connect "$1" </dev/null 2>/dev/null || true
}

# metrics_snapshot TARGET: "hold_sum hold_count wait_sum wait_count route_sum route_count" over the
# responders (order lock hold/wait, and the responder's time for POST /api/v1/orders).
metrics_snapshot() {
    local s
    for s in "${APP_DIR[$1]}"/fcgi-*.sock; do [[ -S "$s" ]] && metrics_of "$s"; done | awk '
        $1 == "stockroom_order_lock_hold_seconds_sum" { hs += $2 }
        $1 == "stockroom_order_lock_hold_seconds_count" { hc += $2 }
        $1 == "stockroom_order_lock_wait_seconds_sum" { ws += $2 }
        $1 == "stockroom_order_lock_wait_seconds_count" { wc += $2 }
        index($1, "stockroom_http_request_duration_seconds_sum{") == 1 && index($1, "route=\"/api/v1/orders\"") { rs += $2 }
        index($1, "stockroom_http_request_duration_seconds_count{") == 1 && index($1, "route=\"/api/v1/orders\"") { rc += $2 }
        END { printf "%.9f %d %.9f %d %.9f %d\n", hs, hc, ws, wc, rs, rc }'
}

# metrics_delta BEFORE AFTER: "hold_ms wait_ms route_ms" per order.
metrics_delta() {
    awk -v b="$1" -v a="$2" 'BEGIN { split(b, x, " "); split(a, y, " ")
        f = "%.3f"
        printf "%s %s %s", (y[2] > x[2] ? sprintf(f, (y[1] - x[1]) / (y[2] - x[2]) * 1000) : "n/a"),
                           (y[4] > x[4] ? sprintf(f, (y[3] - x[3]) / (y[4] - x[4]) * 1000) : "n/a"),
                           (y[6] > x[6] ? sprintf(f, (y[5] - x[5]) / (y[6] - x[6]) * 1000) : "n/a") }'
}

# ---------------------------------------------------------------------------- measuring: Galera

WSREP_VARS="'wsrep_replicated','wsrep_replicated_bytes','wsrep_received','wsrep_flow_control_paused_ns','wsrep_flow_control_sent','wsrep_flow_control_recv','wsrep_local_send_queue_avg','wsrep_local_send_queue_max','wsrep_local_recv_queue_avg','wsrep_local_recv_queue_max','wsrep_cert_deps_distance','wsrep_apply_window','wsrep_commit_window','wsrep_local_cert_failures','wsrep_local_bf_aborts','wsrep_causal_reads'"

# wsrep_reset: FLUSH LOCAL STATUS on every node, so the averages (queues, windows, paused) cover
# the run that follows.
wsrep_reset() { local i; for i in 1 2 3; do root_sql "$i" -e 'FLUSH LOCAL STATUS' >/dev/null; done; }

# wsrep_snapshot: "nodeN.name=value ..." for the variables above.
wsrep_snapshot() {
    local i
    for i in 1 2 3; do
        root_sql "$i" -e "SHOW GLOBAL STATUS WHERE Variable_name IN ($WSREP_VARS)" | awk -v n="node$i" '{ printf "%s.%s=%s ", n, $1, $2 }'
    done
}

# wsrep_delta BEFORE AFTER SECONDS REQUESTS: the figures the report shows for one cluster run.
wsrep_delta() {
    awk -v b="$1" -v a="$2" -v secs="$3" -v n="$4" 'BEGIN {
        split(b, x, " "); split(a, y, " ")
        for (i in x) { split(x[i], kv, "="); B[kv[1]] = kv[2] }
        for (i in y) { split(y[i], kv, "="); A[kv[1]] = kv[2] }
        d = "node1.wsrep_"
        repl = A[d "replicated"] - B[d "replicated"]
        printf "repl_per_req=%.2f bytes_per_ws=%.0f fc_paused=%.3f fc_sent=%d fc_recv=%d ",
            (n > 0 ? repl / n : 0), (repl > 0 ? (A[d "replicated_bytes"] - B[d "replicated_bytes"]) / repl : 0),
            (A[d "flow_control_paused_ns"] - B[d "flow_control_paused_ns"]) / 1e9 / secs,
            A["node2.wsrep_flow_control_sent"] - B["node2.wsrep_flow_control_sent"] + A["node3.wsrep_flow_control_sent"] - B["node3.wsrep_flow_control_sent"] + A[d "flow_control_sent"] - B[d "flow_control_sent"],
            A[d "flow_control_recv"] - B[d "flow_control_recv"]
        printf "send_q_avg=%s send_q_max=%s recv_q_avg_2_3=%s/%s recv_q_max_2_3=%s/%s cert_deps=%s apply_win_2_3=%s/%s commit_win=%s ",
            A[d "local_send_queue_avg"], A[d "local_send_queue_max"],
            A["node2.wsrep_local_recv_queue_avg"], A["node3.wsrep_local_recv_queue_avg"],
            A["node2.wsrep_local_recv_queue_max"], A["node3.wsrep_local_recv_queue_max"],
            A[d "cert_deps_distance"], A["node2.wsrep_apply_window"], A["node3.wsrep_apply_window"], A[d "commit_window"]
        printf "cert_fail=%d bf_aborts=%d causal_per_req=%.2f",
            A[d "local_cert_failures"] - B[d "local_cert_failures"], A[d "local_bf_aborts"] - B[d "local_bf_aborts"],
            (n > 0 ? (A[d "causal_reads"] - B[d "causal_reads"]) / n : 0) }'
}

# ---------------------------------------------------------------------------- measuring: wrk

# CPU and LOCKS are read through namerefs (median_field, median_word).
declare -A RPS=() P99=() NON2XX=() SOCKERR=() CPU=() LOCKS=() WSREP=()

parse_bench() {
    local key="$1" file="$2" line kv k v
    line="$(grep -m1 '^BENCH ' "$file")" || { cat "$file" >&2; die "wrk printed no BENCH line for $key"; }
    for kv in ${line#BENCH }; do
        k="${kv%%=*}" v="${kv#*=}"
        case "$k" in
            rps) RPS[$key]="$v" ;; p99_ms) P99[$key]="$v" ;;
            non2xx) NON2XX[$key]="$v" ;; socket_errors) SOCKERR[$key]="$v" ;;
        esac
    done
}

declare -A CASE_SCRIPT=([spread]=order-spread.lua [hot]=order-hot.lua [get]=product-get.lua)
declare -A CASE_PATH=([spread]=/api/v1/orders [hot]=/api/v1/orders [get]=/api/v1/products/1)

# measure CASE TARGET ROUND: a warm-up, then the measured run, with the figures around it. CASE is
# spread, hot or get, or VARIANT-spread / VARIANT-hot for the extra runs.
measure() {
    local c="$1" t="$2" r="$3" key="$1/$2/$3" out="$RESULTS/wrk-$1-$2-cluster-$$.tmp" base="${1##*-}"
    local script="$BENCH/${CASE_SCRIPT[$base]}" url="${URLS[$t]}${CASE_PATH[$base]}"
    local -a envs=(STOCKROOM_TOKEN="${TOKEN[$t]}" PRODUCT_FIRST="${FIRST[$t]}" PRODUCT_LAST="${LAST[$t]}" PRODUCT_STEP="${STEP[$t]}")
    log "round $r: $c on $t (${WARMUP} s warm-up, ${DURATION} s measured)"
    if [[ "$WARMUP" != 0 ]]; then env "${envs[@]}" wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$script" "$url" >/dev/null 2>&1 || true; fi
    local cpu_b met_b ws_b="" t0
    [[ "$t" == cluster ]] && wsrep_reset
    [[ "$t" == cluster ]] && ws_b="$(wsrep_snapshot)"
    met_b="$(metrics_snapshot "$t")"
    cpu_b="$(cpu_snapshot "$t")"
    t0="${EPOCHREALTIME/[.,]/}"
    env "${envs[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$script" "$url" >"$out" 2>&1 \
        || { cat "$out" >&2; die "wrk $key failed"; }
    local cpu_a secs requests
    cpu_a="$(cpu_snapshot "$t")"
    secs="$(awk -v a="${EPOCHREALTIME/[.,]/}" -v b="$t0" 'BEGIN { printf "%.3f", (a - b) / 1e6 }')"
    parse_bench "$key" "$out"
    requests="$(sed -nE 's/^BENCH requests=([0-9]+).*/\1/p' "$out")"
    rm -f "$out"
    # shellcheck disable=SC2034 # CPU and LOCKS are read through namerefs
    CPU[$key]="$(cpu_delta "$cpu_b" "$cpu_a" "$requests")"
    # shellcheck disable=SC2034
    [[ "$base" != get ]] && LOCKS[$key]="$(metrics_delta "$met_b" "$(metrics_snapshot "$t")")"
    [[ "$t" == cluster ]] && WSREP[$key]="$(wsrep_delta "$ws_b" "$(wsrep_snapshot)" "$secs" "$requests")"
    log "  $(printf '%.0f' "${RPS[$key]}") req/s, p99 ${P99[$key]} ms, non-2xx ${NON2XX[$key]}, socket errors ${SOCKERR[$key]}"
}

# ---------------------------------------------------------------------------- measuring: sysbench

declare -A SB_TPS=() SB_P99=() SB_CPU=()

# sysbench_point ARM ROUND: ARM is cluster-sw0, cluster-sw1 (node 1) or single (nothing set).
sysbench_point() {
    local arm="$1" r="$2" t port out="$RESULTS/sysbench-$1-cluster-$$.tmp"
    local -a extra=()
    case "$arm" in
        cluster-sw0) t=cluster extra=(--sync-wait=0) ;;
        cluster-sw1) t=cluster extra=(--sync-wait=1) ;;
        single) t=single ;;
    esac
    port="${DBPORT[$t]}"
    local -a args=(sysbench-point-select.lua --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port"
        --mysql-user="$DB_USER" --mysql-password="$DB_PASSWORD" --mysql-db="$DB_NAME" --threads="$CONNS" --percentile=99
        --product-first="${FIRST[$t]}" --product-last="${LAST[$t]}" --product-step="${STEP[$t]}" "${extra[@]}")
    log "round $r: sysbench point select, $arm (${WARMUP} s warm-up, ${DURATION} s measured)"
    if [[ "$WARMUP" != 0 ]]; then
        (cd "$BENCH" && sysbench "${args[@]}" --time="$WARMUP" run) >"$out" 2>&1 || { cat "$out" >&2; die "sysbench $arm (warm-up) failed"; }
    fi
    local cpu_b events
    cpu_b="$(cpu_snapshot "$t")"
    (cd "$BENCH" && sysbench "${args[@]}" --time="$DURATION" run) >"$out" 2>&1 || { cat "$out" >&2; die "sysbench $arm failed"; }
    events="$(sed -nE 's/^[[:space:]]*transactions:[[:space:]]+([0-9]+)[[:space:]]+\(.*/\1/p' "$out")"
    SB_CPU[sb/$arm/$r]="$(cpu_delta "$cpu_b" "$(cpu_snapshot "$t")" "${events:-0}")"
    SB_TPS[sb/$arm/$r]="$(sed -nE 's/^[[:space:]]*transactions:[[:space:]]+[0-9]+[[:space:]]+\(([0-9.]+) per sec\.\).*/\1/p' "$out")"
    SB_P99[sb/$arm/$r]="$(sed -nE 's/^[[:space:]]*99th percentile:[[:space:]]+([0-9.]+).*/\1/p' "$out")"
    [[ -n "${SB_TPS[sb/$arm/$r]}" ]] || { cat "$out" >&2; die "no transactions/s in the sysbench output for $arm"; }
    local errors
    errors="$(sed -nE 's/^[[:space:]]*ignored errors:[[:space:]]+([0-9]+).*/\1/p' "$out")"
    [[ "${errors:-0}" == 0 ]] || die "sysbench $arm: $errors errors"
    rm -f "$out"
    log "  $(printf '%.0f' "${SB_TPS[sb/$arm/$r]}") selects/s, p99 ${SB_P99[sb/$arm/$r]} ms, server CPU per select: $(tr ' ' '\n' <<<"${SB_CPU[sb/$arm/$r]}" | grep -E '^(mariadbd|node[123])=' | paste -sd ' ' -) ms"
}

# ---------------------------------------------------------------------------- figures

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# values ARRAY-NAME CASE TARGET: the per-round values of one case on one target.
values() {
    local -n arr="$1"
    local r out=""
    for ((r = 1; r <= ROUNDS; r++)); do out+="${arr[$2/$3/$r]:-} "; done
    printf '%s' "$out"
}
sum_of() { tr ' ' '\n' | awk '{ s += $1 } END { print s + 0 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "n/a" }'; }
fmt0() { awk -v a="$1" 'BEGIN { printf "%.0f", a }'; }
# two "A/B": both with one decimal, as "A / B".
two() { local x="$1"; printf '%s / %s' "$(fmtn 1 "${x%%/*}")" "$(fmtn 1 "${x#*/}")"; }
# fmtn DIGITS VALUE: a number with DIGITS decimals (anything else as it is).
fmtn() { if [[ "$2" =~ ^-?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]]; then awk -v d="$1" -v a="$2" 'BEGIN { printf "%.*f", d, a }'; else printf '%s' "$2"; fi; }
# paired ARRAY CASE-A TARGET-A CASE-B TARGET-B: the per-round ratios A / B (each pair ran back to back),
# as "median|r1, r2, ...".
paired() {
    local -n arr5="$1"
    local r list="" vals="" q
    for ((r = 1; r <= ROUNDS; r++)); do
        q="$(ratio "${arr5[$2/$3/$r]:-0}" "${arr5[$4/$5/$r]:-0}")"
        vals+="$q "
        list+="${list:+, }$(fmtn 2 "$q")"
    done
    printf '%s|%s' "$(fmtn 3 "$(median <<<"$vals")")" "$list"
}
# field "k=v k=v" KEY
field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
# median_field ARRAY CASE TARGET KEY: the median over the rounds of one k=v field.
median_field() {
    local -n arr2="$1"
    local r out=""
    for ((r = 1; r <= ROUNDS; r++)); do out+="$(field "${arr2[$2/$3/$r]:-}" "$4") "; done
    median <<<"$out"
}
# median_sum ARRAY CASE TARGET KEY...: the median over the rounds of the sum of some k=v fields.
median_sum() {
    local -n arr4="$1"
    local c="$2" t="$3" r k out="" sum
    shift 3
    for ((r = 1; r <= ROUNDS; r++)); do
        sum=0
        for k in "$@"; do sum="$(awk -v a="$sum" -v b="$(field "${arr4[$c/$t/$r]:-}" "$k")" 'BEGIN { print a + b }')"; done
        out+="$sum "
    done
    median <<<"$out"
}
# median_word ARRAY CASE TARGET N: the median of the N-th word.
median_word() {
    local -n arr3="$1"
    local r out="" w
    for ((r = 1; r <= ROUNDS; r++)); do
        w="$(awk -v n="$4" '{ print $n }' <<<"${arr3[$2/$3/$r]:-}")"
        [[ "$w" =~ ^[0-9.]+$ ]] && out+="$w "
    done
    median <<<"$out"
}

# ---------------------------------------------------------------------------- main

case "${1:-}" in
    "") ;;
    down) KEEP_STACK=0; log "stopping what a run left in $ROOT"; exit 0 ;;  # the EXIT trap stops it
    *) die "usage: scripts/bench-cluster.sh [down]" ;;
esac

cd "$REPO"
mkdir -p "$RESULTS"
ensure_tools
[[ -x "$REPO/.build/release/stockroom-fcgi" && -x "$REPO/.build/release/stockroomctl" && -x "$REPO/.build/release/stockroom-worker" ]] \
    || die "no release build in $REPO/.build/release: run make build (or swift build -c release) first"

# A fresh start: whatever an earlier run left (BENCH_KEEP_STACK=1, an interrupted run) is stopped and deleted.
if [[ -d "$ROOT" ]]; then
    log "stopping and deleting what an earlier run left in $ROOT"
    teardown >/dev/null 2>&1 || teardown
    rm -rf "$ROOT"
fi
mkdir -p "$ROOT"
check_db_ports

log "the cluster: $GALERA_DIR (SQL 127.0.0.1:$CL_BASE_PORT-$((CL_BASE_PORT + 2)))"
CLUSTER_STARTED=1
cluster up
HOSTS[cluster]="$(cluster hosts)"
DBPORT[cluster]="$CL_BASE_PORT"
start_single
HOSTS[single]="127.0.0.1:$SINGLE_PORT"
DBPORT[single]="$SINGLE_PORT"

for t in "${TARGETS[@]}"; do app_up "$t"; done
for t in "${TARGETS[@]}"; do seed "$t"; done
variable_diff

DATE="$(date -u +%Y-%m-%d)"
COMMIT="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ "$COMMIT" != unknown && -n "$(git -C "$REPO" status --porcelain -- . ':(exclude)bench/results' 2>/dev/null)" ]]; then
    COMMIT="$COMMIT-dirty"
fi
MARIADB_VERSION="$(root_sql single -e 'SELECT VERSION()')"
GALERA_VERSION="$(root_sql 1 -e "SHOW GLOBAL STATUS LIKE 'wsrep_provider_version'" | awk '{ print $2 }')"
declare -A SETTING=()
for w in single 1; do
    SETTING[$w]="$(root_sql "$w" -e "SELECT CONCAT_WS(' ', CONCAT('innodb_flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit),
        CONCAT('sync_binlog=', @@sync_binlog), CONCAT('log_bin=', IF(@@log_bin, 'ON', 'OFF')), CONCAT('binlog_format=', @@binlog_format),
        CONCAT('innodb_buffer_pool_size=', @@innodb_buffer_pool_size DIV 1048576, 'M'), CONCAT('max_connections=', @@max_connections),
        CONCAT('innodb_autoinc_lock_mode=', @@innodb_autoinc_lock_mode), CONCAT('innodb_doublewrite=', @@innodb_doublewrite),
        CONCAT('innodb_flush_method=', @@innodb_flush_method), CONCAT('auto_increment_increment=', @@auto_increment_increment))")"
done
WSREP_SETTINGS="$(root_sql 1 -e "SELECT CONCAT_WS(' ', CONCAT('wsrep_slave_threads=', @@wsrep_slave_threads),
    CONCAT('wsrep_sync_wait=', @@GLOBAL.wsrep_sync_wait, ' (global; the responders set 1 per session)'))")"
WSREP_PROVIDER_OPTS="$(root_sql 1 -e 'SELECT @@wsrep_provider_options' | tr ';' '\n' \
    | sed -nE 's/^ *(gcache\.size|gcs\.fc_limit|gcs\.fc_factor|evs\.send_window|evs\.user_send_window|repl\.commit_order|gcs\.max_packet_size) = (.*)$/\1=\2/p' | paste -sd ' ' -)"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

# The wrk rounds: single and cluster one right after the other, the order swapped every round.
for ((r = 1; r <= ROUNDS; r++)); do
    if (( r % 2 )); then pair=(single cluster); else pair=(cluster single); fi
    for c in spread hot get; do
        for t in "${pair[@]}"; do measure "$c" "$t" "$r"; done
    done
done

# wsrep_sync_wait: sysbench's point select on node 1 with 0 and 1, and on the single server.
for ((r = 1; r <= ROUNDS; r++)); do
    if (( r % 2 )); then arms=(cluster-sw0 cluster-sw1 single); else arms=(single cluster-sw1 cluster-sw0); fi
    for a in "${arms[@]}"; do sysbench_point "$a" "$r"; done
done

# Extras (BENCH_CLUSTER_EXTRAS=1): one setting of the cluster's nodes changed at runtime, then set back.
declare -A VARIANT_SET=([threads8]="SET GLOBAL wsrep_slave_threads = 8" [flush2]="SET GLOBAL innodb_flush_log_at_trx_commit = 2")
declare -A VARIANT_LABEL=([threads8]="\`wsrep_slave_threads = 8\` on the 3 nodes (instead of 2)"
    [flush2]="\`innodb_flush_log_at_trx_commit = 2\` on the 3 nodes (instead of 1): **weaker durability than production**")
VARIANTS=()
if [[ "$EXTRAS" == 1 ]]; then
    VARIANTS=(threads8 flush2)
    read -r BASE_THREADS BASE_FLUSH < <(root_sql 1 -e 'SELECT @@wsrep_slave_threads, @@innodb_flush_log_at_trx_commit')
    for v in "${VARIANTS[@]}"; do
        log "extra: ${VARIANT_SET[$v]} on the 3 nodes"
        for i in 1 2 3; do root_sql "$i" -e "${VARIANT_SET[$v]}"; done
        sleep 1
        for ((r = 1; r <= ROUNDS; r++)); do
            if (( r % 2 )); then pair=(single cluster); else pair=(cluster single); fi
            for c in spread hot; do
                for t in "${pair[@]}"; do measure "$v-$c" "$t" "$r"; done
            done
        done
        for i in 1 2 3; do
            root_sql "$i" -e "SET GLOBAL wsrep_slave_threads = $BASE_THREADS; SET GLOBAL innodb_flush_log_at_trx_commit = $BASE_FLUSH"
        done
    done
fi
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------- report

NAME="$DATE-$COMMIT-cluster"
MD="$RESULTS/$NAME.md"
declare -A LABEL=([spread]="POST /api/v1/orders, spread over $NPRODUCTS products" [hot]="POST /api/v1/orders, one product"
                  [get]="GET /api/v1/products/{id}")
declare -A MED=()
BAD=0
for c in spread hot get; do
    for t in "${TARGETS[@]}"; do
        MED[$c/$t]="$(values RPS "$c" "$t" | median)"
        MED[p99/$c/$t]="$(values P99 "$c" "$t" | median)"
        MED[non2xx/$c/$t]="$(values NON2XX "$c" "$t" | sum_of)"
        MED[sockerr/$c/$t]="$(values SOCKERR "$c" "$t" | sum_of)"
        (( ${MED[non2xx/$c/$t]} + ${MED[sockerr/$c/$t]} == 0 )) || BAD=1
    done
done
goal() { awk -v r="$1" 'BEGIN { print (r != "n/a" && r >= 0.8) ? "PASS" : "FAIL" }'; }
for c in spread hot get; do
    pr="$(paired RPS "$c" cluster "$c" single)"
    MED[ratio/$c]="${pr%%|*}" MED[ratios/$c]="${pr#*|}"
done

TABLE="$(
    printf '| case | single req/s | cluster req/s | cluster / single (median of the rounds'"'"' ratios) | each round | goal ≥ 0.8 | p99 ms single / cluster | non-2xx single / cluster (socket errors) |\n'
    printf '|---|---:|---:|---:|---|---|---:|---|\n'
    for c in spread hot get; do
        rt="${MED[ratio/$c]}"
        g="$(goal "$rt")"; [[ "$c" == get ]] && g="(read path, no goal)"
        printf '| %s | %s | %s | **%s** | %s | %s | %s / %s | %s / %s (%s / %s) |\n' "${LABEL[$c]}" "$(fmt0 "${MED[$c/single]}")" \
            "$(fmt0 "${MED[$c/cluster]}")" "$rt" "${MED[ratios/$c]}" "$g" "$(fmtn 1 "${MED[p99/$c/single]}")" "$(fmtn 1 "${MED[p99/$c/cluster]}")" \
            "${MED[non2xx/$c/single]}" "${MED[non2xx/$c/cluster]}" "${MED[sockerr/$c/single]}" "${MED[sockerr/$c/cluster]}"
    done
)"

ROUNDS_TABLE="$(
    printf '| round | case | single req/s | cluster req/s | cluster / single | p99 ms single / cluster | non-2xx single / cluster |\n'
    printf '|---:|---|---:|---:|---:|---:|---|\n'
    for ((r = 1; r <= ROUNDS; r++)); do
        for c in spread hot get; do
            printf '| %s | %s | %s | %s | %s | %.1f / %.1f | %s / %s |\n' "$r" "$c" "$(fmt0 "${RPS[$c/single/$r]}")" "$(fmt0 "${RPS[$c/cluster/$r]}")" \
                "$(ratio "${RPS[$c/cluster/$r]}" "${RPS[$c/single/$r]}")" "${P99[$c/single/$r]}" "${P99[$c/cluster/$r]}" \
                "${NON2XX[$c/single/$r]}" "${NON2XX[$c/cluster/$r]}"
        done
    done
)"

# Where the time goes: CPU ms per request by process (medians over the rounds), locks, Galera.
PROFILE_TABLE="$(
    printf '| case | target | mariadbd (node 1 / 2 / 3) | responders | nginx | worker | machine busy (cores of 2) | InnoDB fsyncs per request (node 1 / 2 / 3) | lock hold / wait ms | responder ms per order |\n'
    printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
    for c in spread hot get; do
        for t in "${TARGETS[@]}"; do
            if [[ "$t" == single ]]; then
                db="$(fmtn 3 "$(median_field CPU "$c" "$t" mariadbd)")" fs="$(fmtn 2 "$(median_field CPU "$c" "$t" fs_mariadbd)")"
            else
                db="$(fmtn 3 "$(median_field CPU "$c" "$t" node1)") / $(fmtn 3 "$(median_field CPU "$c" "$t" node2)") / $(fmtn 3 "$(median_field CPU "$c" "$t" node3)")"
                fs="$(fmtn 2 "$(median_field CPU "$c" "$t" fs_node1)") / $(fmtn 2 "$(median_field CPU "$c" "$t" fs_node2)") / $(fmtn 2 "$(median_field CPU "$c" "$t" fs_node3)")"
            fi
            lk="–" rm_="–"
            if [[ "$c" != get ]]; then
                lk="$(fmtn 2 "$(median_word LOCKS "$c" "$t" 1)") / $(fmtn 2 "$(median_word LOCKS "$c" "$t" 2)")"
                rm_="$(fmtn 2 "$(median_word LOCKS "$c" "$t" 3)")"
            fi
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$c" "$t" "$db" "$(fmtn 3 "$(median_field CPU "$c" "$t" responders)")" \
                "$(fmtn 3 "$(median_field CPU "$c" "$t" nginx)")" "$(fmtn 3 "$(median_field CPU "$c" "$t" worker)")" "$(fmtn 2 "$(median_field CPU "$c" "$t" machine_cores)")" "$fs" "$lk" "$rm_"
        done
    done
)"

# A model, not a measurement: on a machine whose cores are all busy, throughput goes as 1 / (CPU per
# request of everything on it), so the ratio of the CPU per request bounds the throughput ratio.
CPU_MODEL="$(
    printf '| case | CPU ms per request, all of the stack: single / cluster | single / cluster (the throughput ratio if CPU were all that limits it) | the same without nodes 2 and 3 (as if they had hosts of their own) | measured cluster / single |\n'
    printf '|---|---:|---:|---:|---:|\n'
    for c in spread hot get; do
        cs="$(median_sum CPU "$c" single mariadbd responders nginx worker)"
        cc="$(median_sum CPU "$c" cluster node1 node2 node3 responders nginx worker)"
        c1="$(median_sum CPU "$c" cluster node1 responders nginx worker)"
        printf '| %s | %.3f / %.3f | %s | %s | %s |\n' "$c" "$cs" "$cc" "$(ratio "$cs" "$cc")" "$(ratio "$cs" "$c1")" "${MED[ratio/$c]}"
    done
)"

WSREP_TABLE="$(
    printf '| round | case | write sets per request | bytes per write set | flow control paused (fraction of the run) | FC messages sent (all nodes) / received (node 1) | send queue avg / max (node 1) | recv queue avg node 2 / 3 | cert deps distance | apply window node 2 / 3 | commit window | cert failures / BF aborts | causal waits per request |\n'
    printf '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
    for ((r = 1; r <= ROUNDS; r++)); do
        for c in spread hot get; do
            w="${WSREP[$c/cluster/$r]}"
            printf '| %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s | %s | %s | %s / %s | %s |\n' "$r" "$c" \
                "$(field "$w" repl_per_req)" "$(field "$w" bytes_per_ws)" "$(fmtn 2 "$(field "$w" fc_paused)")" "$(field "$w" fc_sent)" "$(field "$w" fc_recv)" \
                "$(fmtn 1 "$(field "$w" send_q_avg)")" "$(field "$w" send_q_max)" "$(two "$(field "$w" recv_q_avg_2_3)")" "$(fmtn 1 "$(field "$w" cert_deps)")" \
                "$(two "$(field "$w" apply_win_2_3)")" "$(fmtn 2 "$(field "$w" commit_win)")" "$(field "$w" cert_fail)" "$(field "$w" bf_aborts)" "$(field "$w" causal_per_req)"
        done
    done
)"

declare -A SBM=()
declare -A SB_LABEL=([cluster-sw0]='node 1, `wsrep_sync_wait = 0`' [cluster-sw1]='node 1, `wsrep_sync_wait = 1` (what the responders set)'
                     [single]='single server (nothing set)')
for a in cluster-sw0 cluster-sw1 single; do
    SBM[$a]="$(values SB_TPS sb "$a" | median)" SBM[p99/$a]="$(values SB_P99 sb "$a" | median)"
    SBM[all/$a]="$(values SB_TPS sb "$a" | awk '{ for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? ", " : ""), $i }')"
    if [[ "$a" == single ]]; then SBM[cpu/$a]="$(fmtn 1 "$(awk -v m="$(median_field SB_CPU sb "$a" mariadbd)" 'BEGIN { print m * 1000 }')")"
    else
        SBM[cpu/$a]=""
        for i in 1 2 3; do
            SBM[cpu/$a]+="${SBM[cpu/$a]:+ / }$(fmtn 1 "$(awk -v m="$(median_field SB_CPU sb "$a" "node$i")" 'BEGIN { print m * 1000 }')")"
        done
    fi
done
pr="$(paired SB_TPS sb cluster-sw1 sb cluster-sw0)"; SYNC_RATIO="${pr%%|*}" SYNC_RATIOS="${pr#*|}"
pr="$(paired SB_TPS sb cluster-sw0 sb single)"; SW0_SINGLE="${pr%%|*}"
pr="$(paired SB_TPS sb cluster-sw1 sb single)"; SW1_SINGLE="${pr%%|*}"
SYNC_TABLE="$(
    printf '| arm | selects/s (median) | each round | p99 ms (median) | server CPU µs per select (node 1 / 2 / 3) |\n|---|---:|---|---:|---:|\n'
    for a in cluster-sw0 cluster-sw1 single; do
        printf '| %s | %s | %s | %s | %s |\n' "${SB_LABEL[$a]}" "$(fmt0 "${SBM[$a]}")" "${SBM[all/$a]}" "$(fmtn 1 "${SBM[p99/$a]}")" "${SBM[cpu/$a]}"
    done
)"

EXTRA_TABLE=""
for v in "${VARIANTS[@]}"; do
    for c in spread hot; do
        for t in "${TARGETS[@]}"; do
            (( $(values NON2XX "$v-$c" "$t" | sum_of) + $(values SOCKERR "$v-$c" "$t" | sum_of) == 0 )) || BAD=1
        done
    done
done
if (( ${#VARIANTS[@]} )); then
    EXTRA_TABLE="$(
        printf '| setting on the nodes | case | single req/s | cluster req/s | cluster / single (median of the rounds'"'"' ratios) | each round | cluster p99 ms | non-2xx single / cluster (socket errors) | flow control paused | InnoDB fsyncs per order node 1 / 2 / 3 | cluster lock hold / wait ms | CPU ms per order node 1 / 2 / 3 |\n'
        printf '|---|---|---:|---:|---:|---|---:|---|---:|---:|---:|---:|\n'
        for v in "${VARIANTS[@]}"; do
            for c in spread hot; do
                k="$v-$c"
                s1="$(values RPS "$k" single | median)" c1="$(values RPS "$k" cluster | median)"
                n1="$(values NON2XX "$k" single | sum_of)" n2="$(values NON2XX "$k" cluster | sum_of)"
                pr="$(paired RPS "$k" cluster "$k" single)"
                printf '| %s | %s | %s | %s | **%s** | %s | %s | %s / %s (%s / %s) | %s | %s / %s / %s | %s / %s | %s / %s / %s |\n' "${VARIANT_LABEL[$v]}" "$c" \
                    "$(fmt0 "$s1")" "$(fmt0 "$c1")" "${pr%%|*}" "${pr#*|}" "$(fmtn 1 "$(values P99 "$k" cluster | median)")" "$n1" "$n2" \
                    "$(values SOCKERR "$k" single | sum_of)" "$(values SOCKERR "$k" cluster | sum_of)" \
                    "$(fmtn 2 "$(median_field WSREP "$k" cluster fc_paused)")" \
                    "$(fmtn 2 "$(median_field CPU "$k" cluster fs_node1)")" "$(fmtn 2 "$(median_field CPU "$k" cluster fs_node2)")" "$(fmtn 2 "$(median_field CPU "$k" cluster fs_node3)")" \
                    "$(fmtn 2 "$(median_word LOCKS "$k" cluster 1)")" "$(fmtn 2 "$(median_word LOCKS "$k" cluster 2)")" \
                    "$(fmtn 3 "$(median_field CPU "$k" cluster node1)")" "$(fmtn 3 "$(median_field CPU "$k" cluster node2)")" "$(fmtn 3 "$(median_field CPU "$k" cluster node3)")"
            done
        done
    )"
fi

VAR_LINES="$(grep -v '^#wsrep' <<<"$VAR_DIFF" | awk -F'\t' 'NF { printf "| `%s` | %s | %s |\n", $1, $2, $3 }')"
NWSREP="$(awk -F'\t' '$1 == "#wsrep" { print $2 }' <<<"$VAR_DIFF")"

{
    printf '# make bench-cluster, %s, commit %s\n\n' "$DATE" "$COMMIT"
    printf 'Stockroom on the writer node (node 1) of a 3-node Galera cluster against a single plain MariaDB server, both over TCP on 127.0.0.1, measured in the same run, interleaved (issue 11; goal: cluster ≥ 0.8 × single). Only the ratios compare between runs.\n\n'
    printf -- '- Machine: %s cores (%s), %s; load average %s at the start of the measurements, %s at the end. wrk, nginx, the responders and every mariadbd (the single server and the 3 nodes) share the cores, and other work on this machine too.\n' \
        "$(nproc)" "$(sed -nE 's/^model name[[:space:]]*: (.*)/\1/p' /proc/cpuinfo | head -n1)" "$(uname -sr)" "$LOAD_START" "$LOAD_END"
    printf -- '- Databases: MariaDB %s; Galera %s. Each fresh at the start of the run.\n' "$MARIADB_VERSION" "$GALERA_VERSION"
    printf -- '  - single: one `mariadbd`, no wsrep, 127.0.0.1:%s: %s\n' "$SINGLE_PORT" "${SETTING[single]}"
    printf -- '  - cluster: 3 nodes on 127.0.0.1:%s-%s (scripts/cluster.sh), the app on node 1 (its first usable node): %s; %s; provider options %s\n' \
        "$CL_BASE_PORT" "$((CL_BASE_PORT + 2))" "${SETTING[1]}" "$WSREP_SETTINGS" "$WSREP_PROVIDER_OPTS"
    printf -- '- Stacks: one per database (scripts/devstack.sh, external-database mode), each %s responders x %s threads, 1 stockroom-worker, nginx; seeded through the API with %s products (stock %s each; ids single %s..%s step %s, cluster %s..%s step %s), an admin and a buyer.\n' \
        "$STOCKROOM_PROCESSES" "$STOCKROOM_THREADS" "$NPRODUCTS" "$STOCK" "${FIRST[single]}" "${LAST[single]}" "${STEP[single]}" \
        "${FIRST[cluster]}" "${LAST[cluster]}" "${STEP[cluster]}"
    printf -- '- Load: wrk -t1 -c%s through each stack'"'"'s nginx, a %s s warm-up then %s s measured per run; %s rounds, each running every case on single and cluster one right after the other (odd rounds single first, even rounds cluster first). Figures are medians over the rounds; a ratio is the median of the rounds'"'"' own ratios (each round'"'"'s pair ran back to back, so drift between rounds cancels).\n' \
        "$CONNS" "$WARMUP" "$DURATION" "$ROUNDS"
    printf -- '- Run time: %s s from the start of scripts/bench-cluster.sh to this report.\n\n' "$((SECONDS - START_SECONDS))"
    printf '## Orders and reads through the app\n\n%s\n\n' "$TABLE"
    if (( BAD )); then printf '**Some requests failed (non-2xx or socket errors above): the figures of those cases are not valid.**\n\n'; fi
    printf 'Each round:\n\n%s\n\n' "$ROUNDS_TABLE"
    printf '## Where the time goes\n\n'
    printf 'CPU time per request in ms, by process (utime + stime from /proc over the measured run, divided by its requests; medians over the rounds). On the cluster nodes 2 and 3 apply every write set, on the same 2 cores. "Machine busy" is all CPU time of the machine over the run, in cores (of %s), other tenants included. Lock hold / wait and the responder'"'"'s time per order are from the responders'"'"' /metrics (`stockroom_order_lock_hold_seconds`, `stockroom_order_lock_wait_seconds`, `stockroom_http_request_duration_seconds` of /api/v1/orders).\n\n' "$(nproc)"
    printf '%s\n\n' "$PROFILE_TABLE"
    printf 'The same CPU figures as a model (an estimate, not a measurement): when every core is busy, requests/s go as 1 / (CPU time per request of all that runs), so single / cluster CPU per request is what the throughput ratio would be if CPU were the only limit. Without nodes 2 and 3: what it would be if they ran elsewhere, as in a deployment (their flow control would still apply).\n\n%s\n\n' "$CPU_MODEL"
    printf 'Galera on the cluster runs (status counters, `FLUSH LOCAL STATUS` on every node just before each measured run, so the averages cover that run):\n\n%s\n\n' "$WSREP_TABLE"
    printf '## The cost of `wsrep_sync_wait = 1`\n\n'
    printf 'Every responder connection to a Galera node runs `SET SESSION wsrep_sync_wait = 1` (Sources/MariaDB/MariaDBConnection.swift, checkClusterState): each SELECT, SHOW and START TRANSACTION first waits until the node has applied everything the cluster committed before it. sysbench'"'"'s point select (bench/sysbench-point-select.lua, the responder'"'"'s GET product SELECT as a prepared statement, %s threads, over TCP), on node 1 with `--sync-wait=0` and `--sync-wait=1`, and on the single server; %s s warm-up then %s s, %s interleaved rounds.\n\n' \
        "$CONNS" "$WARMUP" "$DURATION" "$ROUNDS"
    printf '%s\n\n' "$SYNC_TABLE"
    printf -- '- `wsrep_sync_wait = 1` / `= 0` on node 1, selects/s: **%s** (median of the rounds'"'"' ratios: %s); server CPU per select: %s µs against %s µs on node 1. Node 1 with 0 / the single server: %s; node 1 with 1 / the single server: %s.\n' \
        "$SYNC_RATIO" "$SYNC_RATIOS" "${SBM[cpu/cluster-sw1]%% *}" "${SBM[cpu/cluster-sw0]%% *}" "$SW0_SINGLE" "$SW1_SINGLE"
    printf -- '- Through the app (above): GET /api/v1/products/{id}, cluster / single: **%s** (%s / %s req/s); mariadbd CPU per GET %s ms on node 1 against %s ms on the single server.\n\n' \
        "${MED[ratio/get]}" "$(fmt0 "${MED[get/cluster]}")" "$(fmt0 "${MED[get/single]}")" \
        "$(fmtn 3 "$(median_field CPU get cluster node1)")" "$(fmtn 3 "$(median_field CPU get single mariadbd)")"
    if [[ -n "$EXTRA_TABLE" ]]; then
        printf '## Extra, not the result: one setting of the cluster changed (BENCH_CLUSTER_EXTRAS=1)\n\n'
        printf 'After the runs above: each setting set at runtime on the 3 nodes (`SET GLOBAL`), then %s rounds of spread and hot orders on the cluster and on the unchanged single server, interleaved as above (medians), then set back. The single server keeps its settings throughout. These show what a setting would give; they are not the comparison of the two servers as configured.\n\n' "$ROUNDS"
        printf '%s\n\n' "$EXTRA_TABLE"
    fi
    printf '## What differs between the two servers\n\n'
    printf 'The single server'"'"'s my.cnf is node 1'"'"'s (written by scripts/cluster.sh) with its own paths and port, and without these lines:\n\n```\n%s\n```\n\n' "$REMOVED_LINES"
    if [[ -n "$CNF_OTHER_DIFF" ]]; then printf 'Other differences between the two files (unexpected):\n\n```\n%s\n```\n\n' "$CNF_OTHER_DIFF"; fi
    printf 'Global variables whose values differ (`SHOW GLOBAL VARIABLES` on node 1 and on the single server; paths, ports and `server_uid` left out, and the %s wsrep_* variables node 1 sets):\n\n' "$NWSREP"
    printf '| variable | node 1 | single |\n|---|---|---|\n%s\n\n' "${VAR_LINES:-| (none) | | |}"
    printf 'Besides: the cluster'"'"'s app connections set `wsrep_sync_wait = 1`; the cluster'"'"'s nodes 2 and 3 run on the same cores as node 1 (a real deployment gives each node its own host), and every commit on node 1 waits for its write set to be ordered by the group (a round over loopback here, over the network in a deployment).\n'
} >"$MD"

printf '\n'
cat "$MD"
printf '\nbench-cluster: wrote %s\n' "${MD#"$REPO"/}"
(( BAD == 0 )) || die "some requests failed (non-2xx or socket errors): see the table"

#!/usr/bin/env bash
# make bench: Stockroom through nginx against ceilings measured in the same run.
#
# 1. Tools: wrk, sysbench, gnuplot (gnuplot-nox) and cgi-fcgi (libfcgi-bin), installed with apt-get
#    when run as root, else the apt-get line is printed and the bench stops.
# 2. Its own dev stack (scripts/devstack.sh up) in .run/bench-stack on a free port, so a `make run`
#    stack is never touched; production settings (no test hooks, default log level, one worker).
# 3. Seeds through the API: an admin (devstack.sh admin), 1000 products with stock 1000000000, a
#    buyer, a dedicated user for the sysbench orders, one customer per connection for the checkout
#    case and a promo code without limits (percent, made afresh by the admin on every run).
# 4. wrk -t1 -c32, a warm-up then the measured run, for each case, each next to its ceiling:
#      GET /health/live                          nginx `return 200` with a product-sized JSON body
#      GET /api/v1/products/{random id}          sysbench point select (the responder's SELECT); then
#                                                the same at GET product's rate, for MariaDB's CPU only
#      GET /api/v1/products?limit=20             GET product of this run
#      GET /api/v1/products/{random id} with If-None-Match: its current ETag (all 304s)
#                                                GET product of this run (no target: the ratio)
#      POST /api/v1/orders, 1000 products        sysbench order transaction, spread (32 threads)
#      POST /api/v1/orders, one product          sysbench order transaction, one hot row
#    plus the mean order lock hold/wait from the responders' /metrics; then the checkout case,
#      POST /api/v1/cart/checkout, cart of 3 lines with a promo code   (no ceiling: compared with
#                                                                        the order cases above)
#    wrk -tN -cN, one customer per connection cycling 3 x POST /api/v1/cart/items, PUT
#    /api/v1/cart/promo-code, POST /api/v1/cart/checkout: checkouts/s (201s over the measured time)
#    as a ratio to the direct orders/s, the server time per checkout and per order, and the mean
#    checkout lock hold/wait; then a soak of mixed reads and orders with each responder's RSS
#    before and after, and the DB connections in use.
#    Around every measured run (wrk and sysbench): the CPU time (utime + stime from /proc) of nginx
#    (master and workers), the responders, the order worker and mariadbd, per request (per event
#    for sysbench), and the issue-13 CPU targets checked from it.
# 5. Prints the table and writes bench/results/YYYY-MM-DD-<commit>.md and .png.
# 6. Stops the bench stack (BENCH_KEEP_STACK=1 keeps it running).
#
# Environment: BENCH_DURATION (5 s per measured case), BENCH_WARMUP (1 s per case), BENCH_SOAK
# (60 s), BENCH_CONNECTIONS (32; also the sysbench threads), BENCH_PORT (a free port),
# BENCH_STACK_DIR (<repo>/.run/bench-stack), BENCH_KEEP_STACK (0), BENCH_FRESH (1: delete the
# bench stack's data first), BENCH_PRODUCTS (1000). STOCKROOM_PROCESSES / STOCKROOM_THREADS pass
# through to devstack.sh (defaults 2 x 32). The wrk and sysbench scripts are in bench/.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DEVSTACK="$REPO/scripts/devstack.sh"
BENCH="$REPO/bench"
RESULTS="$BENCH/results"

DURATION="${BENCH_DURATION:-5}"
WARMUP="${BENCH_WARMUP:-1}"
SOAK="${BENCH_SOAK:-60}"
CONNS="${BENCH_CONNECTIONS:-32}"
NPRODUCTS="${BENCH_PRODUCTS:-1000}"
KEEP_STACK="${BENCH_KEEP_STACK:-0}"
STOCK=1000000000

# Never the STACK_DIR/PORT of `make run` (the Makefile exports both): the bench has its own.
export STACK_DIR="${BENCH_STACK_DIR:-$REPO/.run/bench-stack}"
export STOCKROOM_WORKERS=1
# Production behaviour: no test-only hooks, the default log level and worker settings.
unset STOCKROOM_TEST_HOOKS STOCKROOM_LOCK_WAIT_TIMEOUT STOCKROOM_PROCESS_DELAY STOCKROOM_WORKER_BATCH \
      STOCKROOM_WORKER_POLL_INTERVAL LOG_LEVEL

ADMIN_USER=bench_admin ADMIN_PASSWORD=bench-admin-secret-1
BUYER_USER=bench_buyer BUYER_PASSWORD=bench-buyer-secret-1
SYSBENCH_USER=bench_sysbench SYSBENCH_PASSWORD=bench-sysbench-secret-1
CHECKOUT_USER_PREFIX=bench_cart_ CHECKOUT_PASSWORD=bench-cart-secret-1
PRODUCT_PREFIX="bench-product-"

START_SECONDS=$SECONDS
log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------- tools

declare -A TOOL_PACKAGE=([wrk]=wrk [sysbench]=sysbench [gnuplot]=gnuplot-nox [cgi-fcgi]=libfcgi-bin
                         [curl]=curl [mariadb]=mariadb-client [nginx]=nginx)

# shellcheck source=lib/packages.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib/packages.sh"

ensure_tools() {
    local tool
    local -a missing=()
    for tool in wrk sysbench gnuplot cgi-fcgi curl mariadb nginx; do
        command -v "$tool" >/dev/null || missing+=("${TOOL_PACKAGE[$tool]}")
    done
    install_missing_packages "${missing[@]}"
}

# ---------------------------------------------------------------------------- ports, cleanup

port_in_use() {
    local p="$1"
    if command -v ss >/dev/null; then
        [[ -n "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
    fi
}

free_port() {
    local p tries=0
    while (( tries++ < 200 )); do
        p=$(( 20000 + RANDOM % 30000 ))
        [[ "$p" == "${1:-}" ]] && continue
        port_in_use "$p" || { printf '%s' "$p"; return 0; }
    done
    die "no free TCP port found"
}

# shellcheck source=lib/processes.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib/processes.sh"
# Run as `flock /tmp/stockroom-bench.lock make bench`: the daemons started below must not keep the lock.
close_inherited_fds
# shellcheck source=lib/cpu-time.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib/cpu-time.sh"

CEILING_DIR=""
declare -a CHILD_PIDS=()

stop_ceiling_nginx() {
    [[ -n "$CEILING_DIR" && -r "$CEILING_DIR/nginx.pid" ]] || return 0
    local pid
    read -r pid <"$CEILING_DIR/nginx.pid" || return 0
    if alive "$pid" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == nginx ]] \
            && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-c $CEILING_DIR/nginx.conf"; then
        kill -QUIT "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + 10))
        while alive "$pid" && (( SECONDS < deadline )); do sleep 0.1; done
        alive "$pid" && kill -TERM "$pid" 2>/dev/null || true
    fi
    rm -f "$CEILING_DIR/nginx.pid"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${CHILD_PIDS[@]}"; do
        alive "$pid" && kill -TERM "$pid" 2>/dev/null || true
    done
    stop_ceiling_nginx
    if [[ "$KEEP_STACK" == 1 ]]; then
        log "BENCH_KEEP_STACK=1: the bench stack keeps running (${URL:-}; stop it with STACK_DIR=$STACK_DIR bash scripts/devstack.sh down)"
    elif [[ -n "${STACK_STARTED:-}" ]]; then
        log "stopping the bench stack"
        bash "$DEVSTACK" down >/dev/null 2>&1 || bash "$DEVSTACK" down || true
    fi
    rm -f "$RESULTS"/*.tmp
    log "run time $((SECONDS - START_SECONDS)) s"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------- stack, database

db_root() { mariadb --no-defaults -S "$STACK_DIR/mariadb/mysqld.sock" -uroot -N -B "$@"; }
db() { db_root stockroom "$@"; }

bring_up() {
    if [[ "${BENCH_FRESH:-0}" == 1 && -d "$STACK_DIR" ]]; then
        log "BENCH_FRESH=1: deleting the bench stack's data ($STACK_DIR)"
        bash "$DEVSTACK" down >/dev/null 2>&1 || true
        rm -rf "$STACK_DIR"
    fi
    mkdir -p "$STACK_DIR"
    # A bench stack left running (BENCH_KEEP_STACK=1) keeps its port; otherwise a free one.
    local port="" npid=""
    [[ -r "$STACK_DIR/bench.port" ]] && read -r port <"$STACK_DIR/bench.port"
    [[ -r "$STACK_DIR/nginx.pid" ]] && read -r npid <"$STACK_DIR/nginx.pid"
    if [[ -n "${BENCH_PORT:-}" ]]; then
        port="$BENCH_PORT"
    elif [[ -z "$port" ]] || ! alive "$npid" || [[ "$(cat "/proc/$npid/comm" 2>/dev/null)" != nginx ]]; then
        port="$(free_port)"
    fi
    export PORT="$port"
    printf '%s\n' "$PORT" >"$STACK_DIR/bench.port"
    URL="http://127.0.0.1:$PORT"
    log "bench stack in $STACK_DIR on $URL"
    STACK_STARTED=1
    bash "$DEVSTACK" up >/dev/null
    # shellcheck disable=SC1091
    . "$STACK_DIR/env"
    DB_SOCKET="$STOCKROOM_DB_SOCKET" DB_USER="$STOCKROOM_DB_USER" DB_PASSWORD="$STOCKROOM_DB_PASSWORD" DB_NAME="$STOCKROOM_DB_NAME"
}

# ---------------------------------------------------------------------------- HTTP helpers

# api METHOD PATH [BODY] [TOKEN]: prints "STATUS BODY" (status first, on one line with the body).
api() {
    local method="$1" path="$2" body="${3:-}" token="${4:-}"
    local -a args=(-sS -X "$method" --max-time 30 -o - -w ' %{http_code}')
    [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
    local out
    out="$(curl "${args[@]}" "$URL$path")" || die "$method $path failed"
    printf '%s %s' "${out##* }" "${out% *}"
}

login() {
    local out
    out="$(api POST /api/v1/auth/login "{\"username\":\"$1\",\"password\":\"$2\"}")"
    [[ "$out" == 200\ * ]] || die "login as $1 failed: $out"
    sed -E 's/.*"token":"([^"]+)".*/\1/' <<<"${out#* }"
}

# A customer account (created, or already there from an earlier run).
ensure_customer() {
    local out
    out="$(api POST /api/v1/auth/register "{\"username\":\"$1\",\"password\":\"$2\"}")"
    case "$out" in
        201\ * | 400\ *username_taken*) ;;
        *) die "register $1: $out" ;;
    esac
}

seed() {
    log "seeding through the API (admin, $NPRODUCTS products with stock $STOCK, buyer, sysbench user)"
    printf '%s\n' "$ADMIN_PASSWORD" | bash "$DEVSTACK" admin "$ADMIN_USER" >/dev/null
    ADMIN_TOKEN="$(login "$ADMIN_USER" "$ADMIN_PASSWORD")"
    ensure_customer "$BUYER_USER" "$BUYER_PASSWORD"
    BUYER_TOKEN="$(login "$BUYER_USER" "$BUYER_PASSWORD")"
    ensure_customer "$SYSBENCH_USER" "$SYSBENCH_PASSWORD"
    SYSBENCH_USER_ID="$(db -e "SELECT id FROM users WHERE username = '$SYSBENCH_USER'")"
    [[ "$SYSBENCH_USER_ID" =~ ^[0-9]+$ ]] || die "no users.id for $SYSBENCH_USER"

    local have
    have="$(db -e "SELECT COUNT(*) FROM products WHERE name LIKE '$PRODUCT_PREFIX%' AND deleted_at IS NULL")"
    if (( have < NPRODUCTS )); then
        local cfg="$RESULTS/seed-$$.tmp" i
        : >"$cfg"
        for ((i = have + 1; i <= NPRODUCTS; i++)); do
            printf 'url = "%s/api/v1/products"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata = "{\\"name\\":\\"%s%04d\\",\\"price\\":%d.%02d,\\"stock\\":%d}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
                "$URL" "$ADMIN_TOKEN" "$PRODUCT_PREFIX" "$i" $(( 1 + i % 97 )) $(( i % 100 )) "$STOCK" >>"$cfg"
            (( i < NPRODUCTS )) && printf 'next\n' >>"$cfg"
        done
        local codes bad
        codes="$(curl -sS --no-progress-meter --parallel --parallel-max 8 -K "$cfg")" || die "creating products failed"
        rm -f "$cfg"
        bad="$(grep -cv '^201$' <<<"$codes" || true)"
        (( bad == 0 )) || die "creating products: $bad answers other than 201: $(sort <<<"$codes" | uniq -c | tr '\n' ' ')"
        log "created $((NPRODUCTS - have)) products"
    fi
    # The bench products must be one run of ids (the wrk and sysbench scripts pick ids in a range).
    local range
    range="$(db -e "SELECT MIN(id), MAX(id), COUNT(*) FROM (SELECT id FROM products WHERE name LIKE '$PRODUCT_PREFIX%' AND deleted_at IS NULL ORDER BY id LIMIT $NPRODUCTS) p")"
    read -r PRODUCT_FIRST PRODUCT_LAST _ <<<"$range"
    local in_range low
    in_range="$(db -e "SELECT COUNT(*) FROM products WHERE id BETWEEN $PRODUCT_FIRST AND $PRODUCT_LAST AND name LIKE '$PRODUCT_PREFIX%' AND deleted_at IS NULL")"
    (( in_range == PRODUCT_LAST - PRODUCT_FIRST + 1 )) \
        || die "the bench products are not one run of ids ($PRODUCT_FIRST..$PRODUCT_LAST); start afresh with BENCH_FRESH=1"
    low="$(db -e "SELECT COUNT(*) FROM products WHERE id BETWEEN $PRODUCT_FIRST AND $PRODUCT_LAST AND stock < 10000000")"
    (( low == 0 )) || die "$low bench products have less than 10000000 in stock; start afresh with BENCH_FRESH=1"
    export STOCKROOM_TOKEN="$BUYER_TOKEN" PRODUCT_FIRST PRODUCT_LAST
    log "products $PRODUCT_FIRST..$PRODUCT_LAST, sysbench orders as users.id $SYSBENCH_USER_ID"
}

# The checkout case: one customer per wrk connection (bench_cart_001..), each with a fresh session,
# and a promo code without limits (10%, no minimum, no dates), new on every run: CHECKOUT_TOKENS
# (comma-separated) and PROMO_CODE.
seed_checkout() {
    log "seeding the checkout case: $CONNS customers (one per connection) and a promo code"
    local i name out tokens=""
    for ((i = 1; i <= CONNS; i++)); do
        name="$(printf '%s%03d' "$CHECKOUT_USER_PREFIX" "$i")"
        ensure_customer "$name" "$CHECKOUT_PASSWORD"
        tokens+="${tokens:+,}$(login "$name" "$CHECKOUT_PASSWORD")"
    done
    CHECKOUT_TOKENS="$tokens"
    PROMO_CODE="BENCH10-$(date -u +%s)"
    out="$(api POST /api/v1/promo-codes "{\"code\":\"$PROMO_CODE\",\"kind\":\"percent\",\"value\":10}" "$ADMIN_TOKEN")"
    [[ "$out" == 201\ * ]] || die "creating the promo code $PROMO_CODE: $out"
}

# ---------------------------------------------------------------------------- measuring

declare -A RPS=() P50=() P99=() NON2XX=() SOCKERR=() REQUESTS=()

# parse_bench NAME FILE: the BENCH line of a wrk run into the arrays.
parse_bench() {
    local name="$1" file="$2" line k v
    line="$(grep -m1 '^BENCH ' "$file")" || { cat "$file" >&2; die "wrk printed no BENCH line for $name"; }
    for kv in ${line#BENCH }; do
        k="${kv%%=*}" v="${kv#*=}"
        case "$k" in
            requests) REQUESTS[$name]="$v" ;; rps) RPS[$name]="$v" ;; p50_ms) P50[$name]="$v" ;; p99_ms) P99[$name]="$v" ;;
            non2xx) NON2XX[$name]="$v" ;; socket_errors) SOCKERR[$name]="$v" ;;
        esac
    done
}

# The bench stack's processes by group, "group pid ..." lines for group_cpu_ticks: nginx's master and
# workers (and the ceiling nginx's while it runs), the responders, the order worker(s), mariadbd.
proc_groups() {
    local f pid list=""
    for f in "$STACK_DIR/nginx.pid" ${CEILING_DIR:+"$CEILING_DIR/nginx.pid"}; do
        pid="$(read_pid "$f")"
        if alive "$pid"; then list+=" $pid $(ps -o pid= --ppid "$pid" | tr '\n' ' ')"; fi
    done
    printf 'nginx%s\n' "$list"
    list=""
    for f in "$STACK_DIR"/fcgi-*.pid; do [[ -e "$f" ]] && list+=" $(read_pid "$f")"; done
    printf 'responders%s\n' "$list"
    list=""
    for f in "$STACK_DIR"/worker-[0-9]*.pid; do [[ -e "$f" ]] && list+=" $(read_pid "$f")"; done
    printf 'worker%s\n' "$list"
    printf 'mariadb %s\n' "$(read_pid "$STACK_DIR/mariadb.pid")"
}

# CPU[NAME]: "nginx=µs responders=µs worker=µs mariadb=µs" per request (per event for sysbench) of
# a measured run; CPU_CASES in the order measured. The pids are read once, before the run.
declare -A CPU=() CPU_EVENTS=()
declare -a CPU_CASES=()
cpu_begin() { CPU_GROUPS="$(proc_groups)"; CPU_BEFORE="$(group_cpu_ticks <<<"$CPU_GROUPS")"; }
# cpu_end NAME EVENTS
cpu_end() {
    CPU[$1]="$(cpu_per_event "$CPU_BEFORE" "$(group_cpu_ticks <<<"$CPU_GROUPS")" "$2")"
    CPU_EVENTS[$1]="$2"
    CPU_CASES+=("$1")
    log "  CPU µs per request/event: ${CPU[$1]}"
}

# run_wrk NAME SCRIPT BASEURL PATH: warm-up, then the measured run (with the stack's CPU around it).
run_wrk() {
    local name="$1" script="$2" base="$3" path="$4" out="$RESULTS/wrk-$1-$$.tmp"
    log "wrk $name: ${WARMUP} s warm-up, ${DURATION} s measured ($path)"
    wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$script" "$base$path" >/dev/null 2>&1 || true
    cpu_begin
    wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$script" "$base$path" >"$out" 2>&1 \
        || { cat "$out" >&2; die "wrk $name failed"; }
    parse_bench "$name" "$out"
    rm -f "$out"
    cpu_end "$name" "${REQUESTS[$name]:-0}"
}

declare -A CEIL=() CEIL_P99=()

# run_sysbench NAME SCRIPT ARGS...: CEIL[NAME] = events per second over DURATION s (after WARMUP s).
run_sysbench() {
    local name="$1" script="$2" out="$RESULTS/sysbench-$1-$$.tmp"
    shift 2
    log "sysbench $name: ${WARMUP} s warm-up, ${DURATION} s measured"
    # sysbench 1.0.20 (Debian 12) has no --warmup-time: the warm-up is a run of its own.
    local -a args=("$script" --db-driver=mysql --mysql-socket="$DB_SOCKET" --mysql-user="$DB_USER"
        --mysql-password="$DB_PASSWORD" --mysql-db="$DB_NAME" --threads="$CONNS" --percentile=99
        --product-first="$PRODUCT_FIRST" --product-last="$PRODUCT_LAST" "$@")
    if [[ "$WARMUP" != 0 ]]; then
        (cd "$BENCH" && sysbench "${args[@]}" --time="$WARMUP" run) >"$out" 2>&1 \
            || { cat "$out" >&2; die "sysbench $name (warm-up) failed"; }
    fi
    cpu_begin
    (cd "$BENCH" && sysbench "${args[@]}" --time="$DURATION" run) >"$out" 2>&1 \
        || { cat "$out" >&2; die "sysbench $name failed"; }
    cpu_end "$name" "$(sed -nE 's/^[[:space:]]*transactions:[[:space:]]+([0-9]+)[[:space:]]+\(.*/\1/p' "$out")"
    local events errors
    events="$(sed -nE 's/^[[:space:]]*transactions:[[:space:]]+[0-9]+[[:space:]]+\(([0-9.]+) per sec\.\).*/\1/p' "$out")"
    errors="$(sed -nE 's/^[[:space:]]*ignored errors:[[:space:]]+([0-9]+).*/\1/p' "$out")"
    [[ -n "$events" ]] || { cat "$out" >&2; die "no transactions/s in the sysbench output for $name"; }
    CEIL[$name]="$events"
    CEIL_P99[$name]="$(sed -nE 's/^[[:space:]]*99th percentile:[[:space:]]+([0-9.]+).*/\1/p' "$out")"
    [[ "${errors:-0}" == 0 ]] || log "sysbench $name: $errors ignored errors"
    rm -f "$out"
}

# Responder indices of the bench stack (fcgi-N.pid).
responders() {
    local f n
    for f in "$STACK_DIR"/fcgi-*.pid; do
        [[ -e "$f" ]] || continue
        n="${f##*/fcgi-}"; n="${n%.pid}"
        [[ "$n" =~ ^[0-9]+$ ]] && printf '%s\n' "$n"
    done | sort -n
}

responder_pid() { local p=""; read -r p <"$STACK_DIR/fcgi-$1.pid" 2>/dev/null || true; printf '%s' "$p"; }
rss_kb() { sed -nE 's/^VmRSS:[[:space:]]+([0-9]+) kB/\1/p' "/proc/$1/status" 2>/dev/null; }

# metrics N: responder N's /metrics, straight from its socket (not through nginx).
metrics() {
    env -i PATH="$PATH" SCRIPT_NAME=/metrics REQUEST_URI=/metrics DOCUMENT_URI=/metrics REQUEST_METHOD=GET \
        QUERY_STRING= SERVER_PROTOCOL=HTTP/1.1 REMOTE_ADDR=127.0.0.1 SERVER_NAME=localhost \
        timeout 15 cgi-fcgi -bind -connect "$STACK_DIR/fcgi-$1.sock" </dev/null 2>/dev/null || true
}

# metric TEXT NAME: the value of an unlabelled sample (0 when absent).
metric() { awk -v n="$2" '$1 == n { v = $2 } END { printf "%s", (v == "" ? 0 : v) }' <<<"$1"; }

# lock_snapshot [KIND]: "hold_sum hold_count wait_sum wait_count" of stockroom_KIND_lock_hold_seconds
# and stockroom_KIND_lock_wait_seconds (KIND: order, the default, or checkout), summed over the
# responders.
lock_snapshot() {
    local kind="${1:-order}" i m hs=0 hc=0 ws=0 wc=0
    while read -r i; do
        m="$(metrics "$i")"
        read -r hs hc ws wc < <(awk -v hs="$hs" -v hc="$hc" -v ws="$ws" -v wc="$wc" \
            -v a="$(metric "$m" "stockroom_${kind}_lock_hold_seconds_sum")" -v b="$(metric "$m" "stockroom_${kind}_lock_hold_seconds_count")" \
            -v c="$(metric "$m" "stockroom_${kind}_lock_wait_seconds_sum")" -v d="$(metric "$m" "stockroom_${kind}_lock_wait_seconds_count")" \
            'BEGIN { printf "%.9f %d %.9f %d\n", hs + a, hc + b, ws + c, wc + d }')
    done < <(responders)
    printf '%s %s %s %s\n' "$hs" "$hc" "$ws" "$wc"
}

# route_snapshot ROUTE: "sum count" of stockroom_http_request_duration_seconds{route="ROUTE"} (the
# responder's own time per request, every method and status of the route) over the responders.
route_snapshot() {
    local route="$1" i
    while read -r i; do metrics "$i"; done < <(responders) | awk -v r="route=\"$route\"" '
        index($1, "stockroom_http_request_duration_seconds_sum{") == 1 && index($1, r) { s += $2 }
        index($1, "stockroom_http_request_duration_seconds_count{") == 1 && index($1, r) { n += $2 }
        END { printf "%.9f %d\n", s, n }'
}

declare -A ROUTE_MEAN=()

# route_delta NAME BEFORE AFTER: ROUTE_MEAN[NAME], the mean server time per request (ms) in between.
route_delta() {
    ROUTE_MEAN[$1]="$(awk -v b="$2" -v a="$3" 'BEGIN { split(b, x, " "); split(a, y, " "); n = y[2] - x[2]
        printf "%s", (n > 0 ? sprintf("%.3f", (y[1] - x[1]) / n * 1000) : "n/a") }')"
}

declare -A LOCK_HOLD=() LOCK_WAIT=() LOCK_ORDERS=()

# lock_delta NAME BEFORE AFTER: mean lock hold and wait per order (ms) over the measured run.
lock_delta() {
    local name="$1"
    read -r LOCK_ORDERS[$name] LOCK_HOLD[$name] LOCK_WAIT[$name] < <(awk -v b="$2" -v a="$3" 'BEGIN {
        split(b, x, " "); split(a, y, " ")
        n = y[2] - x[2]; nw = y[4] - x[4]
        printf "%d %s %s\n", n, (n > 0 ? sprintf("%.3f", (y[1] - x[1]) / n * 1000) : "n/a"),
                                (nw > 0 ? sprintf("%.3f", (y[3] - x[3]) / nw * 1000) : "n/a") }')
}

# connections LABEL: per responder open/in use (gauges), and the server's Threads_connected.
declare -a CONN_LINES=()
connections() {
    local label="$1" i m parts="" threads
    while read -r i; do
        m="$(metrics "$i")"
        parts+="responder $i: $(metric "$m" stockroom_db_connections_open | sed 's/\.0$//') open, $(metric "$m" stockroom_db_connections_in_use | sed 's/\.0$//') in use; "
    done < <(responders)
    threads="$(db_root -e "SHOW GLOBAL STATUS LIKE 'Threads_connected'" | awk '{ print $2 }')"
    CONN_LINES+=("$label: ${parts}MariaDB Threads_connected $threads (this query's connection included)")
}

start_ceiling_nginx() {
    CEILING_DIR="$STACK_DIR/nginx-ceiling"
    CEILING_PORT="$(free_port "$PORT")"
    mkdir -p "$CEILING_DIR"
    stop_ceiling_nginx
    local body user esc
    body="$(curl -sS --max-time 10 "$URL/api/v1/products/$PRODUCT_FIRST")" || die "GET product $PRODUCT_FIRST failed"
    [[ "$body" == \{* ]] || die "GET product $PRODUCT_FIRST: unexpected body: $body"
    CEILING_BODY_BYTES="${#body}"
    if (( EUID == 0 )); then user="root root"; else user="$(id -un) $(id -gn)"; fi
    # The dev stack's worker settings and client keepalive (directives outside its upstream block).
    local dev="$REPO/nginx/dev.conf.template" wp wc ka
    wp="$(sed -nE 's/^[[:space:]]*worker_processes[[:space:]]+([^;[:space:]]+);.*/\1/p' "$dev" | head -n1)"
    wc="$(sed -nE 's/^[[:space:]]*worker_connections[[:space:]]+([^;[:space:]]+);.*/\1/p' "$dev" | head -n1)"
    ka="$(awk '/^[[:space:]]*upstream[[:space:]].*\{/ { up = 1 } up && /^[[:space:]]*\}/ { up = 0; next }
               !up && /^[[:space:]]*keepalive_(timeout|requests|time)[[:space:]]/ { sub(/^[[:space:]]+/, ""); sub(/[[:space:]]*#.*/, ""); printf "%s ", $0 }' \
          "$dev" "$REPO/nginx/stockroom-locations.conf")"
    NGINX_WP="${wp:-2}"
    NGINX_UPSTREAM_KEEPALIVE="$(sed -nE 's/^[[:space:]]*keepalive[[:space:]]+([0-9]+);.*/\1/p' "$dev" | head -n1)"
    CEILING_SETTINGS="worker_processes ${wp:-2}, worker_connections ${wc:-1024}, client keepalive: ${ka:-nginx defaults}"
    # Escaped for a single-quoted nginx string, then for the sed replacement below.
    esc="$(printf '%s' "$body" | sed -e "s/[\\\\']/\\\\&/g" | sed -e 's/[\\|&]/\\&/g')"
    sed -e "s|@PORT@|$CEILING_PORT|g" -e "s|@DIR@|$CEILING_DIR|g" -e "s|@NGINX_USER@|$user|g" \
        -e "s|@WORKER_PROCESSES@|${wp:-2}|g" -e "s|@WORKER_CONNECTIONS@|${wc:-1024}|g" \
        -e "s|@CLIENT_KEEPALIVE@|${ka:-# none set: the nginx defaults (keepalive_timeout 75s, keepalive_requests 1000)}|g" \
        -e "s|@BODY@|$esc|g" "$BENCH/nginx-ceiling.conf.template" >"$CEILING_DIR/nginx.conf"
    nginx -p "$CEILING_DIR/" -c "$CEILING_DIR/nginx.conf" -e "$CEILING_DIR/error.log" -t >/dev/null 2>&1 \
        || { nginx -p "$CEILING_DIR/" -c "$CEILING_DIR/nginx.conf" -e "$CEILING_DIR/error.log" -t; die "ceiling nginx config invalid"; }
    nginx -p "$CEILING_DIR/" -c "$CEILING_DIR/nginx.conf" -e "$CEILING_DIR/error.log" </dev/null
    local deadline=$((SECONDS + 10)) got=""
    until [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$CEILING_PORT/" 2>/dev/null)" == 200 ]]; do
        (( SECONDS < deadline )) || die "ceiling nginx did not answer on port $CEILING_PORT"
        sleep 0.1
    done
    got="$(curl -s "http://127.0.0.1:$CEILING_PORT/")"
    [[ "$got" == "$body" ]] || die "ceiling nginx answers another body than GET product: $got"
}

# ---------------------------------------------------------------------------- report helpers

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f%%", a / b * 100; else printf "n/a" }'; }
# verdict RPS CEILING MIN_RATIO ERRORS [P99 MAX_P99]
verdict() {
    awk -v a="$1" -v b="$2" -v r="$3" -v e="$4" -v p="${5:-0}" -v pm="${6:-0}" 'BEGIN {
        ok = (b > 0 && a / b >= r && e == 0 && (pm == 0 || p <= pm))
        printf "%s", ok ? "PASS" : "FAIL" }'
}
fmt0() { awk -v a="$1" 'BEGIN { printf "%.0f", a }'; }

# ---------------------------------------------------------------------------- main

cd "$REPO"
mkdir -p "$RESULTS"
ensure_tools
bring_up
seed

DATE="$(date -u +%Y-%m-%d)"
COMMIT="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ "$COMMIT" != unknown && -n "$(git -C "$REPO" status --porcelain -- . ':(exclude)bench/results' 2>/dev/null)" ]]; then
    COMMIT="$COMMIT-dirty"
fi
read -r FLUSH SYNC_BINLOG LOG_BIN THREAD_HANDLING < <(db_root -e "SELECT @@GLOBAL.innodb_flush_log_at_trx_commit, @@GLOBAL.sync_binlog, IF(@@GLOBAL.log_bin, 'ON', 'OFF'), @@GLOBAL.thread_handling")
MARIADB_VERSION="$(db_root -e 'SELECT VERSION()')"

declare -A PIDS_AT_START=()
while read -r i; do PIDS_AT_START[$i]="$(responder_pid "$i")"; done < <(responders)

# Reads, each next to its ceiling (measured one right after the other: the machine's load drifts).
run_wrk health "$BENCH/health-live.lua" "$URL" /health/live
start_ceiling_nginx
run_wrk nginx "$BENCH/report.lua" "http://127.0.0.1:$CEILING_PORT" /
CEIL[health]="${RPS[nginx]}"
stop_ceiling_nginx

run_wrk product "$BENCH/product-get.lua" "$URL" /api/v1/products/1
run_sysbench point-select sysbench-point-select.lua
CEIL[product]="${CEIL[point-select]}"
# The same select at GET product's rate: MariaDB's CPU per select grows as its load falls (a wake-up
# per statement instead of threads running back to back), so this is the like-for-like comparison.
run_sysbench point-select-at-get-rate sysbench-point-select.lua --rate="$(fmt0 "${RPS[product]}")"

run_wrk list "$BENCH/product-list.lua" "$URL" '/api/v1/products?limit=20'
CEIL[list]="${RPS[product]}"

# ---- Conditional GET product (issue 13), self-contained: its row follows the list's in the table.
# wrk sends each product's current ETag (read with curl just before: nothing has written products
# since the seeding), so the answers are 304s; the ceiling is GET product of this run, no target.
# The responders' request counters by status, around the case, check that every answer was a 304.
product_statuses() { # "304s others" of GET /api/v1/products/{id}, summed over the responders
    local i
    while read -r i; do metrics "$i"; done < <(responders) | awk '
        index($1, "stockroom_http_requests_total{") == 1 && index($1, "route=\"/api/v1/products/{id}\"") {
            if (index($1, "status=\"304\"")) n += $2; else o += $2 }
        END { printf "%d %d\n", n, o }'
}
export PRODUCT_TAGS_FILE="$RESULTS/product-tags-$$.tmp"
curl -sS --max-time 300 -o /dev/null -w '%{url_effective} %header{etag}\n' \
    "$URL/api/v1/products/[$PRODUCT_FIRST-$PRODUCT_LAST]" | sed -E 's#^.*/([0-9]+) #\1 #' >"$PRODUCT_TAGS_FILE"
(( $(grep -cE '^[0-9]+ "[0-9a-f]{13}"$' "$PRODUCT_TAGS_FILE") == PRODUCT_LAST - PRODUCT_FIRST + 1 )) \
    || die "reading the products' ETags: $(head -n3 "$PRODUCT_TAGS_FILE")"
read -r before_304 before_other < <(product_statuses)
run_wrk product-304 "$BENCH/product-get-conditional.lua" "$URL" /api/v1/products/1
read -r after_304 after_other < <(product_statuses)
rm -f "$PRODUCT_TAGS_FILE"
CEIL[product-304]="${RPS[product]}"
CONDITIONAL_304=$(( after_304 - before_304 )) CONDITIONAL_OTHER=$(( after_other - before_other ))
row_conditional() {
    local n=product-304 result=FAIL
    (( CONDITIONAL_OTHER == 0 && CONDITIONAL_304 > 0 && ${NON2XX[$n]} + ${SOCKERR[$n]} == 0 )) && result=PASS
    printf '| %s | %s | %.2f | %.2f | %s | %s | %s | %s | %s | %s |\n' "GET /api/v1/products/{id}, If-None-Match: current tag" \
        "$(fmt0 "${RPS[$n]}")" "${P50[$n]}" "${P99[$n]}" "${NON2XX[$n]}$( (( ${SOCKERR[$n]} )) && printf ' (+%s socket errors)' "${SOCKERR[$n]}")" \
        "GET product" "$(fmt0 "${CEIL[$n]}")" "$(ratio "${RPS[$n]}" "${CEIL[$n]}")" \
        "none (issue 13); every answer 304: $CONDITIONAL_304 × 304, $CONDITIONAL_OTHER other" "$result"
    printf '%s\t%s\t%s\t%s\t%s\n' "GET product, 304" "${RPS[$n]}" "GET product" "${CEIL[$n]}" "$(ratio "${RPS[$n]}" "${CEIL[$n]}")" >>"$DAT"
}
# ---- end of the conditional GET case

# Orders: the lock metrics around the measured run only (the warm-up is excluded).
for mode in spread hot; do
    log "wrk order-$mode: ${WARMUP} s warm-up"
    wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$BENCH/order-$mode.lua" "$URL/api/v1/orders" >/dev/null 2>&1 || true
    before="$(lock_snapshot)" before_route="$(route_snapshot /api/v1/orders)"
    log "wrk order-$mode: ${DURATION} s measured"
    out="$RESULTS/wrk-order-$mode-$$.tmp"
    cpu_begin
    wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$BENCH/order-$mode.lua" "$URL/api/v1/orders" >"$out" 2>&1 \
        || { cat "$out" >&2; die "wrk order-$mode failed"; }
    parse_bench "order-$mode" "$out"; rm -f "$out"
    cpu_end "order-$mode" "${REQUESTS[order-$mode]:-0}"
    lock_delta "order-$mode" "$before" "$(lock_snapshot)"
    route_delta "order-$mode" "$before_route" "$(route_snapshot /api/v1/orders)"
    hot_flag=off; [[ "$mode" == hot ]] && hot_flag=on
    run_sysbench "sysbench-$mode" sysbench-order.lua --user-id="$SYSBENCH_USER_ID" --hot="$hot_flag"
    CEIL[order-$mode]="${CEIL[sysbench-$mode]}"
done

# Checkout: one customer per connection (wrk -tN -cN), each cycling 3 adds, the code and checkout.
# The lock and server-time figures around the measured run only.
seed_checkout
log "wrk checkout: ${WARMUP} s warm-up (wrk -t$CONNS -c$CONNS, bench/checkout.lua, code $PROMO_CODE)"
STOCKROOM_TOKENS="$CHECKOUT_TOKENS" PROMO_CODE="$PROMO_CODE" \
    wrk -t"$CONNS" -c"$CONNS" -d"${WARMUP}s" -s "$BENCH/checkout.lua" "$URL" >/dev/null 2>&1 || true
before="$(lock_snapshot checkout)" before_route="$(route_snapshot /api/v1/cart/checkout)"
log "wrk checkout: ${DURATION} s measured"
out="$RESULTS/wrk-checkout-$$.tmp"
cpu_begin
STOCKROOM_TOKENS="$CHECKOUT_TOKENS" PROMO_CODE="$PROMO_CODE" \
    wrk -t"$CONNS" -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$BENCH/checkout.lua" "$URL" >"$out" 2>&1 \
    || { cat "$out" >&2; die "wrk checkout failed"; }
parse_bench checkout "$out"
cpu_end checkout "${REQUESTS[checkout]:-0}"
checkout_line="$(grep -m1 '^CHECKOUT ' "$out")" || { cat "$out" >&2; die "wrk checkout printed no CHECKOUT line"; }
rm -f "$out"
declare -A CHK=()
for kv in ${checkout_line#CHECKOUT }; do CHK[${kv%%=*}]="${kv#*=}"; done
lock_delta checkout "$before" "$(lock_snapshot checkout)"
route_delta checkout "$before_route" "$(route_snapshot /api/v1/cart/checkout)"
checkout_ok=FAIL
(( ${CHK[checkouts]} > 0 && ${CHK[checkouts_non201]} == 0 && ${CHK[adds_non200]} == 0 && ${CHK[codes_non200]} == 0 \
   && ${CHK[clears_non204]} == 0 && ${SOCKERR[checkout]} == 0 )) && checkout_ok=PASS

# Soak: mixed reads and orders; RSS of every responder before and after, connections half-way.
declare -A RSS_BEFORE=() RSS_AFTER=() PID_BEFORE=()
while read -r i; do
    PID_BEFORE[$i]="$(responder_pid "$i")"
    RSS_BEFORE[$i]="$(rss_kb "${PID_BEFORE[$i]}")"
done < <(responders)
log "soak: ${SOAK} s of mixed reads and orders (wrk -t2 -c$CONNS, bench/soak-mixed.lua)"
soak_out="$RESULTS/wrk-soak-$$.tmp"
cpu_begin
wrk -t2 -c"$CONNS" -d"${SOAK}s" --timeout 10s -s "$BENCH/soak-mixed.lua" "$URL" >"$soak_out" 2>&1 &
soak_pid=$!
CHILD_PIDS+=("$soak_pid")
sleep "$(( SOAK / 2 ))"
connections "during the soak (t = $(( SOAK / 2 )) s)"
wait "$soak_pid" || { cat "$soak_out" >&2; die "wrk soak failed"; }
connections "after the soak"
while read -r i; do
    pid="$(responder_pid "$i")"
    if [[ "$pid" == "${PID_BEFORE[$i]}" ]]; then RSS_AFTER[$i]="$(rss_kb "$pid")"; else RSS_AFTER[$i]=restarted; fi
done < <(responders)
parse_bench soak "$soak_out"
cpu_end soak "${REQUESTS[soak]:-0}"
soak_line="$(grep -m1 '^SOAK ' "$soak_out")" || { cat "$soak_out" >&2; die "wrk soak printed no SOAK line"; }
rm -f "$soak_out"
declare -A SOAKV=()
for kv in ${soak_line#SOAK }; do SOAKV[${kv%%=*}]="${kv#*=}"; done

RESTARTS=""
while read -r i; do
    [[ "$(responder_pid "$i")" == "${PIDS_AT_START[$i]}" ]] || RESTARTS+="responder $i restarted during the bench; "
done < <(responders)

# ---------------------------------------------------------------------------- report

NAME="$DATE-$COMMIT"
MD="$RESULTS/$NAME.md"
PNG="$RESULTS/$NAME.png"
DAT="$RESULTS/$NAME.dat.tmp"

row() { # name label short-label ceiling-name min-ratio [max-p99]
    local n="$1" label="$2" short="$3" cname="$4" min="$5" maxp="${6:-0}" errs target
    errs=$(( ${NON2XX[$n]} + ${SOCKERR[$n]} ))
    target="≥ $(awk -v r="$min" 'BEGIN { printf "%d", r * 100 }')% of ${cname}"
    [[ "$maxp" != 0 ]] && target+=", p99 ≤ $maxp ms"
    printf '| %s | %s | %.2f | %.2f | %s | %s | %s | %s | %s | %s |\n' "$label" "$(fmt0 "${RPS[$n]}")" "${P50[$n]}" "${P99[$n]}" \
        "${NON2XX[$n]}$( (( ${SOCKERR[$n]} )) && printf ' (+%s socket errors)' "${SOCKERR[$n]}")" "$cname" "$(fmt0 "${CEIL[$n]}")" \
        "$(ratio "${RPS[$n]}" "${CEIL[$n]}")" "$target" "$(verdict "${RPS[$n]}" "${CEIL[$n]}" "$min" "$errs" "${P99[$n]}" "$maxp")"
    printf '%s\t%s\t%s\t%s\t%s\n' "$short" "${RPS[$n]}" "$cname" "${CEIL[$n]}" "$(ratio "${RPS[$n]}" "${CEIL[$n]}")" >>"$DAT"
}

: >"$DAT"
TABLE="$(
    printf '| case | requests/s | p50 ms | p99 ms | non-2xx | ceiling | ceiling/s | ratio | target | result |\n'
    printf '|---|---:|---:|---:|---:|---|---:|---:|---|---|\n'
    row health "GET /health/live" "GET /health/live" "nginx return 200" 0.35
    row product "GET /api/v1/products/{id}" "GET product" "sysbench point select" 0.35 30
    row list "GET /api/v1/products?limit=20" "GET list of 20" "GET product" 0.50
    row_conditional
    row order-spread "POST /api/v1/orders, 1000 products" "POST order, 1000 products" "sysbench order spread" 0.90
    row order-hot "POST /api/v1/orders, one product" "POST order, one product" "sysbench order hot" 1.00
)"
# The checkout case on the chart, next to the direct orders (spread) of the same run.
printf '%s\t%s\t%s\t%s\t%s\n' "POST checkout, 3 lines + code" "${CHK[checkouts_per_s]}" "POST order spread" \
    "${RPS[order-spread]}" "$(ratio "${CHK[checkouts_per_s]}" "${RPS[order-spread]}")" >>"$DAT"

# CPU per request by process group, every measured run in the order run (a case without a label
# here shows its name).
declare -A CPU_LABEL=(
    [health]="GET /health/live" [nginx]="nginx return 200 (the ceiling's own nginx)"
    [product]="GET /api/v1/products/{id}" [point-select]="sysbench point select (per select)"
    [point-select-at-get-rate]="sysbench point select at GET product's rate (per select)"
    [list]="GET /api/v1/products?limit=20" [order-spread]="POST /api/v1/orders, 1000 products"
    [sysbench-spread]="sysbench order spread (per transaction)" [order-hot]="POST /api/v1/orders, one product"
    [sysbench-hot]="sysbench order hot (per transaction)" [checkout]="checkout cycle (per request; 5 per checkout)"
    [soak]="soak, mixed reads and orders"
)
cpu_sum() { awk -v f="$1" 'BEGIN { n = split(f, x, " "); s = 0; for (i = 1; i <= n; i++) { split(x[i], kv, "="); if (kv[2] == "n/a") { printf "n/a"; exit } s += kv[2] } printf "%.1f", s }'; }
CPU_TABLE="$(
    printf '| run | requests or events | nginx | responders | worker | MariaDB | all of them |\n|---|---:|---:|---:|---:|---:|---:|\n'
    for c in "${CPU_CASES[@]}"; do
        f="${CPU[$c]}"
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${CPU_LABEL[$c]:-$c}" "${CPU_EVENTS[$c]}" "$(cpu_field "$f" nginx)" "$(cpu_field "$f" responders)" \
            "$(cpu_field "$f" worker)" "$(cpu_field "$f" mariadb)" "$(cpu_sum "$f")"
    done
)"
# cpu_target LABEL VALUE MAX UNIT: a PASS/FAIL row of the issue-13 CPU targets.
cpu_target() {
    awk -v l="$1" -v v="$2" -v m="$3" -v u="$4" 'BEGIN {
        if (v == "n/a" || v == "") { printf "| %s | n/a | ≤ %s%s | FAIL |\n", l, m, u; exit }
        printf "| %s | %s%s | ≤ %s%s | %s |\n", l, v, u, m, u, (v + 0 <= m + 0) ? "PASS" : "FAIL" }'
}
cpu_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b <= 0) printf "n/a"; else printf "%.2f", a / b }'; }
# The figures the targets compare: the responders' and MariaDB's µs per request of these runs.
R_GET="$(cpu_field "${CPU[product]}" responders)" R_LIST="$(cpu_field "${CPU[list]}" responders)"
R_ORDER="$(cpu_field "${CPU[order-spread]}" responders)" M_GET="$(cpu_field "${CPU[product]}" mariadb)"
M_SELECT="$(cpu_field "${CPU[point-select]}" mariadb)" M_SELECT_AT_RATE="$(cpu_field "${CPU[point-select-at-get-rate]}" mariadb)"
CPU_TARGETS="$(
    printf '| figure (issue 13) | measured | target | result |\n|---|---:|---|---|\n'
    cpu_target "responders' CPU µs per GET /api/v1/products/{id}" "$R_GET" 60 " µs"
    cpu_target "responders' CPU per GET list of 20 / per GET product ($R_LIST / $R_GET µs)" "$(cpu_ratio "$R_LIST" "$R_GET")" 1.5 "×"
    cpu_target "responders' CPU per POST order, 1000 products / per GET product ($R_ORDER / $R_GET µs)" \
        "$(cpu_ratio "$R_ORDER" "$R_GET")" 1.3 "×"
    cpu_target "MariaDB's CPU per GET product / per sysbench point select ($M_GET / $M_SELECT µs)" "$(cpu_ratio "$M_GET" "$M_SELECT")" 1.1 "×"
    cpu_target "the same, against sysbench's point select at GET product's rate ($M_GET / $M_SELECT_AT_RATE µs)" \
        "$(cpu_ratio "$M_GET" "$M_SELECT_AT_RATE")" 1.1 "×"
)"

SOAK_ROWS="$(
    printf '| responder | pid | RSS before | RSS after | growth | target | result |\n|---|---:|---:|---:|---:|---|---|\n'
    while read -r i; do
        b="${RSS_BEFORE[$i]:-0}" a="${RSS_AFTER[$i]:-0}"
        if [[ "$a" == restarted || -z "$b" || "$b" == 0 ]]; then
            printf '| %s | %s | %s kB | %s | n/a | ≤ 5%% | FAIL |\n' "$i" "${PID_BEFORE[$i]}" "${b:-?}" "$a"
        else
            printf '| %s | %s | %s kB | %s kB | %s | ≤ 5%% | %s |\n' "$i" "${PID_BEFORE[$i]}" "$b" "$a" \
                "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.1f%%", (a - b) / b * 100 }')" \
                "$(awk -v a="$a" -v b="$b" 'BEGIN { print ((a - b) / b <= 0.05) ? "PASS" : "FAIL" }')"
        fi
    done < <(responders)
)"
soak_reads_ok=FAIL; (( ${SOAKV[reads_non2xx]} == 0 && ${SOAKV[reads]} > 0 )) && soak_reads_ok=PASS
soak_orders_ok=FAIL; (( ${SOAKV[orders_non201]} == 0 && ${SOAKV[orders]} > 0 )) && soak_orders_ok=PASS
(( ${SOCKERR[soak]} == 0 )) || { soak_reads_ok=FAIL; soak_orders_ok=FAIL; }

if [[ "$FLUSH" == 1 ]]; then
    DURABILITY_NOTE="Production durability: every COMMIT is flushed to the redo log (innodb_flush_log_at_trx_commit=1)."
else
    DURABILITY_NOTE="**WARNING: this run used weaker durability than production: innodb_flush_log_at_trx_commit=$FLUSH (production is 1); its order figures are not comparable.**"
fi
[[ "$LOG_BIN" == ON && "$SYNC_BINLOG" != 1 ]] && DURABILITY_NOTE+=" **The binary log is on with sync_binlog=$SYNC_BINLOG (not 1): weaker durability.**"

fmt_ms() { [[ "$1" == n/a ]] && printf 'n/a' || printf '%s ms' "$1"; }

{
    printf '# make bench, %s, commit %s\n\n' "$DATE" "$COMMIT"
    printf -- '- Machine: %s cores (%s), %s; load average at the end %s. wrk, nginx, the responders and MariaDB share the cores.\n' \
        "$(nproc)" "$(sed -nE 's/^model name[[:space:]]*: (.*)/\1/p' /proc/cpuinfo | head -n1)" "$(uname -sr)" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf -- '- Stack: %s responder process(es) x %s threads, 1 stockroom-worker, nginx (worker_processes %s, upstream keepalive %s), MariaDB %s on a unix socket, thread_handling=%s.\n' \
        "$(responders | wc -l)" "${STOCKROOM_THREADS:-32}" "$NGINX_WP" "${NGINX_UPSTREAM_KEEPALIVE:-?}" "$MARIADB_VERSION" "$THREAD_HANDLING"
    printf -- '- MariaDB durability: innodb_flush_log_at_trx_commit=%s, sync_binlog=%s, log_bin=%s. %s\n' "$FLUSH" "$SYNC_BINLOG" "$LOG_BIN" "$DURABILITY_NOTE"
    printf -- '- Load: wrk -t1 -c%s, %s s warm-up then %s s per case; sysbench 1.0 --threads=%s, a %s s warm-up run then --time=%s, same MariaDB, same SQL (bench/sysbench-*.lua). %s products (ids %s..%s), stock %s each.\n' \
        "$CONNS" "$WARMUP" "$DURATION" "$CONNS" "$WARMUP" "$DURATION" "$NPRODUCTS" "$PRODUCT_FIRST" "$PRODUCT_LAST" "$STOCK"
    printf -- '- Ceilings: nginx `return 200` with the %s-byte body of GET product (bench/nginx-ceiling.conf.template; %s); sysbench p99: point select %s ms, order spread %s ms, order hot %s ms.\n' \
        "$CEILING_BODY_BYTES" "$CEILING_SETTINGS" "${CEIL_P99[point-select]:-?}" "${CEIL_P99[sysbench-spread]:-?}" "${CEIL_P99[sysbench-hot]:-?}"
    printf -- '- Run time: %s s from the start of scripts/bench.sh to this report (stack start and seeding included, the final stack stop not).\n' \
        "$((SECONDS - START_SECONDS))"
    printf '\n%s\n\n' "$TABLE"
    printf 'Order row locks (from the responders'"'"' /metrics, measured run only): spread: %s orders, mean lock hold %s, mean lock wait %s; hot: %s orders, mean lock hold %s, mean lock wait %s.\n\n' \
        "${LOCK_ORDERS[order-spread]}" "$(fmt_ms "${LOCK_HOLD[order-spread]}")" "$(fmt_ms "${LOCK_WAIT[order-spread]}")" \
        "${LOCK_ORDERS[order-hot]}" "$(fmt_ms "${LOCK_HOLD[order-hot]}")" "$(fmt_ms "${LOCK_WAIT[order-hot]}")"
    printf '## CPU time per request by process\n\n'
    printf 'µs of CPU (utime + stime from /proc/PID/stat, every thread) between the start and the end of each measured run, divided by its requests (sysbench: by its events), for each group of the bench stack: nginx (master and workers), the responders, the order worker, mariadbd. Every group is read in every run, so a figure next to a run that does not use it (nginx under sysbench) is what it spends on its own meanwhile; the worker and MariaDB of the order rows include the worker processing those orders. /proc counts in clock ticks of %s ms: a figure is good to ± one tick over the run'"'"'s requests for each process of its group (0.4 µs for 25000 requests).\n\n%s\n\n%s\n\n' \
        "$(( 1000 / $(getconf CLK_TCK) ))" "$CPU_TABLE" "$CPU_TARGETS"
    printf '## Checkout: POST /api/v1/cart/checkout, cart of 3 lines with a promo code (wrk -t%s -c%s, bench/checkout.lua)\n\n' "$CONNS" "$CONNS"
    printf 'One customer per connection, each repeating 3 x POST /api/v1/cart/items (three random products of %s, one unit each), PUT /api/v1/cart/promo-code, POST /api/v1/cart/checkout; all share one promo code (10%%, no limits), so every checkout also locks that code'"'"'s row. Measured run only (%s s, after a %s s warm-up).\n\n' \
        "$NPRODUCTS" "$DURATION" "$WARMUP"
    printf '| figure | measured |\n|---|---|\n'
    printf '| checkouts/s (201 answers of POST /api/v1/cart/checkout over the measured time) | %s |\n' "$(fmt0 "${CHK[checkouts_per_s]}")"
    printf '| ratio to direct orders/s of this run: POST /api/v1/orders spread (%s/s) / one product (%s/s) | %s / %s |\n' \
        "$(fmt0 "${RPS[order-spread]}")" "$(fmt0 "${RPS[order-hot]}")" \
        "$(ratio "${CHK[checkouts_per_s]}" "${RPS[order-spread]}")" "$(ratio "${CHK[checkouts_per_s]}" "${RPS[order-hot]}")"
    printf '| requests/s of the whole cycle (5 requests per checkout), p50 / p99 of all of them | %s, %.2f / %.2f ms |\n' \
        "$(fmt0 "${RPS[checkout]}")" "${P50[checkout]}" "${P99[checkout]}"
    printf '| responder time per request (mean, /metrics): checkout / direct order (spread) | %s / %s |\n' \
        "$(fmt_ms "${ROUTE_MEAN[checkout]}")" "$(fmt_ms "${ROUTE_MEAN[order-spread]}")"
    printf '| checkout locks (mean per checkout, /metrics): hold / wait, over | %s / %s, %s checkouts |\n' \
        "$(fmt_ms "${LOCK_HOLD[checkout]}")" "$(fmt_ms "${LOCK_WAIT[checkout]}")" "${LOCK_ORDERS[checkout]}"
    printf '| answers: checkout / add / code / clear | %s / %s / %s / %s |\n' \
        "${CHK[checkout_status]}" "${CHK[add_status]}" "${CHK[code_status]}" "204:$(( ${CHK[clears]} - ${CHK[clears_non204]} ))$( (( ${CHK[clears_non204]} )) && printf ', other: %s' "${CHK[clears_non204]}")"
    printf '| check: every answer as expected (201 / 200 / 200 / 204), no socket errors | %s |\n\n' "$checkout_ok"
    printf '## Soak: %s s of mixed reads and orders (wrk -t2 -c%s, bench/soak-mixed.lua)\n\n' "$SOAK" "$CONNS"
    printf '%s requests/s overall, p50 %.2f ms, p99 %.2f ms, %s socket errors.\n\n' "$(fmt0 "${RPS[soak]}")" "${P50[soak]}" "${P99[soak]}" "${SOCKERR[soak]}"
    printf '| check | measured | target | result |\n|---|---|---|---|\n'
    printf '| reads | %s, non-2xx %s (statuses %s) | no non-2xx | %s |\n' "${SOAKV[reads]}" "${SOAKV[reads_non2xx]}" "${SOAKV[reads_status]}" "$soak_reads_ok"
    printf '| orders | %s, not 201: %s (statuses %s) | all 201 | %s |\n\n' "${SOAKV[orders]}" "${SOAKV[orders_non201]}" "${SOAKV[orders_status]}" "$soak_orders_ok"
    printf '%s\n\n' "$SOAK_ROWS"
    printf 'DB connections:\n\n'
    for l in "${CONN_LINES[@]}"; do printf -- '- %s\n' "$l"; done
    [[ -n "$RESTARTS" ]] && printf '\n**%s**\n' "$RESTARTS"
    printf '\n![throughput against ceilings](%s)\n' "$NAME.png"
} >"$MD"

gnuplot -e "datafile='$DAT'; outfile='$PNG'; chart_title='Stockroom make bench $DATE $COMMIT (wrk -t1 -c$CONNS; ceilings in grey)'" \
    "$BENCH/plot.gnuplot" || log "gnuplot failed; no PNG"
rm -f "$DAT"

printf '\n'
cat "$MD"
printf '\nbench: wrote %s and %s\n' "${MD#"$REPO"/}" "${PNG#"$REPO"/}"

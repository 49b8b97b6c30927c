# shellcheck shell=bash
# CPU time of processes from /proc, shared by bench.sh and bench-cluster.sh: sourced, never run.

# cpu_ticks PID...: utime + stime of the processes in clock ticks. A process's /proc/PID/stat counts
# all its threads, those that have exited too; a pid that is gone counts 0.
cpu_ticks() {
    local pid stat sum=0
    local -a field
    for pid in "$@"; do
        { stat="$(<"/proc/$pid/stat")"; } 2>/dev/null || continue
        # After "pid (comm) " (comm may hold spaces): field 3 (state) is field[0], utime field[11].
        read -ra field <<<"${stat##*) }"
        sum=$(( sum + field[11] + field[12] ))
    done
    printf '%s' "$sum"
}

# group_cpu_ticks: reads "group pid pid ..." lines; prints "group=ticks ..." (cpu_ticks of each group).
group_cpu_ticks() {
    local group pids out=""
    while read -r group pids; do
        # shellcheck disable=SC2086 # the pids are words
        out+="$group=$(cpu_ticks $pids) "
    done
    printf '%s' "${out% }"
}

# cpu_per_event BEFORE AFTER EVENTS: "group=µs ..." (each group's CPU time between two group_cpu_ticks,
# in microseconds per event, one decimal); "group=n/a" when there were no events.
cpu_per_event() {
    awk -v b="$1" -v a="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        nb = split(b, x, " "); na = split(a, y, " ")
        for (i = 1; i <= nb; i++) { split(x[i], kv, "="); B[kv[1]] = kv[2] }
        out = ""
        for (i = 1; i <= na; i++) {
            split(y[i], kv, "=")
            v = (n > 0 && kv[1] in B) ? sprintf("%.1f", (kv[2] - B[kv[1]]) / hz * 1e6 / n) : "n/a"
            out = out (out == "" ? "" : " ") kv[1] "=" v
        }
        printf "%s", out }'
}

# cpu_field FIGURES GROUP: one group's value from cpu_per_event's output ("n/a" when absent).
cpu_field() { awk -v g="$2" 'BEGIN { v = "n/a" } { for (i = 1; i <= NF; i++) if (index($i, g "=") == 1) v = substr($i, length(g) + 2) } END { printf "%s", v }' <<<"$1"; }

# shellcheck shell=bash
# Process helpers shared by the scripts that start and stop their own daemons (devstack.sh,
# cluster.sh, bench.sh, bench-cluster.sh): sourced, never run. stop_pid logs through the sourcing
# script's `log`.

# alive PID: the process exists and is not a zombie (a container's PID 1 may never reap orphans).
alive() {
    local pid="$1" state
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/stat" ]] || return 1
    state="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$pid/stat" 2>/dev/null)" || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

proc_comm() { cat "/proc/$1/comm" 2>/dev/null || true; }
proc_cmdline() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" || true; }

read_pid() { local pid=""; [[ -r "$1" ]] && read -r pid 2>/dev/null <"$1"; printf '%s' "${pid:-}"; }

# running_pid PIDFILE COMM CMDLINE-SUBSTRING: prints the pid when the pid file names a live
# process with that command name whose command line contains the substring (guards against pid reuse).
running_pid() {
    local file="$1" comm="$2" needle="$3" pid
    pid="$(read_pid "$file")"
    alive "$pid" || return 1
    [[ -z "$comm" || "$(proc_comm "$pid")" == "$comm" ]] || return 1
    [[ -z "$needle" || "$(proc_cmdline "$pid")" == *"$needle"* ]] || return 1
    printf '%s' "$pid"
}

# wait_gone PID SECONDS: true once the process has exited.
wait_gone() {
    local pid="$1" deadline=$((SECONDS + $2))
    while alive "$pid"; do
        (( SECONDS < deadline )) || return 1
        sleep 0.1
    done
}

# stop_pid NAME PID SIGNAL SECONDS: signal, wait, then SIGKILL.
stop_pid() {
    local name="$1" pid="$2" sig="$3" secs="$4"
    alive "$pid" || return 0
    log "stopping $name (pid $pid)"
    kill "-$sig" "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$secs"; then
        log "$name (pid $pid) still running after ${secs}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || log "$name (pid $pid) did not die"
    fi
}

# close_inherited_fds: closes every descriptor above 2 the shell was given (not 255, bash's own on the
# script), so that the daemons it starts do not keep them. flock(1) passes its lock to its command as
# one: a daemon still running afterwards (a kept bench stack) would hold the lock for everyone. flock
# itself keeps the lock held until the command ends.
close_inherited_fds() {
    local fd
    local -a closing=()
    for fd in "/proc/$BASHPID/fd/"*; do
        fd="${fd##*/}"
        if (( fd > 2 && fd != 255 )); then closing+=("$fd>&-"); fi
    done
    (( ${#closing[@]} == 0 )) || eval "exec ${closing[*]}"
}

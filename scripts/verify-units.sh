#!/usr/bin/env bash
# Checks the systemd units in systemd/ without installing them:
#   1. `systemd-analyze verify` on every unit (no errors, and no warnings:
#      systemd only warns about an unknown key or a bad value and carries on);
#   2. `systemd-analyze security --offline=true` exposure of the long-running
#      units (the responder and the worker) must be <= MAX_EXPOSURE (default
#      2.0); the others' is printed;
#   3. stockroom.target wants every unit that has PartOf=stockroom.target
#      (a template through its instance @1);
#   4. the example env file must not set STOCKROOM_SOCKET (it would override the
#      per-instance socket of every stockroom-fcgi@N.service);
#   5. the long-running units keep what issue 4 asks of them: in [Service]
#      Type=notify, NotifyAccess=main, a WatchdogSec=, TimeoutStartSec=,
#      TimeoutStopSec= (the responder's >= STOCKROOM_SHUTDOWN_TIMEOUT 10 s + 5 s),
#      Restart=on-failure; in [Unit] StartLimitIntervalSec= and StartLimitBurst=;
#   6. every unit that reaches the database (responder, worker, migrations)
#      loads the password as the credential db-password from
#      /etc/stockroom/db-password (LoadCredential=), and the example env file
#      sets no STOCKROOM_DB_PASSWORD (a secret does not belong in the environment).
# Exit 0 when all pass, 1 otherwise. Without systemd-analyze, checks 1 and 2
# are skipped with a line starting with "SKIP:" and the others still run.
#
# verify refuses units whose ExecStart= binary does not exist, and the
# binaries live in /usr/local/bin only after an install. So the units are
# verified inside a throw-away root (--root): the host's own units (for
# sysinit.target, network-online.target, ...), our units in etc/systemd/system
# and an empty executable for every ExecStart*= path they name.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
units_dir=$repo/systemd
max_exposure=${MAX_EXPOSURE:-2.0}
limited="stockroom-fcgi@.service stockroom-worker.service"

fail=0

# `[Section] Key` of a unit file -> its last value (later assignments win; an
# empty assignment resets). Continuation lines are not used in our units.
unit_value() {
    awk -v want_section="$2" -v want_key="$3" '
        /^[[:space:]]*[#;]/ { next }
        /^\[/ { section = $0; gsub(/[][]/, "", section); next }
        section == want_section {
            i = index($0, "=")
            if (i == 0) next
            key = substr($0, 1, i - 1); gsub(/[[:space:]]/, "", key)
            if (key == want_key) { value = substr($0, i + 1); sub(/^[[:space:]]+/, "", value); sub(/[[:space:]]+$/, "", value); found = 1 }
        }
        END { if (found) print value }
    ' "$1"
}

# Plain seconds ("20", "20s") -> 20; anything else (1min, infinity) -> empty.
seconds() {
    case $1 in
        *[!0-9s]* | '' | s*) ;;
        *s) echo "${1%s}" ;;
        *) echo "$1" ;;
    esac
}

echo "== notify, watchdog, restart and start limit settings"
for name in $limited; do
    f=$units_dir/$name
    [ -e "$f" ] || continue
    want() { # section key expected-value (empty: any non-empty value other than 0/infinity)
        local got
        got=$(unit_value "$f" "$1" "$2")
        if [ -n "$3" ] && [ "$got" != "$3" ]; then
            echo "FAIL: $name: [$1] $2=${got:-<unset>}, expected $2=$3"
            fail=1
        elif [ -z "$3" ] && { [ -z "$got" ] || [ "$got" = 0 ] || [ "$got" = infinity ]; }; then
            echo "FAIL: $name: [$1] $2= must be set to a finite, non-zero value (got '${got}')"
            fail=1
        fi
    }
    want Service Type notify
    want Service NotifyAccess main
    want Service WatchdogSec ""
    want Service TimeoutStartSec ""
    want Service TimeoutStopSec ""
    want Service Restart on-failure
    want Unit StartLimitIntervalSec ""
    want Unit StartLimitBurst ""
    for key in StartLimitIntervalSec StartLimitBurst; do
        if [ -n "$(unit_value "$f" Service "$key")" ]; then
            echo "FAIL: $name: $key= belongs in [Unit], not [Service]"
            fail=1
        fi
    done
done
stop=$(seconds "$(unit_value "$units_dir/stockroom-fcgi@.service" Service TimeoutStopSec)")
if [ -n "$stop" ] && [ "$stop" -lt 15 ]; then
    echo "FAIL: stockroom-fcgi@.service: TimeoutStopSec=$stop s leaves no margin over the 10 s STOCKROOM_SHUTDOWN_TIMEOUT drain (want >= 15)"
    fail=1
fi
[ $fail -ne 0 ] || echo "ok"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP: systemd-analyze not found; systemd-analyze verify and security not run"
    skip_analyze=1
else
    skip_analyze=0
fi

# 1 and 2: systemd-analyze verify and security.
analyze() {
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT

    host_units=""
    for d in /usr/lib/systemd/system /lib/systemd/system; do
        if [ -d "$d" ]; then host_units=$d; break; fi
    done
    mkdir -p "$root/usr/lib/systemd" "$root/etc/systemd/system"
    if [ -n "$host_units" ]; then
        cp -a "$host_units" "$root/usr/lib/systemd/system"
    fi

    units=()
    for f in "$units_dir"/*.service "$units_dir"/*.target; do
        [ -e "$f" ] || continue
        cp "$f" "$root/etc/systemd/system/"
        name=$(basename "$f")
        # A template is verified through an instance of it.
        case $name in *@.*) name=${name/@./@1.} ;; esac
        units+=("$name")
        # ExecStart=-/usr/bin/x args  ->  /usr/bin/x   (strip the -@:+! prefixes)
        while IFS= read -r exe; do
            [ -n "$exe" ] || continue
            mkdir -p "$root$(dirname "$exe")"
            [ -e "$root$exe" ] || printf '#!/bin/sh\nexit 0\n' >"$root$exe"
            chmod 0755 "$root$exe"
        done < <(sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\(\/[^ ]*\).*/\1/p' "$f")
    done

    echo "== systemd-analyze verify: ${units[*]}"
    set +e
    out=$(systemd-analyze verify --root="$root" --man=no "${units[@]}" 2>&1)
    rc=$?
    set -e
    if [ $rc -ne 0 ] || [ -n "$out" ]; then
        printf '%s\n' "$out" | sed "s|$root||g"
        echo "FAIL: systemd-analyze verify (exit $rc, output above)"
        fail=1
    else
        echo "ok"
    fi

    for unit in "$units_dir"/*.service; do
        name=$(basename "$unit")
        set +e
        out=$(systemd-analyze security --offline=true "$unit" 2>&1)
        rc=$?
        set -e
        level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' | tail -n 1)
        if [ -z "$level" ]; then
            printf '%s\n' "$out"
            echo "FAIL: no exposure level for $name (exit $rc)"
            fail=1
            continue
        fi
        if [[ " $limited " == *" $name "* ]]; then
            if awk -v l="$level" -v m="$max_exposure" 'BEGIN { exit !(l > m) }'; then
                printf '%s\n' "$out" | grep '✗' || true
                echo "FAIL: $name exposure $level > $max_exposure"
                fail=1
            else
                echo "== security $name: exposure $level (limit $max_exposure) ok"
            fi
        else
            echo "== security $name: exposure $level (informational)"
        fi
    done
}

if [ "$skip_analyze" -eq 0 ]; then
    analyze
fi

for name in $limited; do
    if [ ! -e "$units_dir/$name" ]; then
        echo "FAIL: $name missing from systemd/"
        fail=1
    fi
done

# Wants= of the target (one or more lines, space-separated).
wants=" $(sed -n 's/^Wants=//p' "$units_dir/stockroom.target" | tr '\n' ' ') "
for f in "$units_dir"/*.service; do
    grep -Eq '^PartOf=(.* )?stockroom\.target( |$)' "$f" || continue
    name=$(basename "$f")
    case $name in *@.*) name=${name/@./@1.} ;; esac
    if [[ "$wants" != *" $name "* ]]; then
        echo "FAIL: stockroom.target does not want $name (add it to its Wants= line)"
        fail=1
    fi
done

if grep -Eq '^[[:space:]]*(export[[:space:]]+)?STOCKROOM_SOCKET=' "$units_dir/stockroom.env.example"; then
    echo "FAIL: systemd/stockroom.env.example sets STOCKROOM_SOCKET; it would override every instance's socket"
    fail=1
fi

echo "== the database password as a credential"
credential_fail=0
for name in stockroom-fcgi@.service stockroom-worker.service stockroom-migrate.service; do
    f=$units_dir/$name
    [ -e "$f" ] || continue
    if ! grep -qx 'LoadCredential=db-password:/etc/stockroom/db-password' "$f"; then
        echo "FAIL: $name lacks LoadCredential=db-password:/etc/stockroom/db-password"
        credential_fail=1
    fi
done
if grep -Eq '^[[:space:]]*(export[[:space:]]+)?STOCKROOM_DB_PASSWORD=' "$units_dir/stockroom.env.example"; then
    echo "FAIL: systemd/stockroom.env.example sets STOCKROOM_DB_PASSWORD; the units load the password with LoadCredential="
    credential_fail=1
fi
if [ $credential_fail -ne 0 ]; then fail=1; else echo "ok"; fi

if [ $fail -ne 0 ]; then
    echo "verify-units: FAILED"
    exit 1
fi
if [ "$skip_analyze" -eq 1 ]; then
    echo "verify-units: all checks passed (systemd-analyze checks skipped)"
else
    echo "verify-units: all checks passed"
fi

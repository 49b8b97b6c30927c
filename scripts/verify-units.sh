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
#      per-instance socket of every stockroom-fcgi@N.service).
# Exit 0 when all pass, 1 otherwise. Without systemd-analyze it prints a line
# starting with "SKIP:" and exits 0.
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

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP: systemd-analyze not found; systemd units not verified"
    exit 0
fi

fail=0
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

if [ $fail -ne 0 ]; then
    echo "verify-units: FAILED"
    exit 1
fi
echo "verify-units: all checks passed"

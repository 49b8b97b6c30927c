# shellcheck shell=bash
# Installing missing Debian packages, shared by deps.sh, bench.sh and bench-cluster.sh: sourced, never run.
# Logs through the sourcing script's `log`.

# install_missing_packages PKG...: nothing when none is given; as root with apt-get, installs them
# (an `apt-get update` first when there are no package lists, and once more if the install fails);
# otherwise prints the apt-get line and exits 1.
install_missing_packages() {
    (( $# )) || return 0
    if (( EUID == 0 )) && command -v apt-get >/dev/null; then
        log "installing $*"
        if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then apt-get update; fi
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; then
            apt-get update
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
        fi
    else
        log "missing tools; install them as root with:"
        printf '  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s\n' "$*" >&2
        exit 1
    fi
}

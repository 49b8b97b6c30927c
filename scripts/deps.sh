#!/usr/bin/env bash
# The Debian packages Stockroom builds, runs and is tested with; as root it installs what is missing
# (apt-get), as any other user it prints the apt-get line and exits 1.
#   scripts/deps.sh          to build and run: MariaDB, nginx, supervisor, ...
#   scripts/deps.sh --test   also promtool (Debian's prometheus package) and python3's pytest,
#                            requests and openapi-core for the test suites
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

# galera-4, mariadb-backup (its SST method) and iproute2 (network namespaces): scripts/cluster.sh;
# supervisor and logrotate: the dev stack (scripts/devstack.sh); libfcgi-bin: cgi-fcgi, which the scripts
# use to scrape a responder (the responders speak FastCGI themselves, without libfcgi).
DEB_PACKAGES=(mariadb-server mariadb-client libmariadb-dev libfcgi-bin nginx libargon2-dev pkg-config curl
              galera-4 mariadb-backup iproute2 supervisor logrotate)
# promtool checks every metrics target's exposition (the service is not started, and need not run).
TEST_DEB_PACKAGES=(prometheus)
# Any of these satisfies "nginx" (Debian 12 ships nginx plus the -light/-core/-full/-extras flavours).
NGINX_FLAVOURS=(nginx nginx-core nginx-light nginx-full nginx-extras)
# openapi-core validates the live answers against docs/openapi.yaml (Tests/Integration/test_openapi_live.py);
# 0.19 brought the OpenAPI/Config API the test uses. Debian 12 has no package of it new enough.
OPENAPI_CORE_VERSION=0.23.1

log() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }
# shellcheck source=lib/packages.sh source-path=SCRIPTDIR
. "$REPO/scripts/lib/packages.sh"

pkg_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" || return 1
    [[ "$status" == *" installed" ]]
}

# missing_packages PKG...: those of PKG not installed (nginx: in none of its flavours).
missing_packages() {
    local p f
    for p in "$@"; do
        if [[ "$p" == nginx ]]; then
            for f in "${NGINX_FLAVOURS[@]}"; do pkg_installed "$f" && continue 2; done
            printf '%s\n' "$p"
        else
            pkg_installed "$p" || printf '%s\n' "$p"
        fi
    done
}

python_test_deps_ok() { command -v python3 >/dev/null && python3 -c 'import pytest, requests' 2>/dev/null; }
openapi_core_ok() {
    python3 -c 'import sys, openapi_core; from openapi_core import OpenAPI, Config
sys.exit(tuple(int(x) for x in openapi_core.__version__.split(".")[:2]) < (0, 19))' 2>/dev/null
}

# pytest + requests: Debian's packages for the system python3 (pip refuses to touch it, PEP 668),
# pip for any other python3 (pyenv, venv, ...).
ensure_python_test_deps() {
    python_test_deps_ok && return 0
    if ! command -v python3 >/dev/null || [[ "$(python3 -c 'import sys; print(sys.prefix)' 2>/dev/null)" == /usr ]]; then
        local -a pk=(python3-pytest python3-requests)
        command -v python3 >/dev/null || pk=(python3 "${pk[@]}")
        install_missing_packages "${pk[@]}"
    else
        log "python3 -m pip install pytest requests"
        python3 -m pip install --quiet pytest requests
    fi
    python_test_deps_ok || die "python3 still cannot import pytest and requests"
}

ensure_openapi_core() {
    openapi_core_ok && return 0
    log "python3 -m pip install openapi-core==$OPENAPI_CORE_VERSION"
    if ! python3 -m pip install --quiet "openapi-core==$OPENAPI_CORE_VERSION"; then
        # A Debian system python refuses plain pip installs (PEP 668).
        log "retrying with --user --break-system-packages"
        python3 -m pip install --quiet --user --break-system-packages "openapi-core==$OPENAPI_CORE_VERSION"
    fi
    openapi_core_ok || die "python3 still cannot import openapi-core >= 0.19"
}

main() {
    local -a want=("${DEB_PACKAGES[@]}") missing=()
    [[ "${1:-}" == --test ]] && want+=("${TEST_DEB_PACKAGES[@]}")
    if command -v dpkg-query >/dev/null; then
        mapfile -t missing < <(missing_packages "${want[@]}")
        install_missing_packages "${missing[@]}"
        (( ${#missing[@]} )) || log "Debian packages present"
    else
        log "not a Debian system: make sure these (or their equivalents) are installed: ${want[*]}"
    fi
    if [[ "${1:-}" == --test ]]; then
        ensure_python_test_deps
        ensure_openapi_core
        log "python3 with pytest, requests and openapi-core present"
    fi
    command -v swift >/dev/null || log "warning: no 'swift' on PATH; install the Swift toolchain (https://www.swift.org/install/linux/) to build"
}

main "$@"

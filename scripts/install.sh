#!/usr/bin/env bash
# Installs Stockroom for systemd + nginx on Debian (see docs/deployment.md).
# Builds nothing: run `swift build -c release` first, or point BIN_DIR at the
# binaries.
#
#   sudo scripts/install.sh                     install on this machine
#   DESTDIR=/tmp/stage scripts/install.sh       staged install into a folder:
#                                               no user, no chown, no systemctl
#
# Settings (environment):
#   BIN_DIR              binaries to install      (default: <repo>/.build/release)
#   DESTDIR              staging root             (default: none, install for real)
#   STOCKROOM_PROCESSES  responder instances, >= 2 (default: 2; @1 and @2 come
#                        with stockroom.target, more are enabled here)
#   NGINX_LISTEN         nginx `listen` value     (default: 80)
#   NGINX_SERVER_NAME    nginx `server_name`      (default: _)
#   NGINX_GROUP          nginx workers' group     (default: www-data)
#   NGINX_KEEP_DEFAULT_SITE  1 keeps Debian's default site enabled on port 80 (default: it is disabled)
#
# Installs: /usr/local/bin/{stockroom-fcgi,stockroom-worker,stockroomctl},
# /usr/share/stockroom/sql/, /usr/share/stockroom/stockroom.env.example,
# /usr/share/stockroom/openapi.yaml (served at /api/v1/openapi.yaml),
# /usr/share/doc/stockroom/deployment.md, /etc/systemd/system/ units,
# /etc/stockroom/stockroom.env (only if absent), /etc/nginx/snippets/
# stockroom-http.conf and stockroom-locations.conf,
# /etc/nginx/sites-available/stockroom (+ link in sites-enabled). An existing env file or a locally changed site file is kept;
# the new site file is then written next to it as stockroom.new.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=${BIN_DIR:-$repo/.build/release}
DESTDIR=${DESTDIR:-}
PROCESSES=${STOCKROOM_PROCESSES:-2}
NGINX_LISTEN=${NGINX_LISTEN:-80}
NGINX_SERVER_NAME=${NGINX_SERVER_NAME:-_}
NGINX_GROUP=${NGINX_GROUP:-www-data}
SERVICE_USER=stockroom
KEEPALIVE=8 # `keepalive` in nginx/stockroom.site.conf

say() { printf '%s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
    printf 'install.sh: %s\n' "$*" >&2
    exit 1
}

staged() { [ -n "$DESTDIR" ]; }

if staged; then
    case $DESTDIR in /*) ;; *) DESTDIR=$(pwd)/$DESTDIR ;; esac
    DESTDIR=${DESTDIR%/}
    [ -n "$DESTDIR" ] || die "DESTDIR=/ is not a staging folder; unset DESTDIR to install for real"
elif [ "$(id -u)" -ne 0 ]; then
    die "run as root (or set DESTDIR=/some/dir for a staged install)"
fi

case $PROCESSES in
    '' | *[!0-9]*) die "STOCKROOM_PROCESSES must be a number, got '$PROCESSES'" ;;
esac
[ "$PROCESSES" -ge 2 ] || die "STOCKROOM_PROCESSES must be at least 2 (stockroom.target wants instances 1 and 2)"

binaries="stockroom-fcgi stockroom-worker stockroomctl"
for bin in $binaries; do
    [ -x "$BIN_DIR/$bin" ] || die "$BIN_DIR/$bin not found: run 'swift build -c release' or set BIN_DIR"
done
shopt -s nullglob
sql_files=("$repo"/sql/*.sql)
shopt -u nullglob
[ ${#sql_files[@]} -gt 0 ] || die "no migrations in $repo/sql"

# --- service user ------------------------------------------------------------
if ! staged; then
    if ! getent group "$SERVICE_USER" >/dev/null; then
        groupadd --system "$SERVICE_USER"
        say "created group $SERVICE_USER"
    fi
    if ! getent passwd "$SERVICE_USER" >/dev/null; then
        useradd --system --gid "$SERVICE_USER" --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin --comment "Stockroom store backend" "$SERVICE_USER"
        say "created system user $SERVICE_USER"
    fi
    getent group "$NGINX_GROUP" >/dev/null ||
        warn "group $NGINX_GROUP does not exist (is nginx installed?); the responder cannot hand its socket to nginx"
fi

# --- binaries, migrations, docs ----------------------------------------------
install -d -m 0755 "$DESTDIR/usr/local/bin"
for bin in $binaries; do
    install -m 0755 "$BIN_DIR/$bin" "$DESTDIR/usr/local/bin/$bin"
    say "installed /usr/local/bin/$bin"
done

install -d -m 0755 "$DESTDIR/usr/share/stockroom/sql"
install -m 0644 "${sql_files[@]}" "$DESTDIR/usr/share/stockroom/sql/"
install -m 0644 "$repo/systemd/stockroom.env.example" "$DESTDIR/usr/share/stockroom/stockroom.env.example"
say "installed ${#sql_files[@]} migrations in /usr/share/stockroom/sql"
# Read by nginx's workers (www-data): world-readable, like the rest of /usr/share.
install -m 0644 "$repo/docs/openapi.yaml" "$DESTDIR/usr/share/stockroom/openapi.yaml"
say "installed /usr/share/stockroom/openapi.yaml (nginx serves it at /api/v1/openapi.yaml)"
if [ -f "$repo/docs/deployment.md" ]; then
    install -d -m 0755 "$DESTDIR/usr/share/doc/stockroom"
    install -m 0644 "$repo/docs/deployment.md" "$DESTDIR/usr/share/doc/stockroom/deployment.md"
fi

# --- systemd units -------------------------------------------------------------
unit_dir=$DESTDIR/etc/systemd/system
install -d -m 0755 "$unit_dir"
for unit in stockroom-fcgi@.service stockroom-worker.service stockroom-migrate.service stockroom.target; do
    install -m 0644 "$repo/systemd/$unit" "$unit_dir/$unit"
done
# Instances beyond 1 and 2: the same link `systemctl enable stockroom-fcgi@N`
# makes (WantedBy=stockroom.target), done by hand so it also works staged.
install -d -m 0755 "$unit_dir/stockroom.target.wants"
for ((i = 3; i <= PROCESSES; i++)); do
    ln -sfn /etc/systemd/system/stockroom-fcgi@.service "$unit_dir/stockroom.target.wants/stockroom-fcgi@$i.service"
done
# Drop links of instances no longer wanted (after lowering STOCKROOM_PROCESSES).
for link in "$unit_dir"/stockroom.target.wants/stockroom-fcgi@*.service; do
    [ -L "$link" ] || continue
    n=${link##*@}
    n=${n%.service}
    case $n in '' | *[!0-9]*) continue ;; esac
    if [ "$n" -gt "$PROCESSES" ]; then rm -f "$link"; fi
done
say "installed units in /etc/systemd/system ($PROCESSES responder instances, the order worker)"

# --- configuration -------------------------------------------------------------
conf_dir=$DESTDIR/etc/stockroom
env_file=$conf_dir/stockroom.env
install -d -m 0750 "$conf_dir"
staged || chown "root:$SERVICE_USER" "$conf_dir"
new_env=no
if [ ! -e "$env_file" ]; then
    install -m 0640 "$repo/systemd/stockroom.env.example" "$env_file"
    staged || chown "root:$SERVICE_USER" "$env_file"
    new_env=yes
    say "created /etc/stockroom/stockroom.env from the example (mode 0640 root:$SERVICE_USER)"
else
    say "kept existing /etc/stockroom/stockroom.env"
    if grep -Eq '^[[:space:]]*STOCKROOM_SOCKET=' "$env_file"; then
        warn "/etc/stockroom/stockroom.env sets STOCKROOM_SOCKET: remove it, it overrides every instance's socket"
    fi
fi

# --- nginx -----------------------------------------------------------------------
upstream_servers=""
for ((i = 1; i <= PROCESSES; i++)); do
    upstream_servers+="server unix:/run/stockroom/fcgi-$i.sock max_fails=1 fail_timeout=2s;"$'\n'
done
nginx_dir=$DESTDIR/etc/nginx
install -d -m 0755 "$nginx_dir/snippets" "$nginx_dir/sites-available" "$nginx_dir/sites-enabled"
install -m 0644 "$repo/nginx/stockroom-http.conf" "$nginx_dir/snippets/stockroom-http.conf"
install -m 0644 "$repo/nginx/stockroom-locations.conf" "$nginx_dir/snippets/stockroom-locations.conf"

rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
# @UPSTREAM_SERVERS@ becomes one line per instance, at the placeholder's indent.
awk -v listen="$NGINX_LISTEN" -v name="$NGINX_SERVER_NAME" -v servers="$upstream_servers" '
    /@UPSTREAM_SERVERS@/ {
        indent = $0; sub(/@UPSTREAM_SERVERS@.*/, "", indent)
        n = split(servers, lines, "\n")
        for (i = 1; i <= n; i++) if (lines[i] != "") print indent lines[i]
        next
    }
    { gsub(/@LISTEN@/, listen); gsub(/@SERVER_NAME@/, name); print }
' "$repo/nginx/stockroom.site.conf" >"$rendered"
if grep -q '@[A-Z_]*@' "$rendered"; then
    die "unrendered placeholder in the nginx site: $(grep -o '@[A-Z_]*@' "$rendered" | head -n 1)"
fi
site=$nginx_dir/sites-available/stockroom
# The last rendering installed, to tell our own earlier version (replaced) from
# one the operator edited, e.g. for TLS (kept), the way dpkg treats conffiles.
last=$DESTDIR/usr/share/stockroom/stockroom.site.installed
if [ -e "$site" ] && ! cmp -s "$rendered" "$site" && ! { [ -e "$last" ] && cmp -s "$site" "$last"; }; then
    install -m 0644 "$rendered" "$site.new"
    warn "kept your edited /etc/nginx/sites-available/stockroom; the new version is stockroom.new (diff and merge it)"
else
    install -m 0644 "$rendered" "$site"
    rm -f "$site.new"
    say "installed /etc/nginx/sites-available/stockroom (listen $NGINX_LISTEN, $PROCESSES upstream sockets)"
fi
install -m 0644 "$rendered" "$last"
ln -sfn /etc/nginx/sites-available/stockroom "$nginx_dir/sites-enabled/stockroom"

# Errors nginx meets before it knows the Host (a bad request line, 414, 505) are answered by the
# default server of the address: with Debian's placeholder site enabled they would be its HTML.
if [ "$NGINX_LISTEN" = 80 ] && [ -L "$nginx_dir/sites-enabled/default" ]; then
    if [ "${NGINX_KEEP_DEFAULT_SITE:-0}" = 1 ]; then
        warn "kept /etc/nginx/sites-enabled/default (NGINX_KEEP_DEFAULT_SITE=1): it is the default server on port 80, so errors nginx meets before it knows the Host are its HTML pages, not Stockroom's JSON"
    else
        rm -f "$nginx_dir/sites-enabled/default"
        say "disabled Debian's default site (removed the link /etc/nginx/sites-enabled/default; /etc/nginx/sites-available/default is kept): Stockroom's site is the default server on port 80"
    fi
fi

# --- pool sizing -----------------------------------------------------------------
threads=32
value=$(sed -n 's/^[[:space:]]*STOCKROOM_THREADS=\([0-9][0-9]*\).*/\1/p' "$env_file" | tail -n 1)
[ -n "$value" ] && threads=$value
workers=$(sed -n 's/^[[:space:]]*worker_processes[[:space:]]\{1,\}\([0-9a-z]*\);.*/\1/p' /etc/nginx/nginx.conf 2>/dev/null | head -n 1)
case $workers in '' | auto) workers=$(nproc 2>/dev/null || echo 1) ;; esac
pinned=$((KEEPALIVE * workers))
total=$((threads * PROCESSES))
say "pool: $PROCESSES x $threads = $total responder threads; up to $KEEPALIVE x $workers = $pinned pinned by idle nginx connections"
if [ $((pinned * 2)) -gt "$total" ]; then
    warn "idle kept-alive connections could pin more than half of the threads: raise STOCKROOM_THREADS or STOCKROOM_PROCESSES, or lower keepalive in the site (docs/deployment.md, Sizing the pool)"
fi

# --- next steps ------------------------------------------------------------------
if staged; then
    say ""
    say "Staged into $DESTDIR (no user created, no ownership set, systemd and nginx untouched)."
    exit 0
fi
cat <<EOF

Installed. Next steps:

1. Create the database and its user in MariaDB (pick a password, e.g. openssl rand -hex 24):
     mariadb -uroot <<'SQL'
     CREATE DATABASE IF NOT EXISTS stockroom CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
     CREATE USER IF NOT EXISTS 'stockroom'@'localhost' IDENTIFIED BY 'the-password';
     GRANT ALL PRIVILEGES ON stockroom.* TO 'stockroom'@'localhost';
     SQL
2. Put that password (and anything else to change) in /etc/stockroom/stockroom.env$([ "$new_env" = yes ] && printf ' (just created from the example)').
3. Start the services now and at boot (migrations run first):
     systemctl daemon-reload && systemctl enable --now stockroom.target
     systemctl status 'stockroom-fcgi@*' stockroom-worker stockroom-migrate
4. Check and load the nginx site:
     nginx -t && systemctl reload nginx
     curl -s http://127.0.0.1/health
5. Make an administrator:
     systemd-run --quiet --pipe --wait -p User=stockroom -p EnvironmentFile=/etc/stockroom/stockroom.env \
         /usr/local/bin/stockroomctl create-admin NAME      (then type the password, Enter)

After an upgrade (new binaries or migrations): rerun this script, then
     systemctl daemon-reload && systemctl restart stockroom.target
EOF

# shellcheck shell=bash
# The private PostgreSQL 15 cluster in .crm/pg: loopback only, its own socket
# directory, one login role and one database per service.
#
# As root the cluster belongs to the `postgres` user (initdb refuses root) and
# its binaries run through `runuser -u postgres --`; otherwise it belongs to
# whoever runs tools/crm. psql always runs as the caller: pg_ident maps the
# caller to the `postgres` role on the private socket.

CRM_PG_LOG="$CRM_PGDATA/postgres.log"  # inside the owner-only data dir
CRM_PG_LOG_LINK="$CRM_LOGS/postgres.log"

# Runs a PostgreSQL server binary as the cluster's owner.
pg_as_owner() {
  local bin="$CRM_PG_BIN/$1"
  shift
  if is_root; then
    (cd / && runuser -u postgres -- "$bin" "$@")
  else
    "$bin" "$@"
  fi
}

# psql as the `postgres` superuser over the private socket.
pg_psql() {
  PGCONNECT_TIMEOUT=5 "$CRM_PG_BIN/psql" -h "$CRM_PGSOCK" -p "$CRM_PG_PORT" -U postgres "$@"
}

# Prints the postmaster's pid if our cluster runs (the pid in postmaster.pid
# is a `postgres` process whose working directory is our data dir).
pg_pid() {
  local pid
  [[ -r $CRM_PGDATA/postmaster.pid ]] || return 1
  read -r pid <"$CRM_PGDATA/postmaster.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]] || return 1
  [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$CRM_PGDATA" ]] || return 1
  printf '%s' "$pid"
}

# The port the running cluster listens on (line 4 of postmaster.pid).
pg_running_port() { sed -n 4p "$CRM_PGDATA/postmaster.pid"; }

# Directories owned by the cluster's user, and the check that this user can
# reach them at all (a checkout under a mode-700 home directory cannot work).
pg_dirs() {
  state_dirs
  chmod o+x "$CRM_STATE"
  mkdir -p "$CRM_PGDATA" "$CRM_PGSOCK"
  if is_root; then
    id postgres >/dev/null 2>&1 || die "there is no 'postgres' user (is postgresql-15 installed?)"
    chown postgres:postgres "$CRM_PGDATA" "$CRM_PGSOCK"
  fi
  chmod 700 "$CRM_PGDATA" "$CRM_PGSOCK"
  ln -sfn "$CRM_PG_LOG" "$CRM_PG_LOG_LINK"
  is_root || return 0
  runuser -u postgres -- test -x "$CRM_PGSOCK" && return 0
  local dir="" part
  local -a parts
  IFS=/ read -ra parts <<<"${CRM_STATE#/}"
  for part in "${parts[@]}"; do
    dir="$dir/$part"
    runuser -u postgres -- test -x "$dir" ||
      die "the postgres user cannot enter $dir, so it cannot reach $(show_path "$CRM_STATE"); run 'chmod o+x $dir' or use a checkout outside it"
  done
  die "the postgres user cannot reach $CRM_PGSOCK"
}

pg_init() {
  [[ -f $CRM_PGDATA/PG_VERSION ]] && return 0
  [[ -x $CRM_PG_BIN/initdb ]] || die "$CRM_PG_BIN/initdb not found (install postgresql-15, or set CRM_PG_BIN)"
  say "creating the database cluster in $(show_path "$CRM_PGDATA")"
  local log="$CRM_LOGS/initdb.log"
  if ! pg_as_owner initdb -D "$CRM_PGDATA" -U postgres --encoding=UTF8 --locale=C \
    --auth-local=peer --auth-host=reject --no-instructions >"$log" 2>&1; then
    tail -n 15 "$log" >&2
    die "initdb failed (log: $(show_path "$log"))"
  fi
}

# pg_hba.conf and pg_ident.conf, rewritten from here every time so they never
# drift: operators as `postgres` on the private socket (peer, mapped) and on
# loopback TCP; each service role only into its own database, by password.
# Prints "changed" when a file changed.
pg_write_auth() {
  local me
  me=$(id -un)
  local hba ident
  hba=$(
    cat <<EOF
# Written by tools/crm on every start; edit tools/lib/db.sh, not this file.
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       postgres                 peer map=crm
host    all       postgres  127.0.0.1/32   trust
host    sameuser  all       127.0.0.1/32   scram-sha-256
EOF
  )
  ident=$(
    cat <<EOF
# Written by tools/crm: OS users allowed to be the postgres role on the socket.
# MAPNAME  SYSTEM-USERNAME  PG-USERNAME
crm        postgres         postgres
EOF
  )
  [[ $me == postgres ]] || ident+=$'\n'"$(printf 'crm        %-16s postgres' "$me")"
  local f content changed=""
  for f in pg_hba.conf pg_ident.conf; do
    if [[ $f == pg_hba.conf ]]; then content=$hba; else content=$ident; fi
    [[ -f $CRM_PGDATA/$f && "$(<"$CRM_PGDATA/$f")" == "$content" ]] && continue
    printf '%s\n' "$content" >"$CRM_PGDATA/$f"
    chmod 600 "$CRM_PGDATA/$f"
    is_root && chown postgres:postgres "$CRM_PGDATA/$f"
    changed=changed
  done
  printf '%s' "$changed"
}

# deploy/postgres/crm.conf (the suite's settings) copied into the cluster and
# included from its postgresql.conf. Prints "changed" when it changed.
pg_write_conf() {
  local src="$CRM_ROOT/deploy/postgres/crm.conf" dst="$CRM_PGDATA/crm.conf"
  local line="include_if_exists = 'crm.conf'  # tools/crm: deploy/postgres/crm.conf"
  grep -qxF "$line" "$CRM_PGDATA/postgresql.conf" || printf '\n%s\n' "$line" >>"$CRM_PGDATA/postgresql.conf"
  cmp -s "$src" "$dst" && return 0
  cp "$src" "$dst"
  chmod 600 "$dst"
  is_root && chown postgres:postgres "$dst"
  printf changed
}

pg_start() {
  pg_dirs
  pg_init
  local changed conf_changed
  changed=$(pg_write_auth)
  conf_changed=$(pg_write_conf)
  if pg_pid >/dev/null; then
    local port
    port=$(pg_running_port)
    if [[ $port != "$CRM_PG_PORT" ]]; then
      warn "the database already runs on port $port; CRM_PG_PORT=$CRM_PG_PORT takes effect after tools/crm down"
      CRM_PG_PORT=$port
    fi
    if [[ -n $changed$conf_changed ]]; then pg_as_owner pg_ctl -D "$CRM_PGDATA" -s reload; fi
    if [[ -n $conf_changed ]]; then
      warn "deploy/postgres/crm.conf changed; shared_buffers takes effect after tools/crm down"
    fi
    return 0
  fi
  port_check "$CRM_PG_PORT" postgres CRM_PG_PORT
  if is_root; then
    touch "$CRM_PG_LOG" && chown postgres:postgres "$CRM_PG_LOG"
  fi
  local opts="-c listen_addresses=$CRM_HOST -c port=$CRM_PG_PORT -c 'unix_socket_directories=$CRM_PGSOCK'"
  if ! pg_as_owner pg_ctl -D "$CRM_PGDATA" -l "$CRM_PG_LOG" -o "$opts" -w -t 60 -s start 9>&-; then
    tail -n 15 "$CRM_PG_LOG" >&2
    die "PostgreSQL did not start (log: $(show_path "$CRM_PG_LOG_LINK"))"
  fi
}

pg_stop() {
  pg_pid >/dev/null || return 0
  pg_as_owner pg_ctl -D "$CRM_PGDATA" -m fast -w -t 60 -s stop || die "pg_ctl stop failed"
  say "stopped postgres"
}

# The libpq connection string a service gets: TCP on loopback, its own role
# and database, and the password from the passfile (never in argv or env).
svc_dsn() {
  local pass="$CRM_SECRETS/pgpass"
  if [[ ! $pass =~ ^[A-Za-z0-9_./-]+$ ]]; then
    pass=${pass//\\/\\\\}
    pass="'${pass//\'/\\\'}'"
  fi
  printf 'host=%s port=%s dbname=crm_%s user=crm_%s passfile=%s application_name=crm-%s' \
    "$CRM_HOST" "$CRM_PG_PORT" "$1" "$1" "$pass" "$1"
}

# Roles, databases and passwords, idempotently. A service whose DSN already
# logs in is left untouched, so a second `up` changes nothing.
pg_provision() {
  local svc pgpass="" pw
  for svc in "${CRM_SERVICES[@]}"; do
    svc_has_db "$svc" || continue
    secret_ensure "$svc.db_password" 24
    pw=$(<"$CRM_SECRETS/$svc.db_password")
    pgpass+="$CRM_HOST:*:crm_$svc:crm_$svc:$pw"$'\n'
  done
  if [[ ! -f $CRM_SECRETS/pgpass || "$(<"$CRM_SECRETS/pgpass")"$'\n' != "$pgpass" ]]; then
    (umask 077 && printf '%s' "$pgpass" >"$CRM_SECRETS/pgpass.tmp" && mv -f "$CRM_SECRETS/pgpass.tmp" "$CRM_SECRETS/pgpass")
  fi

  # Role+database pairs that exist already; only those are worth a login test.
  local existing
  existing=$(pg_psql -XAtq -d postgres -c \
    "SELECT rolname FROM pg_roles r JOIN pg_database d ON d.datname = r.rolname AND d.datdba = r.oid") ||
    die "cannot query the database as postgres (log: $(show_path "$CRM_PG_LOG_LINK"))"
  for svc in "${CRM_SERVICES[@]}"; do
    svc_has_db "$svc" || continue
    if grep -qxF "crm_$svc" <<<"$existing" &&
      PGCONNECT_TIMEOUT=5 "$CRM_PG_BIN/psql" "$(svc_dsn "$svc")" -XAtqc 'select 1' >/dev/null 2>&1; then
      continue
    fi
    pw=$(<"$CRM_SECRETS/$svc.db_password")
    # Fed on stdin so the password is in no process's argv; the server is told
    # not to log the statements of this session even if one fails.
    printf '%s\n' \
      "SET log_statement = 'none';" \
      "SET log_min_error_statement = 'panic';" \
      "SELECT 'CREATE ROLE crm_$svc' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crm_$svc') \\gexec" \
      "ALTER ROLE crm_$svc WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '$pw';" \
      "SELECT 'CREATE DATABASE crm_$svc OWNER crm_$svc' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'crm_$svc') \\gexec" \
      "ALTER DATABASE crm_$svc OWNER TO crm_$svc;" \
      "REVOKE ALL ON DATABASE crm_$svc FROM PUBLIC;" \
      "GRANT CONNECT, TEMPORARY ON DATABASE crm_$svc TO crm_$svc;" |
      pg_psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null ||
      die "could not create role/database crm_$svc"
    PGCONNECT_TIMEOUT=5 "$CRM_PG_BIN/psql" "$(svc_dsn "$svc")" -XAtqc 'select 1' >/dev/null ||
      die "crm_$svc still cannot log in after provisioning (see $(show_path "$CRM_PG_LOG_LINK"))"
    say "database crm_$svc ready (role crm_$svc)"
  done
}

# Start (initdb on first use) and provision: what every service needs first.
db_up() {
  pg_start
  pg_provision
}

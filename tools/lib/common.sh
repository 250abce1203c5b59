# shellcheck shell=bash disable=SC2034,SC2153  # globals used by the other files
# Shared by tools/crm's commands: where things live, the service list, and
# small helpers (messages, ports, secrets, the state lock). Sourced, never run.
# Expects CRM_ROOT (the repository root, a physical path) to be set.

CRM_STATE="$CRM_ROOT/.crm"           # git-ignored; `tools/crm reset` wipes it
CRM_LOGS="$CRM_STATE/logs"
CRM_RUN="$CRM_STATE/run"             # <svc>.pid, <svc>.addr, lock
CRM_SECRETS="$CRM_STATE/secrets"     # mode 700: pgpass, db passwords, page-token keys
CRM_PGDATA="$CRM_STATE/pg"
CRM_PGSOCK="$CRM_STATE/pg-socket"
CRM_PG_BIN="${CRM_PG_BIN:-/usr/lib/postgresql/15/bin}"
CRM_PG_PORT="${CRM_PG_PORT:-25432}"
CRM_HOST=127.0.0.1                   # everything listens on loopback only
CRM_ADMIN_EMAIL="${CRM_ADMIN_EMAIL:-admin@crm.local}"  # the bootstrap admin (issue 3)

CRM_BUILD="${CRM_BUILD_DIR:-build}"
[[ $CRM_BUILD == /* ]] || CRM_BUILD="$CRM_ROOT/$CRM_BUILD"
CRM_BIN="$CRM_BUILD/bin"

CRM_START_TIMEOUT="${CRM_START_TIMEOUT:-30}"  # seconds to reach SERVING
CRM_STOP_TIMEOUT="${CRM_STOP_TIMEOUT:-15}"    # SIGTERM grace (drain is 10 s) before SIGKILL

# Services in start order (auth first, then audit, then the rest); stop order
# is the reverse. Each listens on 127.0.0.1:${CRM_<SVC>_PORT:-default}.
CRM_SERVICES=(auth audit leads properties notifications gateway)
# The gateway (gRPC-web for browsers) comes last: it owns no database
# (svc_has_db), gets its upstream addresses in svc_launch and answers
# readiness on GET /healthz (svc_ready) rather than gRPC health.
declare -A CRM_DEFAULT_PORT=(
  [auth]=50051
  [leads]=50052
  [properties]=50053
  [notifications]=50054
  [audit]=50055
  [gateway]=8080
)

say() { printf 'crm: %s\n' "$*"; }
warn() { printf 'crm: warning: %s\n' "$*" >&2; }
die() {
  printf 'crm: %s\n' "$*" >&2
  exit 1
}
is_root() { [[ $EUID -eq 0 ]]; }

# A path as shown to the user: relative to the repository when inside it.
show_path() {
  case $1 in
    "$CRM_ROOT"/*) printf '%s' "${1#"$CRM_ROOT"/}" ;;
    *) printf '%s' "$1" ;;
  esac
}

is_service() {
  local s
  for s in "${CRM_SERVICES[@]}"; do [[ $s == "$1" ]] && return 0; done
  return 1
}

# Every service owns a database except the gateway.
svc_has_db() { [[ $1 != gateway ]]; }

require_service() {
  is_service "$1" || die "unknown service '$1' (one of: ${CRM_SERVICES[*]})"
}

# The port a service is configured to use: CRM_<SVC>_PORT or its default.
svc_port() {
  local var="CRM_${1^^}_PORT"
  local port="${!var:-${CRM_DEFAULT_PORT[$1]}}"
  if [[ ! $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    die "$var='$port' is not a port number"
  fi
  printf '%s' "$port"
}

# True if some socket listens on TCP port $1 at an address that a bind to
# 127.0.0.1 would collide with (0.0.0.0, 127.0.0.1, ::, ::ffff:127.0.0.1).
port_in_use() {
  local hex
  printf -v hex '%04X' "$1"
  awk -v port="$hex" '
    $4 == "0A" {
      split($2, a, ":")
      if (a[2] == port && (a[1] ~ /^0+$/ || a[1] == "0100007F" ||
                           a[1] == "0000000000000000FFFF00000100007F")) found = 1
    }
    END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Fails with the one-line message operators expect when the port is taken.
port_check() { # <port> <label> <env var to change it>
  port_in_use "$1" || return 0
  die "port $1 ($2) is already in use by another process; set $3 or free it"
}

# Secrets are hex strings (no newline), created once, mode 600 in a 700 dir.
secret_ensure() { # <file name> <random bytes>
  local f="$CRM_SECRETS/$1" hex
  [[ -s $f ]] && return 0
  if command -v openssl >/dev/null 2>&1; then
    hex=$(openssl rand -hex "$2")
  else
    hex=$(od -An -N"$2" -tx1 /dev/urandom | tr -d ' \n')
  fi
  [[ ${#hex} -eq $(($2 * 2)) ]] || die "could not generate a random secret for $f"
  (umask 077 && printf '%s' "$hex" >"$f.tmp" && mv -f "$f.tmp" "$f")
}

# Creates .crm/ and the directories only we use. PostgreSQL's own directories
# are made in db.sh, owned by the cluster's user.
state_dirs() {
  mkdir -p "$CRM_STATE" "$CRM_LOGS" "$CRM_RUN"
  (umask 077 && mkdir -p "$CRM_SECRETS")
  chmod 700 "$CRM_SECRETS"
}

# One mutating command at a time (up/start/stop/down/reset). fd 9 holds the
# lock; no long-lived child inherits it (postgres is started with 9>&-, the
# services close every inherited descriptor: close_inherited_fds).
lock_state() {
  state_dirs
  exec 9>"$CRM_RUN/lock"
  if ! flock -n 9; then
    say "waiting for another tools/crm command to finish..."
    flock -w 120 9 || die "another tools/crm command holds $(show_path "$CRM_RUN/lock")"
  fi
}

unlock_state() {
  flock -u 9 2>/dev/null || true
  exec 9>&-
}

# shellcheck shell=bash
# Service processes: start one with its environment, wait for SERVING, stop it
# by pid. Pid files are .crm/run/<svc>.pid, the address it was started on is
# .crm/run/<svc>.addr, its log (stdout+stderr) is .crm/logs/<svc>.log.

svc_bin() { printf '%s' "$CRM_BIN/crm-$1"; }
svc_log() { printf '%s' "$CRM_LOGS/$1.log"; }

# The executable a live pid runs ("" for a zombie). /proc/<pid>/exe needs to
# be ours; otherwise argv[0] is the best we can read.
pid_exe() {
  local exe=""
  exe=$(readlink "/proc/$1/exe" 2>/dev/null) ||
    { [[ -r /proc/$1/cmdline ]] && IFS= read -r -d '' exe <"/proc/$1/cmdline"; } || true
  printf '%s' "${exe% (deleted)}"
}

# Prints the pid of a running service. The pid file is trusted only if that
# pid really runs crm-<svc>; a stale pid file is removed.
svc_pid() {
  local f="$CRM_RUN/$1.pid" pid=""
  [[ -f $f ]] || return 1
  read -r pid <"$f" || true
  if [[ $pid =~ ^[0-9]+$ && $(pid_exe "$pid") == */crm-$1 ]]; then
    printf '%s' "$pid"
    return 0
  fi
  rm -f "$f" "$CRM_RUN/$1.addr" 2>/dev/null || true
  return 1
}

# The address a service runs on (as started), or would be started on.
svc_addr() {
  local f="$CRM_RUN/$1.addr" addr=""
  [[ -f $f ]] && read -r addr <"$f"
  [[ -n $addr ]] || addr="$CRM_HOST:$(svc_port "$1")"
  printf '%s' "$addr"
}

# Asks grpc.health.v1.Health/Check through crm-health (over mutual TLS, as
# the operators' `client`, after `up --tls`); prints its answer on one line
# and succeeds only on SERVING. Before crm-health is built, a listening port
# is the best answer there is.
svc_health() { # <addr> [timeout_ms]
  local probe="$CRM_BIN/crm-health" out rc=0 tls_args
  if [[ -x $probe ]]; then
    mapfile -t tls_args < <(tls_probe_args)
    out=$("$probe" "$1" --timeout_ms="${2:-1000}" "${tls_args[@]}" 2>&1) || rc=$?
    out=${out//$'\n'/ }
    printf '%s' "${out:-exit $rc}"
    return "$rc"
  fi
  if port_in_use "${1##*:}"; then
    printf 'listening (no crm-health to ask)'
  else
    printf 'not listening (no crm-health to ask)'
    return 1
  fi
}

# The gateway's readiness: GET /healthz (200 when every backend it forwards
# to is SERVING), over bash's /dev/tcp so no HTTP client is needed.
http_health() { # <addr> [timeout_ms]
  local host=${1%:*} port=${1##*:} fd line timeout
  timeout=$(((${2:-1000} + 999) / 1000))
  # The group's redirection silences a refused connection: on the exec
  # itself it would come after the failing open, too late.
  if ! { exec {fd}<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
    printf 'not listening'
    return 1
  fi
  { printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" >&"$fd"; } 2>/dev/null || true
  IFS= read -r -t "$timeout" line <&"$fd" || line=""
  exec {fd}>&-
  line=${line%$'\r'}
  if [[ $line == "HTTP/1."?" 200 "* ]]; then
    printf 'SERVING'
    return 0
  fi
  printf '%s' "${line:-no answer to GET /healthz}"
  return 1
}

# Readiness of any service: gRPC health, or the gateway's /healthz.
svc_ready() { # <svc> <addr> [timeout_ms]
  if [[ $1 == gateway ]]; then
    http_health "$2" "${3:-1000}"
  else
    svc_health "$2" "${3:-1000}"
  fi
}

# Starts the binary in its own session (so a Ctrl-C in the terminal reaches
# only tools/crm, which then stops it with SIGTERM), detached from the
# terminal, with its settings in CRM_<SVC>_* variables: no secret in argv/env,
# only paths to files holding them.
# Closes every descriptor above stderr in the calling (sub)shell: a service
# must not keep its caller's pipes or locks open for its whole life (a
# `$(...)` or `| tee` around tools/crm would wait for it).
close_inherited_fds() {
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd=${fd##*/}
    if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then
      eval "exec $fd>&-" 2>/dev/null || true
    fi
  done
}

svc_launch() { # <svc>; sets CRM_LAUNCHED_PID
  local svc=$1 up=${1^^} addr log dsn=""
  addr="$CRM_HOST:$(svc_port "$svc")"
  log=$(svc_log "$svc")
  [[ -f $log ]] && mv -f "$log" "$log.1"
  if svc_has_db "$svc"; then
    secret_ensure "$svc.page_token_secret" 32
    dsn=$(svc_dsn "$svc")
  fi
  [[ $svc == auth ]] && auth_secrets_ensure
  if [[ $svc != audit && $svc != gateway ]]; then
    # Normally made with auth's secrets, before auth starts and creates the
    # accounts; made here too so starting one service alone cannot fail on it.
    mkdir -p "$CRM_SECRETS/service-accounts" && chmod 700 "$CRM_SECRETS/service-accounts"
    secret_ensure "service-accounts/$svc.secret" 32
  fi
  (
    export "CRM_${up}_LISTEN=$addr"
    if [[ -n $dsn ]]; then
      export "CRM_${up}_DSN=$dsn"
      export "CRM_${up}_PAGE_TOKEN_SECRET_FILE=$CRM_SECRETS/$svc.page_token_secret"
    fi
    if [[ $svc == gateway ]]; then
      gateway_export_env
      cd "$CRM_ROOT" || exit 1
      close_inherited_fds
      exec setsid "$(svc_bin "$svc")" </dev/null >>"$log" 2>&1
    fi
    # After `up --tls`: its certificate and key, and the CA for both
    # directions (file paths only, like the rest).
    tls_export_service_env "$svc"
    if [[ $svc == auth ]]; then
      # The gateway forwards browsers' addresses in x-forwarded-for, which
      # sign-in throttling believes only from it.
      export "CRM_AUTH_TRUSTED_PROXIES=${CRM_AUTH_TRUSTED_PROXIES:-$CRM_HOST}"
      export "CRM_AUTH_SIGNING_KEY_FILES=$CRM_SECRETS/auth_signing_key.pem"
      export "CRM_AUTH_ADMIN_EMAIL=$CRM_ADMIN_EMAIL"
      export "CRM_AUTH_ADMIN_PASSWORD_FILE=$CRM_SECRETS/admin_password"
      export "CRM_AUTH_SERVICE_ACCOUNTS_DIR=$CRM_SECRETS/service-accounts"
    fi
    # Where to fetch the token verification keys and, for the outbox relay,
    # to sign in (auth signs in to itself like any other service).
    export "CRM_${up}_AUTH_ADDRESS=$(svc_addr auth)"
    if [[ $svc != audit ]]; then
      # The outbox relay: audit's ingest stream, as this service's account.
      export "CRM_${up}_AUDIT_ADDRESS=$(svc_addr audit)"
      export "CRM_${up}_SERVICE_ACCOUNT_SECRET_FILE=$CRM_SECRETS/service-accounts/$svc.secret"
    fi
    cd "$CRM_ROOT" || exit 1
    close_inherited_fds
    exec setsid "$(svc_bin "$svc")" </dev/null >>"$log" 2>&1
  ) &
  CRM_LAUNCHED_PID=$!
  disown "$CRM_LAUNCHED_PID" 2>/dev/null || true # no "Killed" job notices from bash
  # Until the exec, that pid is still a copy of this shell (or setsid): wait
  # for it so the pid file never names a half-started process.
  local i
  for ((i = 0; i < 200; i++)); do
    case $(pid_exe "$CRM_LAUNCHED_PID") in
      */bash | */setsid) sleep 0.01 ;;
      *) break ;;
    esac
  done
  printf '%s\n' "$CRM_LAUNCHED_PID" >"$CRM_RUN/$svc.pid"
  printf '%s\n' "$addr" >"$CRM_RUN/$svc.addr"
}

# The origins whose pages may call through the gateway: CRM_CORS_ALLOWED_ORIGINS,
# by default a local dev server's (Vite's port).
gateway_origins() {
  printf '%s' "${CRM_CORS_ALLOWED_ORIGINS:-http://localhost:5173,http://127.0.0.1:5173}"
}

# The gateway's settings: every backend's address, the browsers' origins
# (CRM_CORS_ALLOWED_ORIGINS; by default a local dev server's), and after
# `up --tls` its client certificate for mutual TLS to the backends (it serves
# plain HTTP itself: TLS for browsers belongs to the edge in front of it).
gateway_export_env() {
  local svc
  for svc in auth audit leads properties notifications; do
    export "CRM_GATEWAY_${svc^^}_ADDRESS=$(svc_addr "$svc")"
  done
  export "CRM_GATEWAY_CORS_ALLOWED_ORIGINS=$(gateway_origins)"
  if tls_enabled; then
    export "CRM_GATEWAY_TLS_CA_FILE=$CRM_TLS/ca.crt"
    export "CRM_GATEWAY_TLS_CLIENT_CERT_FILE=$CRM_TLS/gateway.crt"
    export "CRM_GATEWAY_TLS_CLIENT_KEY_FILE=$CRM_TLS/gateway.key"
  fi
}

svc_show_log_tail() {
  local log
  log=$(svc_log "$1")
  [[ -s $log ]] || return 0
  printf 'crm: last lines of %s:\n' "$(show_path "$log")" >&2
  tail -n "${2:-20}" "$log" | sed 's/^/  | /' >&2
}

# Waits until the service answers SERVING; on failure says why, shows the log
# tail and returns 1.
svc_wait_serving() { # <svc> <pid> <addr>
  local svc=$1 pid=$2 addr=$3 out="" deadline=$((SECONDS + CRM_START_TIMEOUT))
  while :; do
    if [[ $(pid_exe "$pid") != */crm-$svc ]]; then
      printf 'crm: %s (pid %s) exited during start-up\n' "$svc" "$pid" >&2
      svc_show_log_tail "$svc"
      return 1
    fi
    out=$(svc_ready "$svc" "$addr" 1000) && return 0
    if ((SECONDS >= deadline)); then
      printf 'crm: %s (pid %s) is not SERVING on %s after %ss (last answer: %s)\n' \
        "$svc" "$pid" "$addr" "$CRM_START_TIMEOUT" "$out" >&2
      svc_show_log_tail "$svc"
      return 1
    fi
    sleep 0.25
  done
}

# Starts one service unless it already runs, and waits for SERVING.
svc_start() {
  local svc=$1 pid addr t0=$SECONDS
  if pid=$(svc_pid "$svc"); then
    addr=$(svc_addr "$svc")
    svc_wait_serving "$svc" "$pid" "$addr" || return 1
    say "$svc is already running (pid $pid, $addr)"
    return 0
  fi
  local bin
  bin=$(svc_bin "$svc")
  [[ -x $bin ]] || die "$(show_path "$bin") is not built (tools/crm up builds it unless CRM_NO_BUILD=1)"
  port_check "$(svc_port "$svc")" "$svc" "CRM_${svc^^}_PORT"
  svc_launch "$svc"
  pid=$CRM_LAUNCHED_PID
  addr=$(svc_addr "$svc")
  if ! svc_wait_serving "$svc" "$pid" "$addr"; then
    svc_stop "$svc" >/dev/null
    return 1
  fi
  say "started $svc: SERVING on $addr (pid $pid, $((SECONDS - t0))s)"
  CRM_STARTED=$((${CRM_STARTED:-0} + 1))
}

# SIGTERM (the service drains and exits 0), then SIGKILL after the grace period.
svc_stop() {
  local svc=$1 pid
  pid=$(svc_pid "$svc") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + CRM_STOP_TIMEOUT))
  while [[ -n $(pid_exe "$pid") ]] && ((SECONDS < deadline)); do sleep 0.1; done
  if [[ -n $(pid_exe "$pid") ]]; then
    warn "$svc (pid $pid) still runs ${CRM_STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
    # To its process group (setsid made it the leader): no child outlives it.
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 5))
    while [[ -n $(pid_exe "$pid") ]] && ((SECONDS < deadline)); do sleep 0.1; done
  fi
  rm -f "$CRM_RUN/$svc.pid" "$CRM_RUN/$svc.addr"
  say "stopped $svc (pid $pid)"
}

# All services in reverse start order, then the database.
stop_all() {
  local i
  for ((i = ${#CRM_SERVICES[@]} - 1; i >= 0; i--)); do
    svc_stop "${CRM_SERVICES[i]}"
  done
  pg_stop
}

# The auth service's secrets, made once: the token signing key, the
# bootstrap admin's password (CRM_ADMIN_PASSWORD, or generated and shown
# once) and one service-account secret per other service.
auth_secrets_ensure() {
  local key="$CRM_SECRETS/auth_signing_key.pem" admin="$CRM_SECRETS/admin_password" svc
  if [[ ! -s $key ]]; then
    (umask 077 && openssl genpkey -algorithm ed25519 -out "$key.tmp" 2>/dev/null && mv -f "$key.tmp" "$key") ||
      die "could not generate the token signing key with openssl"
  fi
  if [[ -n ${CRM_ADMIN_PASSWORD:-} ]]; then
    ((${#CRM_ADMIN_PASSWORD} >= 8 && ${#CRM_ADMIN_PASSWORD} <= 128)) ||
      die "CRM_ADMIN_PASSWORD must be 8 to 128 characters"
    (umask 077 && printf '%s' "$CRM_ADMIN_PASSWORD" >"$admin")
  elif [[ ! -s $admin ]]; then
    secret_ensure admin_password 12
    # shellcheck disable=SC2034 # read by print_endpoints in tools/crm
    CRM_ADMIN_PASSWORD_GENERATED=1
  fi
  mkdir -p "$CRM_SECRETS/service-accounts"
  chmod 700 "$CRM_SECRETS/service-accounts"
  for svc in "${CRM_SERVICES[@]}"; do
    [[ $svc == gateway ]] && continue # it calls as its callers, with their tokens
    secret_ensure "service-accounts/$svc.secret" 32
  done
}

# crm-import-listings' flags for the running suite, as the bootstrap admin
# (its password from its file, never on a command line), one per line.
import_listings_args() {
  printf '%s\n' "--target=$(svc_addr properties)" "--auth_address=$(svc_addr auth)" \
    "--login_email=$CRM_ADMIN_EMAIL" "--login_password_file=$CRM_SECRETS/admin_password"
  tls_client_args
}

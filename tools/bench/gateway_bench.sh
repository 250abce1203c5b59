#!/usr/bin/env bash
# What the gRPC-web gateway costs, against the suite of `tools/crm up
# --detach` (run it as `tools/crm bench gateway [flags]`): runs
# crm-gateway-bench (tools/gateway_bench/) once per part, with the suite's
# addresses, the bootstrap admin's password file (never its content on a
# command line), the gateway's pid (for its VmRSS/VmHWM) and, after `up
# --tls`, the operator's client certificate for the direct gRPC calls:
#
#   unary          GetUser of the admin through the gateway (gRPC-web over 16
#                  HTTP/1.1 keep-alive connections) against the same call
#                  straight to auth (gRPC, 16 in flight), 3 alternating
#                  rounds of 2 s warm-up + 10 s, medians (about 75 s);
#   first_message  WatchNotifications of the admin opened directly and
#                  through the gateway, 200 CreateNotification 20 ms apart:
#                  each arrival through the gateway against the direct one;
#   streams        2 000 WatchNotifications of the admin through the gateway
#                  and the gateway's memory with them open. The notifications
#                  service allows 16 streams per user by default, so it is
#                  restarted for this part with
#                  CRM_NOTIFICATIONS_MAX_WATCH_STREAMS_PER_USER raised, and
#                  restarted again as it was afterwards (also on Ctrl-C).
#
#   --parts=a,b     only these parts (default unary,first_message,streams)
#   --restart       restart the gateway first, so that its memory figures
#                   start from a fresh process
#   --json          one JSON line on stdout: {"date", "gateway_pid",
#                   "cases": {"unary": …, "first_message": …, "streams": …}}
#   any other flag  goes to crm-gateway-bench as given, after the script's
#                   (so it wins): --concurrency, --duration, --rounds,
#                   --notifications, --streams, ... (crm-gateway-bench --help)
#
# tools/README.md describes the run; services/gateway/README.md has the
# figures.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/../.." && pwd -P)
CRM_ROOT=$ROOT
# shellcheck source=SCRIPTDIR/../lib/bench.sh
source "$ROOT/tools/lib/bench.sh"
# shellcheck source=SCRIPTDIR/../lib/tls.sh
source "$ROOT/tools/lib/tls.sh" # tls_client_args

json=0 restart=0 parts=unary,first_message,streams streams=2000 args=()
for arg; do
  case $arg in
    --json) json=1 ;;
    --restart) restart=1 ;;
    --parts=*) parts=${arg#--parts=} ;;
    --part=*) die "bench gateway: use --parts=unary,first_message,streams" ;;
    --streams=*)
      streams=${arg#--streams=}
      args+=("$arg")
      ;;
    *) args+=("$arg") ;;
  esac
done
[[ $streams =~ ^[0-9]+$ ]] || die "bench gateway: --streams wants a number"
selected=()
IFS=, read -ra wanted <<<"$parts"
for part in "${wanted[@]}"; do
  case $part in
    unary | first_message | streams) selected+=("$part") ;;
    *) die "bench gateway: unknown part '$part' (unary, first_message, streams)" ;;
  esac
done
((${#selected[@]})) || die "bench gateway: --parts names none"

bench_require_suite gateway notifications auth gateway
[[ -x $CRM_BIN/crm-gateway-bench ]] ||
  die "bench gateway: $(show_path "$CRM_BIN/crm-gateway-bench") is not built"
if ((restart)); then
  printf 'bench gateway: restarting the gateway\n' >&2
  "$ROOT/tools/crm" restart gateway >&2
fi

work=$(mktemp -d)
cap_var=CRM_NOTIFICATIONS_MAX_WATCH_STREAMS_PER_USER
cap_raised=0 cap_before="" cap_was_set=0

# The notifications service as it was: the per-user cap it was started with
# (read from its environment), so that it is restarted with the same.
restore_notifications() {
  ((cap_raised)) || return 0
  cap_raised=0
  printf 'bench gateway: restarting the notifications service as it was\n' >&2
  if ((cap_was_set)); then
    env "$cap_var=$cap_before" "$ROOT/tools/crm" restart notifications >&2 ||
      warn "bench gateway: restarting notifications failed: run tools/crm restart notifications"
  else
    env -u "$cap_var" "$ROOT/tools/crm" restart notifications >&2 ||
      warn "bench gateway: restarting notifications failed: run tools/crm restart notifications"
  fi
  # The gateway's /healthz follows its backends within 2 s: leave the suite
  # SERVING, as it was found.
  if svc_pid gateway >/dev/null; then
    wait_gateway || true
  fi
}
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  restore_notifications
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Until the gateway's /healthz says SERVING (it polls its backends every 2 s).
wait_gateway() {
  local deadline=$((SECONDS + 30)) out=""
  sleep 2.5
  until out=$(http_health "$(svc_addr gateway)" 1000); do
    if ((SECONDS >= deadline)); then
      warn "bench gateway: the gateway is not SERVING 30 s after the restart ($out)"
      return 1
    fi
    sleep 0.5
  done
}

raise_cap() {
  local pid var
  pid=$(svc_pid notifications) || die "bench gateway: notifications is not running"
  while IFS= read -r -d '' var; do
    if [[ $var == "$cap_var="* ]]; then
      cap_was_set=1 cap_before=${var#*=}
    fi
  done <"/proc/$pid/environ"
  local cap=$((streams + 100))
  ((cap >= 2100)) || cap=2100
  printf 'bench gateway: restarting the notifications service with %s=%s\n' "$cap_var" "$cap" >&2
  cap_raised=1
  env "$cap_var=$cap" "$ROOT/tools/crm" restart notifications >&2
  wait_gateway || die "bench gateway: the gateway did not follow the notifications restart"
}

tls=()
mapfile -t tls < <(tls_client_args)
status=0 ran=()
for part in "${selected[@]}"; do
  gateway_pid=$(svc_pid gateway) ||
    die "bench gateway: the gateway is not running (tools/crm start gateway; its log: $(show_path "$(svc_log gateway)"))"
  [[ $part == streams ]] && raise_cap
  bench=("$CRM_BIN/crm-gateway-bench" "--part=$part" "--gateway_address=$(svc_addr gateway)"
    "--auth_address=$(svc_addr auth)" "--notifications_address=$(svc_addr notifications)"
    "--admin_email=$CRM_ADMIN_EMAIL" "--admin_password_file=$CRM_SECRETS/admin_password"
    "--gateway_pid=$gateway_pid" "--json_out=$work/$part.json" "${tls[@]}" "${args[@]}")
  if ((json)); then
    "${bench[@]}" --json >/dev/null || status=$?
  else
    "${bench[@]}" || status=$?
    printf '\n'
  fi
  [[ -s $work/$part.json ]] && ran+=("$part")
  [[ $part == streams ]] && restore_notifications
  if ! svc_pid gateway >/dev/null; then
    printf 'bench gateway: THE GATEWAY EXITED during the %s part (pid %s): see %s; restart it with tools/crm start gateway\n' \
      "$part" "$gateway_pid" "$(show_path "$(svc_log gateway)")" >&2
    status=1
    break
  fi
  ((status == 0)) || break
done

if ((json)); then
  ((${#ran[@]} == 0)) || bench_json_cases "$work" "{\"gateway_pid\": ${gateway_pid:-0}}" "${ran[@]}"
  exit "$status"
fi
((${#ran[@]})) || exit "$status"
# The headline of each part, from its JSON.
f() { bench_field "$work/$1.json" "$2"; }
printf 'gateway bench (%s):\n' "$(date -u +%FT%TZ)"
for part in "${ran[@]}"; do
  case $part in
    unary)
      printf '  unary GetUser, %s in flight: gateway %s/s vs direct %s/s = %s× (target ≥ %s: met %s); p50 %s vs %s µs\n' \
        "$(f unary concurrency)" "$(f unary gateway.rps)" "$(f unary direct.rps)" "$(f unary ratio)" \
        "$(f unary target_ratio)" "$(f unary target_met)" "$(f unary gateway.p50_us)" "$(f unary direct.p50_us)"
      ;;
    first_message)
      printf '  first message: gateway − direct p50 %s ms, p99 %s ms (target p50 ≤ %s ms: met %s); after CreateNotification returned: direct p50 %s ms, gateway p50 %s ms\n' \
        "$(f first_message gap.p50_ms)" "$(f first_message gap.p99_ms)" "$(f first_message target_p50_ms)" \
        "$(f first_message target_met)" "$(f first_message direct.p50_ms)" "$(f first_message gateway.p50_ms)"
      ;;
    streams)
      printf '  streams: %s of %s live, the notification reached %s; gateway VmRSS %s → %s KiB (%s KiB per stream)\n' \
        "$(f streams counts.established)" "$(f streams streams)" "$(f streams delivered)" \
        "$(f streams rss.before.rss_kib)" "$(f streams rss.open.rss_kib)" "$(f streams kib_per_stream)"
      ;;
  esac
done
exit "$status"

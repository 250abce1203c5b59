#!/usr/bin/env bash
# The notifications service's push latency, against the suite of `tools/crm
# up --detach` (run it as `tools/crm bench notifications [flags]`): runs
# crm-notify-bench (tools/notify_bench/) with the suite's addresses, the
# bootstrap admin's password file (never its content on a command line), the
# service's pid (for its VmRSS/VmHWM) and, after `up --tls`, the operator's
# client certificate. At the defaults: AssignLead at 200/s for 60 s (after 5 s
# of warm-up), each notification timed from AssignLead's return to its
# arrival on the agent's WatchNotifications stream, with 2 000 idle streams
# of 200 other users open. Setup (bench users' passwords and sign-ins) takes
# about 30 s more.
#
#   --restart       restart the notifications service first, so that its
#                   memory figures start from a fresh process (one that
#                   served streams before keeps the memory it grew)
#   --json          one JSON line on stdout: {"date", "service_pid",
#                   "cases": {"assign_push": <crm-notify-bench --json>}}
#   any other flag  goes to crm-notify-bench as given, after the suite's (so
#                   it wins): --rate, --duration, --warmup, --idle_users,
#                   --idle_per_user, --leads, ... (crm-notify-bench --help)
#
# tools/README.md describes the run, the bench users and leads it keeps, and
# the figures.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/../.." && pwd -P)
CRM_ROOT=$ROOT
# shellcheck source=SCRIPTDIR/../lib/bench.sh
source "$ROOT/tools/lib/bench.sh"
# shellcheck source=SCRIPTDIR/../lib/tls.sh
source "$ROOT/tools/lib/tls.sh" # tls_client_args

json=0 restart=0 args=()
for arg; do
  case $arg in
    --json) json=1 ;;
    --restart) restart=1 ;;
    *) args+=("$arg") ;;
  esac
done

bench_require_suite notifications notifications auth leads audit
if ((restart)); then
  printf 'bench notifications: restarting the notifications service\n' >&2
  "$ROOT/tools/crm" restart notifications >&2
fi
[[ -x $CRM_BIN/crm-notify-bench ]] ||
  die "bench notifications: $(show_path "$CRM_BIN/crm-notify-bench") is not built"
pid=$(svc_pid notifications)
tls=()
mapfile -t tls < <(tls_client_args)
bench=("$CRM_BIN/crm-notify-bench" "--auth_address=$(svc_addr auth)"
  "--leads_address=$(svc_addr leads)" "--notifications_address=$(svc_addr notifications)"
  "--admin_email=$CRM_ADMIN_EMAIL" "--admin_password_file=$CRM_SECRETS/admin_password"
  "--service_pid=$pid" "${tls[@]}" "${args[@]}")

if ((!json)); then
  exec "${bench[@]}"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
"${bench[@]}" --json >"$work/assign_push.json" || status=$?
# A failed run still prints its figures when it got that far.
if [[ -s $work/assign_push.json ]]; then
  bench_json_cases "$work" "{\"service_pid\": $pid}" assign_push
fi
exit "$status"

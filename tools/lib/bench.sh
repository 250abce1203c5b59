# shellcheck shell=bash
# What the benchmark scripts (tools/bench/*_bench.sh) share: tools/crm's
# libraries, the check that the suite is up, psql as the service's own role,
# reading crm-load's --json answers and printing a table of `crm-load --pair`
# cases. A script sets CRM_ROOT, then sources this file.

# The paths, the DSN and address helpers and the demo agents of tools/crm.
# shellcheck source=SCRIPTDIR/common.sh
source "$CRM_ROOT/tools/lib/common.sh"
# shellcheck source=SCRIPTDIR/db.sh
source "$CRM_ROOT/tools/lib/db.sh"
# shellcheck source=SCRIPTDIR/services.sh
source "$CRM_ROOT/tools/lib/services.sh"
# shellcheck source=SCRIPTDIR/demo.sh
source "$CRM_ROOT/tools/lib/demo.sh"

# Dies unless the suite of `tools/crm up --detach` runs <svc>... and the admin's
# password is there; points svc_dsn at the running cluster and bench_sql at
# the first service's database, as that service's own role.
bench_require_suite() { # <bench name> <svc>...
  local name=$1 svc
  shift
  for svc; do
    svc_pid "$svc" >/dev/null || die "bench $name: $svc is not running (tools/crm up --detach first)"
  done
  # shellcheck disable=SC2034 # svc_dsn's port: the one the cluster runs on
  pg_pid >/dev/null && CRM_PG_PORT=$(pg_running_port)
  [[ -r $CRM_SECRETS/admin_password ]] ||
    die "bench $name: no admin password in $(show_path "$CRM_SECRETS") (tools/crm up makes it)"
  BENCH_DSN=$(svc_dsn "$1")
}

bench_sql() { PGCONNECT_TIMEOUT=5 "$CRM_PG_BIN/psql" "$BENCH_DSN" -X -v ON_ERROR_STOP=1 "$@"; }

# A field of a JSON file, by dotted path ("service.rps"); "" when absent.
bench_field() { # <file> <path>
  node -e 'let v = JSON.parse(require("fs").readFileSync(process.argv[1])); for (const k of process.argv[2].split(".")) v = v?.[k]; console.log(v ?? "")' "$1" "$2"
}

# One line per case: crm-load --pair's figures from <dir>/<case>.json.
bench_pair_table() { # <dir> <case>...
  local dir=$1 c f
  shift
  local fmt='  %-14s %6s %10s %10s %10s %10s %6s %9s %9s %10s\n'
  # shellcheck disable=SC2059
  printf "$fmt" case "flight" "service/s" "raw/s" "floor/s" "composed" ratio "p50 µs" "p99 µs" "overhead"
  for c; do
    f=$dir/$c.json
    # shellcheck disable=SC2059
    printf "$fmt" "$c" "$(bench_field "$f" concurrency)" "$(bench_field "$f" service.rps)" \
      "$(bench_field "$f" raw.rps)" "$(bench_field "$f" floor.rps)" \
      "$(bench_field "$f" composed_limit_rps)" "$(bench_field "$f" ratio)" \
      "$(bench_field "$f" service.p50_us)" "$(bench_field "$f" service.p99_us)" \
      "$(bench_field "$f" overhead_p50_us)"
  done
  printf '  (overhead = service p50 - (floor p50 + raw p50), µs)\n'
}

# One JSON object {"date", <extra fields>, "cases": {<case>: <its JSON>}}.
bench_json_cases() { # <dir> <extra JSON object text> <case>...
  local dir=$1 extra=$2
  shift 2
  # shellcheck disable=SC2016 # JavaScript
  node -e '
    const fs = require("fs");
    const [dir, when, extra, ...cases] = process.argv.slice(1);
    const out = {date: when, ...JSON.parse(extra), cases: {}};
    for (const c of cases) out.cases[c] = JSON.parse(fs.readFileSync(`${dir}/${c}.json`));
    console.log(JSON.stringify(out));' "$dir" "$(date -u +%FT%TZ)" "$extra" "$@"
}

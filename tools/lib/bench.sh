# shellcheck shell=bash
# What the benchmark scripts (tools/bench/*_bench.sh) share: reading crm-load's
# --json answers and printing a table of `crm-load --pair` cases.

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

#!/usr/bin/env bash
# The properties service at scale, against the suite of `tools/crm up
# --detach` (run it as `tools/crm bench properties [flags]`):
#
# - import: a generated RESO feed of --import listings (default 100 000),
#   imported with crm-import-listings three times: new (every listing
#   created), again (every listing unchanged) and a day later (every price
#   cut: every listing updated), each against PostgreSQL alone doing the same
#   upserts (tools/bench/properties_raw_upsert.sql) into a copy of the table
#   of the same size, in the same run; with the service's and the tool's peak
#   memory. Its listings are deleted again at the end.
# - get, list_active, list_price, list_city, list_search, list_text (free
#   text, a word in most listings): `crm-load --pair`
#   (the method, the exact SQL it stands for, and the gRPC floor, in rounds;
#   tools/README.md) over --listings live listings (default 100 000; a
#   generated feed is imported first when there are fewer).
#
#   --listings=N (100000)   --import=N (100000)   --batch=N (1000)
#   --rounds=N (3) --warmup=1s --duration=5s     per crm-load run (pair mode)
#   --concurrency=N (32)    calls in flight for get
#   --list_concurrency=N (8)   ... for the list cases
#   --cases=a,b,...         of import get list_active list_price list_city
#                           list_search list_text (default: all, in that order)
#   --plans                 also print EXPLAIN (ANALYZE, BUFFERS) of the searches
#   --json                  one JSON line on stdout instead of the tables
#
# services/properties/README.md has the figures and what each raw side is.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/../.." && pwd -P)
CRM="$ROOT/tools/crm"
CRM_ROOT=$ROOT
# shellcheck source=SCRIPTDIR/../lib/bench.sh
source "$ROOT/tools/lib/bench.sh"

listings=100000 import=100000 batch=1000 rounds=3 warmup=1s duration=5s concurrency=32
list_concurrency=8 cases="import,get,list_active,list_price,list_city,list_search,list_text" plans=0 json=0
for arg; do
  case $arg in
    --listings=*) listings=${arg#*=} ;;
    --import=*) import=${arg#*=} ;;
    --batch=*) batch=${arg#*=} ;;
    --rounds=*) rounds=${arg#*=} ;;
    --warmup=*) warmup=${arg#*=} ;;
    --duration=*) duration=${arg#*=} ;;
    --concurrency=*) concurrency=${arg#*=} ;;
    --list_concurrency=*) list_concurrency=${arg#*=} ;;
    --cases=*) cases=${arg#*=} ;;
    --plans) plans=1 ;;
    --json) json=1 ;;
    *)
      echo "bench properties: unknown argument '$arg' (see tools/bench/properties_bench.sh)" >&2
      exit 2
      ;;
  esac
done
for n in "$listings" "$import" "$batch" "$rounds" "$concurrency" "$list_concurrency"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || {
    echo "bench properties: '$n' is not a positive number" >&2
    exit 2
  }
done
IFS=, read -ra case_list <<<"$cases"
for c in "${case_list[@]}"; do
  case $c in
    import | get | list_active | list_price | list_city | list_search | list_text) ;;
    *)
      echo "bench properties: unknown case '$c' (import get list_active list_price list_city list_search list_text)" >&2
      exit 2
      ;;
  esac
done

note() { printf 'bench properties: %s\n' "$*" >&2; }
bench_require_suite properties properties auth
for bin in crm-reso-feed crm-import-listings crm-load; do
  [[ -x $CRM_BIN/$bin ]] || die "bench properties: $(show_path "$CRM_BIN/$bin") is not built"
done

work=$(mktemp -d)
IMPORT_SYSTEM="Bench Import MLS"
# What properties_raw_upsert.sql makes.
drop_raw_side() {
  bench_sql -qc "DROP TABLE IF EXISTS bench_feed, bench_properties, bench_outbox, bench_words; DROP PROCEDURE IF EXISTS bench_upsert(int); DROP FUNCTION IF EXISTS bench_words_insert(), bench_words_update(), bench_words_delete(), bench_words_truncate()" >/dev/null
}
cleanup() {
  drop_raw_side 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

import_feed() { # <file> [crm-import-listings flags...]; prints its JSON answer
  local file=$1
  shift
  CRM_NO_BUILD=1 "$CRM" import-listings "$file" --json --progress=none --batch="$batch" "$@" 2>>"$work/import.log"
}

# The demo agents' emails: the fill's listings are theirs, so agent filters
# have something to find.
emails=$(printf '%s\n' "${CRM_DEMO_AGENTS[@]#*:}" | paste -sd, -)

# Listings for the read cases, from a feed of their own ("Bench MLS").
live=$(bench_sql -Atqc "SELECT count(*) FROM properties WHERE deleted_at IS NULL AND originating_system_name IS DISTINCT FROM '$IMPORT_SYSTEM'")
if ((live < listings)); then
  need=$((listings - live))
  have=$(bench_sql -Atqc "SELECT count(*) FROM properties WHERE originating_system_name = 'Bench MLS'")
  note "properties has $live live listings; importing $need more from a generated feed (Bench MLS)"
  "$CRM_BIN/crm-reso-feed" --count="$need" --first=$((have + 1)) --seed=4242 \
    --originating_system="Bench MLS" --listing_id_prefix=BM --agent_emails="$emails" \
    --out="$work/fill.json"
  out=$(import_feed "$work/fill.json") || die "bench properties: the fill's import failed: $out"
  note "filled: $(bench_field <(printf '%s' "$out") records) records in $(bench_field <(printf '%s' "$out") seconds) s"
  rm -f "$work/fill.json"
  bench_sql -qc "VACUUM (ANALYZE) properties"
fi
rows=$(bench_sql -Atqc "SELECT count(*) FROM properties WHERE deleted_at IS NULL")

# ---------------------------------------------------------------- import
peak_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
raw_upsert_seconds() { # <ndjson file>: loads it (untimed), then times CALL bench_upsert
  bench_sql -qc "TRUNCATE bench_feed RESTART IDENTITY" >/dev/null
  bench_sql -qc "\\copy bench_feed (doc) FROM '$1' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')" >/dev/null
  bench_sql -qc "VACUUM (ANALYZE) bench_feed" >/dev/null
  bench_sql -c '\timing on' -c "CALL bench_upsert($batch)" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
    awk '{printf "%.3f", $1 / 1000}'
}

run_import() {
  local pid feeds=() kinds=(create unchanged update) i out service_s raw_s
  pid=$(svc_pid properties)
  bench_sql -qc "DELETE FROM properties WHERE originating_system_name = '$IMPORT_SYSTEM'" >/dev/null
  bench_sql -qc "VACUUM (ANALYZE) properties" >/dev/null
  for format in webapi ndjson; do
    "$CRM_BIN/crm-reso-feed" --count="$import" --seed=2027 --format="$format" \
      --originating_system="$IMPORT_SYSTEM" --listing_id_prefix=BI --out="$work/day0.$format"
    "$CRM_BIN/crm-reso-feed" --count="$import" --seed=2027 --format="$format" --revision=1 \
      --changed_fraction=1 --originating_system="$IMPORT_SYSTEM" --listing_id_prefix=BI \
      --out="$work/day1.$format"
  done
  feeds=(day0 day0 day1)
  # The raw side's table: a copy of `properties` (every index) as it is now.
  bench_sql -q -v skip="$IMPORT_SYSTEM" -f "$ROOT/tools/bench/properties_raw_upsert.sql" >/dev/null
  local before_kb
  before_kb=$(rss_kb "$pid")
  echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true # resets VmHWM (Linux ≥ 4.0)
  printf '{"listings": %s, "batch": %s, "service_rss_before_kb": %s, "runs": [' "$import" "$batch" "$before_kb" >"$work/import.json"
  for i in 0 1 2; do
    note "import ${kinds[i]}: $import listings through the service, then raw"
    out=$(import_feed "$work/${feeds[i]}.webapi") || {
      note "import ${kinds[i]} failed: $out"
      return 1
    }
    service_s=$(bench_field <(printf '%s' "$out") seconds)
    raw_s=$(raw_upsert_seconds "$work/${feeds[i]}.ndjson")
    ((i == 0)) || printf ', ' >>"$work/import.json"
    printf '{"kind": "%s", "service": %s, "raw_seconds": %s, "service_per_second": %s, "raw_per_second": %s, "ratio": %s}' \
      "${kinds[i]}" "$out" "$raw_s" \
      "$(awk -v n="$import" -v s="$service_s" 'BEGIN {printf "%.0f", n / s}')" \
      "$(awk -v n="$import" -v s="$raw_s" 'BEGIN {printf "%.0f", n / s}')" \
      "$(awk -v a="$service_s" -v b="$raw_s" 'BEGIN {printf "%.2f", b / a}')" >>"$work/import.json"
  done
  printf '], "service_peak_rss_kb": %s}\n' "$(peak_kb "$pid")" >>"$work/import.json"
  bench_sql -qc "DELETE FROM properties WHERE originating_system_name = '$IMPORT_SYSTEM'" >/dev/null
  drop_raw_side
  bench_sql -qc "VACUUM (ANALYZE) properties" >/dev/null
  rm -f "$work"/day*.*
}

# ---------------------------------------------------------------- reads
# Columns() in services/properties/property_repository.cc, verbatim, and the
# statements ListSql builds from it for each case's filters.
COLS="id, mls_id, address, (price * 100)::int8 AS price_cents, status, coalesce(agent_id, 0) AS agent_id, street, unit, city, state_or_province, postal_code, country, coalesce(property_type, '') AS property_type, bedrooms, bathrooms_full, bathrooms_half, bathrooms_total_integer, living_area_sqft, lot_size_sqft, year_built, description, coalesce(to_char(list_date, 'YYYY-MM-DD'), '') AS list_date, coalesce(listing_key, '') AS listing_key, coalesce(originating_system_name, '') AS originating_system_name, latitude, longitude, coalesce(mls_status, '') AS mls_status, (extract(epoch FROM modification_timestamp) * 1000000)::int8 AS modification_timestamp, (extract(epoch FROM status_change_timestamp) * 1000000)::int8 AS status_change_timestamp, (extract(epoch FROM price_change_timestamp) * 1000000)::int8 AS price_change_timestamp, coalesce(to_char(on_market_date, 'YYYY-MM-DD'), '') AS on_market_date, coalesce((close_price * 100)::int8, 0) AS close_price_cents, coalesce(to_char(close_date, 'YYYY-MM-DD'), '') AS close_date, version, (extract(epoch FROM created_at) * 1000000)::int8 AS created_at, (extract(epoch FROM updated_at) * 1000000)::int8 AS updated_at"
PROPERTIES_GET="SELECT $COLS FROM properties WHERE id = \$1 AND deleted_at IS NULL"
LIST="SELECT $COLS FROM properties WHERE deleted_at IS NULL"
# The search every client screen makes: on the market, a price range, a city.
CITY=$(bench_sql -Atqc "SELECT city FROM properties WHERE deleted_at IS NULL GROUP BY city ORDER BY count(*) DESC LIMIT 1")
MIN_CENTS=25000000 MAX_CENTS=60000000
city_lower=$(printf '%s' "$CITY" | tr '[:upper:]' '[:lower:]')

max_id=$(bench_sql -Atqc "SELECT max(id) FROM properties")
bench_sql -Atqc "SELECT '{\"id\":\"' || id || '\"}' FROM properties WHERE deleted_at IS NULL ORDER BY random() LIMIT 65536" >"$work/ids.jsonl"

# A free-text page as the service asks for it (PropertyRepository::ListSql,
# newest first, the default --free_text_walk_rows): the next 300 listings
# looked through first, the words' index (property_words) only when fewer
# than a page match.
indexed_words() { # <tsquery: a literal or a parameter>
  printf '%s' "id IN (SELECT property_id FROM property_words WHERE words @@ to_tsquery('simple', $1))"
}
text_page() { # <tsquery: a literal or a parameter> [limit: 51]
  local words="to_tsvector('simple', search_text) @@ to_tsquery('simple', $1)" n=${2:-51}
  printf '%s' "WITH walk AS MATERIALIZED (SELECT $COLS FROM (SELECT * FROM properties WHERE deleted_at IS NULL ORDER BY id DESC LIMIT 300) properties WHERE $words ORDER BY id DESC LIMIT $n), matches AS MATERIALIZED ($LIST AND $(indexed_words "$1")) SELECT * FROM walk WHERE (SELECT count(*) FROM walk) >= $n UNION ALL SELECT * FROM matches WHERE (SELECT count(*) FROM walk) < $n ORDER BY id DESC LIMIT $n"
}

run_case() { # <case> <in flight>; writes $work/<case>.json (crm-load --pair --json)
  local c=$1 args=(--pair --json --rounds="$rounds" --warmup="$warmup" --duration="$duration"
    --target=@properties --auth_address=@auth --dsn=@properties --concurrency="$2" --login=admin)
  local list=(--method=crm.properties.v1.PropertyService/ListProperties)
  case $c in
    get)
      args+=(--method=crm.properties.v1.PropertyService/GetProperty --data_file="$work/ids.jsonl"
        --n="range:1:$max_id" --sql="$PROPERTIES_GET" --param='{n}')
      ;;
    list_active)
      args+=("${list[@]}" --data='{"pageSize":50,"status":"PROPERTY_STATUS_ACTIVE"}'
        --sql="$LIST AND status = ANY(\$1::text[]) ORDER BY id DESC LIMIT \$2::int4"
        --param='{ACTIVE}' --param=51)
      ;;
    list_price)
      args+=("${list[@]}" --data="{\"pageSize\":50,\"minPriceCents\":\"$MIN_CENTS\",\"maxPriceCents\":\"$MAX_CENTS\"}"
        --sql="$LIST AND price >= \$1::numeric / 100 AND price <= \$2::numeric / 100 ORDER BY id DESC LIMIT \$3::int4"
        --param="$MIN_CENTS" --param="$MAX_CENTS" --param=51)
      ;;
    list_city)
      args+=("${list[@]}" --data="{\"pageSize\":50,\"city\":\"$CITY\"}"
        --sql="$LIST AND lower(city) = lower(\$1::text) ORDER BY id DESC LIMIT \$2::int4"
        --param="$city_lower" --param=51)
      ;;
    list_text)
      # A word in most listings: the page comes from the walk (ListSql).
      args+=("${list[@]}" --data='{"pageSize":50,"query":"home"}'
        --sql="$(text_page "\$1::text" "\$2::int4")" --param="'home':*" --param=51)
      ;;
    list_search)
      args+=("${list[@]}" --data="{\"pageSize\":50,\"status\":\"PROPERTY_STATUS_ACTIVE\",\"minPriceCents\":\"$MIN_CENTS\",\"maxPriceCents\":\"$MAX_CENTS\",\"city\":\"$CITY\"}"
        --sql="$LIST AND status = ANY(\$1::text[]) AND price >= \$2::numeric / 100 AND price <= \$3::numeric / 100 AND lower(city) = lower(\$4::text) ORDER BY id DESC LIMIT \$5::int4"
        --param='{ACTIVE}' --param="$MIN_CENTS" --param="$MAX_CENTS" --param="$city_lower" --param=51)
      ;;
  esac
  CRM_NO_BUILD=1 "$CRM" bench load "${args[@]}" >"$work/$c.json" 2>"$work/$c.log"
}

failed=0 done_cases=() import_done=0
for c in "${case_list[@]}"; do
  if [[ $c == import ]]; then
    if run_import; then
      import_done=1
    else
      failed=1
      sed 's/^/  | /' "$work/import.log" >&2
    fi
    continue
  fi
  in_flight=$concurrency
  [[ $c == list_* ]] && in_flight=$list_concurrency
  note "$c: $rounds rounds of service, raw SQL and floor at $in_flight in flight ($warmup + $duration each)"
  if run_case "$c" "$in_flight" && [[ -s $work/$c.json ]]; then
    done_cases+=("$c")
    note "$c: ratio $(bench_field "$work/$c.json" ratio), service $(bench_field "$work/$c.json" service.rps)/s, p99 $(bench_field "$work/$c.json" service.p99_us) µs"
  else
    failed=1
    note "$c failed; crm-load said:"
    sed 's/^/  | /' "$work/$c.log" >&2
  fi
done

if ((json)); then
  extra="{\"listings\": $rows, \"city\": \"$CITY\""
  ((import_done)) && extra+=", \"import\": $(cat "$work/import.json")"
  bench_json_cases "$work" "$extra}" "${done_cases[@]}"
else
  if ((import_done)); then
    printf '\nimport: %s listings a run, %s per message; the raw side is PostgreSQL alone (properties_raw_upsert.sql), %s\n' \
      "$import" "$batch" "$(date -u +%F)"
    node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
      const f = (n) => Math.round(n).toLocaleString("en-US");
      console.log("  %s %s %s %s %s %s", "run".padEnd(10), "service/s".padStart(10), "raw/s".padStart(10), "ratio".padStart(6), "tool RSS".padStart(10), "counts");
      for (const x of r.runs) {
        const s = x.service;
        console.log("  %s %s %s %s %s %s", x.kind.padEnd(10), f(x.service_per_second).padStart(10), f(x.raw_per_second).padStart(10), x.ratio.toFixed(2).padStart(6), (f(s.max_rss_kb / 1024) + " MB").padStart(10), `created ${s.created}, updated ${s.updated}, unchanged ${s.unchanged}, failed ${s.failed}`);
      }
      console.log("  crm-properties RSS: %s MB before, peak %s MB during the three imports", f(r.service_rss_before_kb / 1024), f(r.service_peak_rss_kb / 1024));' "$work/import.json"
  fi
  if ((${#done_cases[@]})); then
    printf '\nreads: %s live listings, city %s; medians of %s rounds (%s warm-up + %s each), %s\n' \
      "$rows" "$CITY" "$rounds" "$warmup" "$duration" "$(date -u +%F)"
    bench_pair_table "$work" "${done_cases[@]}"
  fi
fi

if ((plans)); then
  note "plans at $rows live listings"
  bench_sql -q <<SQL
\\pset pager off
\\echo '== GetProperty (properties_get)'
EXPLAIN (ANALYZE, BUFFERS) SELECT $COLS FROM properties WHERE id = (SELECT max(id) / 2 FROM properties) AND deleted_at IS NULL;
\\echo '== ListProperties, newest 50'
EXPLAIN (ANALYZE, BUFFERS) $LIST ORDER BY id DESC LIMIT 51;
\\echo '== ListProperties, status ACTIVE'
EXPLAIN (ANALYZE, BUFFERS) $LIST AND status = ANY('{ACTIVE}'::text[]) ORDER BY id DESC LIMIT 51;
\\echo '== ListProperties, a CLIENT (three statuses), price ascending'
EXPLAIN (ANALYZE, BUFFERS) $LIST AND status = ANY('{ACTIVE,ACTIVE_UNDER_CONTRACT,COMING_SOON}'::text[]) ORDER BY price ASC, id ASC LIMIT 51;
\\echo '== ListProperties, price range'
EXPLAIN (ANALYZE, BUFFERS) $LIST AND price >= $MIN_CENTS::numeric / 100 AND price <= $MAX_CENTS::numeric / 100 ORDER BY id DESC LIMIT 51;
\\echo '== ListProperties, city'
EXPLAIN (ANALYZE, BUFFERS) $LIST AND lower(city) = lower('$city_lower'::text) ORDER BY id DESC LIMIT 51;
\\echo '== ListProperties, ACTIVE + price range + city (list_search)'
EXPLAIN (ANALYZE, BUFFERS) $LIST AND status = ANY('{ACTIVE}'::text[]) AND price >= $MIN_CENTS::numeric / 100 AND price <= $MAX_CENTS::numeric / 100 AND lower(city) = lower('$city_lower'::text) ORDER BY id DESC LIMIT 51;
\\echo '== ListProperties, postal code'
EXPLAIN (ANALYZE, BUFFERS) $LIST AND postal_code = (SELECT postal_code FROM properties ORDER BY id LIMIT 1) ORDER BY id DESC LIMIT 51;
\\echo '== ListProperties, an agent'
EXPLAIN (ANALYZE, BUFFERS) $LIST AND agent_id = (SELECT agent_id FROM properties WHERE agent_id IS NOT NULL LIMIT 1) ORDER BY id DESC LIMIT 51;
\\echo '== ListProperties, free text "home" (in most listings: a page from the walk)'
EXPLAIN (ANALYZE, BUFFERS) $(text_page "'''home'':*'");
\\echo '== ListProperties, free text "maple" (the walk, then every match through the index)'
EXPLAIN (ANALYZE, BUFFERS) $(text_page "'''maple'':*'");
\\echo '== ListProperties, free text one MLS id (a digit: straight to the index)'
EXPLAIN (ANALYZE, BUFFERS) WITH matches AS MATERIALIZED ($LIST AND $(indexed_words "'''bm0001234'':*'")) SELECT * FROM matches ORDER BY id DESC LIMIT 51;
\\echo '== ListProperties, free text "columbus granite"'
EXPLAIN (ANALYZE, BUFFERS) $(text_page "'''columbus'':* & ''granite'':*'");
\\echo '== ListProperties, bounding box (a few blocks)'
EXPLAIN (ANALYZE, BUFFERS) $LIST AND latitude IS NOT NULL AND point(longitude, latitude) <@ box(point(-80.05, 40.42), point(-80.00, 40.45)) ORDER BY id DESC LIMIT 51;
\\echo '== ListProperties, recently changed'
EXPLAIN (ANALYZE, BUFFERS) $LIST ORDER BY properties.updated_at DESC, id DESC LIMIT 51;
SQL
fi
exit "$failed"

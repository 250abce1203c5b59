#!/usr/bin/env bash
# The leads service at scale: fills `leads` to --leads rows (default 1M) with
# tools/bench/leads_fill.sql when it has fewer, then runs `crm-load --pair`
# (the method, the exact SQL it stands for, and the gRPC floor, in rounds;
# tools/README.md) for GetLead (as ADMIN, and as an AGENT on its own leads),
# ListLeads (the newest 50, and 50 of one agent), CreateLead and CaptureLead,
# and prints one table. Needs the suite of `tools/crm up --detach`; run it as
# `tools/crm bench leads [flags]`. services/leads/README.md has the figures and
# what each raw side is.
#
#   --leads=N (1000000)        rows to fill the table to (adds, never deletes)
#   --rounds=N (3) --warmup=1s --duration=5s     per crm-load run (pair mode)
#   --concurrency=N (32)       calls in flight for every case, unless
#   --list_concurrency=N (8)   ... for the ListLeads cases
#   --cases=a,b,...            of get_admin get_agent list_newest list_agent
#                              create capture (default: all, in that order)
#   --plans                    also print EXPLAIN (ANALYZE, BUFFERS) of the
#                              service's queries (GetLead, ListLeads' filters,
#                              the de-duplication lookups); --cases= --plans
#                              prints only the plans
#   --json                     one JSON line on stdout instead of the table
#   --no-fill                  measure whatever the table holds
#
# CreateLead and CaptureLead add leads (emails @bench.example.net) on both
# sides, ~100 000 at the defaults; they are deleted again at the end (and at the
# start, after an interrupted run). Their outbox events stay: the relay sends
# them to audit like any others.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/../.." && pwd -P)
CRM="$ROOT/tools/crm"
CRM_ROOT=$ROOT
# shellcheck source=SCRIPTDIR/../lib/bench.sh
source "$ROOT/tools/lib/bench.sh"

leads=1000000 rounds=3 warmup=1s duration=5s concurrency=32 list_concurrency=8
cases="get_admin,get_agent,list_newest,list_agent,create,capture" plans=0 json=0 fill=1
for arg; do
  case $arg in
    --leads=*) leads=${arg#*=} ;;
    --rounds=*) rounds=${arg#*=} ;;
    --warmup=*) warmup=${arg#*=} ;;
    --duration=*) duration=${arg#*=} ;;
    --concurrency=*) concurrency=${arg#*=} ;;
    --list_concurrency=*) list_concurrency=${arg#*=} ;;
    --cases=*) cases=${arg#*=} ;;
    --plans) plans=1 ;;
    --json) json=1 ;;
    --no-fill) fill=0 ;;
    *)
      echo "bench leads: unknown argument '$arg' (see tools/bench/leads_bench.sh)" >&2
      exit 2
      ;;
  esac
done
for n in "$leads" "$rounds" "$concurrency" "$list_concurrency"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || {
    echo "bench leads: '$n' is not a positive number" >&2
    exit 2
  }
done
IFS=, read -ra case_list <<<"$cases"
for c in "${case_list[@]}"; do
  case $c in
    get_admin | get_agent | list_newest | list_agent | create | capture) ;;
    *)
      echo "bench leads: unknown case '$c' (get_admin get_agent list_newest list_agent create capture)" >&2
      exit 2
      ;;
  esac
done

note() { printf 'bench leads: %s\n' "$*" >&2; }
bench_require_suite leads leads auth
[[ -r $CRM_SECRETS/demo_agent_password ]] ||
  die "bench leads: no demo agent password in $(show_path "$CRM_SECRETS") (tools/crm up makes it)"

# The demo agents (ids ascending; the first one's leads are the AGENT cases')
# and the bootstrap admin, from auth's database.
emails=""
for entry in "${CRM_DEMO_AGENTS[@]}"; do emails+="${emails:+,}'${entry#*:}'"; done
agent_ids=$(pg_psql -XAtq -d crm_auth -c \
  "SELECT string_agg(id::text, ',' ORDER BY id) FROM users WHERE role = 'AGENT' AND email IN ($emails)")
admin_id=$(pg_psql -XAtq -d crm_auth -c "SELECT id FROM users WHERE email = '$CRM_ADMIN_EMAIL'")
[[ $agent_ids =~ ^[0-9]+(,[0-9]+)*$ && $admin_id =~ ^[0-9]+$ ]] ||
  die "bench leads: no demo agents or admin in crm_auth (agents '$agent_ids', admin '$admin_id')"
agent=${agent_ids%%,*}
agent_email=${CRM_DEMO_AGENTS[0]#*:}

# Leads an earlier run's CreateLead and CaptureLead cases made (on both
# sides) are removed, at the start and at the end: left at the top of the id
# range they would change what ListLeads reads (the newest leads, unassigned).
BENCH_ROWS="email_key LIKE '%@bench.example.net'"
forget_bench_leads() {
  local gone
  gone=$(bench_sql -Atqc "WITH d AS (DELETE FROM leads WHERE $BENCH_ROWS RETURNING 1) SELECT count(*) FROM d")
  if ((gone > 0)); then
    note "deleted $gone leads of the creating cases (@bench.example.net); VACUUM (ANALYZE) leads"
    bench_sql -qc "VACUUM (ANALYZE) leads"
  fi
}
forget_bench_leads
rows=$(bench_sql -Atqc "SELECT count(*) FROM leads")
if ((rows < leads)); then
  if ((fill)); then
    note "leads has $rows rows; adding $((leads - rows)) (tools/bench/leads_fill.sql, agents $agent_ids)"
    t0=$SECONDS
    bench_sql -q -v n=$((leads - rows)) -v agents="$agent_ids" -f "$ROOT/tools/bench/leads_fill.sql" >&2
    note "filled in $((SECONDS - t0)) s"
  else
    note "warning: leads has only $rows rows (--no-fill)"
  fi
fi
rows=$(bench_sql -Atqc "SELECT count(*) FROM leads")
max_id=$(bench_sql -Atqc "SELECT max(id) FROM leads")
((max_id <= leads)) || max_id=$leads

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# LeadColumns() in services/leads/lead_repository.cc, and the statements built
# from it there (Statements(), List()), verbatim.
COLS="id, name, coalesce(contact_info, '') AS contact_info, status, coalesce(assigned_to, 0) AS assigned_to, email, coalesce(email_key, '') AS email_key, phone, coalesce(phone_e164, '') AS phone_e164, source, coalesce(external_id, '') AS external_id, notes, coalesce(property_id, 0) AS property_id, coalesce(property_mls_id, '') AS property_mls_id, version, (extract(epoch FROM created_at) * 1000000)::int8 AS created_at, (extract(epoch FROM updated_at) * 1000000)::int8 AS updated_at, (extract(epoch FROM assigned_at) * 1000000)::int8 AS assigned_at, coalesce(routing_rule, '') AS routing_rule, coalesce(routed_to, 0) AS routed_to, coalesce(routing_reason, '') AS routing_reason, coalesce(array_to_string(routing_candidates, ','), '') AS routing_candidates, (extract(epoch FROM routed_at) * 1000000)::int8 AS routed_at"
LEADS_GET="SELECT $COLS FROM leads WHERE id = \$1 AND deleted_at IS NULL"
# ListLeads' statements (PageFor in lead_repository.cc): the newest straight
# from the primary key ($1 the keyset bound, the page's size in the text);
# under a filter ($1 the bound, $2 the limit, $3 the agent; the pond's with
# its size in the text), the page's ids from the filter's index, then their
# rows.
LIST="SELECT $COLS FROM leads WHERE id IN (SELECT id FROM leads WHERE deleted_at IS NULL"
LIST_END=" ORDER BY id DESC LIMIT 51) ORDER BY id DESC"
# With a created-time range the page is ordered by (created_at, id).
LIST_BY_CREATED_END=" ORDER BY created_at DESC, id DESC LIMIT 51) ORDER BY created_at DESC, id DESC"
# One agent's, status or source page (PageFor): its (column, id) index bounded
# by a row comparison, $1 the keyset id and $2 the value.
one_filter() { # <column> <type>
  local key="(leads.$1, leads.id)"
  printf '%s' "SELECT $COLS FROM leads WHERE deleted_at IS NULL AND $key < (\$2::$2, \$1::int8) AND $key > (\$2::$2, 0) ORDER BY leads.$1 DESC, leads.id DESC LIMIT 51"
}
LEADS_INSERT="INSERT INTO leads (name, contact_info, status, assigned_to, email, email_key, phone, phone_e164, source, external_id, notes, property_id, assigned_at, routing_rule, routed_to, routing_reason, routing_candidates, routed_at, property_mls_id) VALUES (\$1, nullif(\$2, ''), \$3, nullif(\$4::int8, 0), \$5, nullif(\$6, ''), \$7, nullif(\$8, ''), \$9, nullif(\$10, ''), \$11, nullif(\$12::int8, 0), CASE WHEN \$4::int8 <> 0 THEN now() END, nullif(\$13, ''), nullif(\$14::int8, 0), nullif(\$15, ''), nullif(\$16::int8[], '{}'), CASE WHEN \$13 <> '' THEN now() END, nullif(\$17, '')) RETURNING $COLS"
# outbox::Record (common/outbox/outbox.cc): one row per activity.
OUTBOX_INSERT="INSERT INTO outbox (event_id, service, actor_user_id, action, entity_type, entity_id, details)"
# CreateLead's transaction as one statement (crm-load runs each call as one
# statement outside a transaction block, so it commits on its own): the
# repository's leads_insert, then the outbox row of lead.created with
# LeadSummary's details, as Record() stores it.
CREATE_TX="WITH l AS ($LEADS_INSERT), o AS ($OUTBOX_INSERT SELECT gen_random_uuid(), 'leads', $admin_id, 'lead.created', 'lead', l.id, jsonb_build_object('name', l.name, 'source', l.source, 'status', l.status, 'assigned_to', l.assigned_to) FROM l RETURNING octet_length(details::text) AS details_bytes) SELECT l.*, o.details_bytes FROM l CROSS JOIN o"
# CaptureLead's transaction for a new lead as one statement: the round-robin
# cursor row locked and moved to the next agent, the lead inserted with that
# routing, and its two outbox rows (lead.captured, lead.assigned). ON
# CONFLICT DO NOTHING only for crm-load's check before the clock starts,
# which runs the statement once per connection with one {n} for all; in the
# runs every {n} is new, so every call inserts.
CAPTURE_TX="WITH c AS (UPDATE routing_cursors SET last_agent_id = coalesce((SELECT min(a) FROM unnest('{$agent_ids}'::int8[]) AS a WHERE a > routing_cursors.last_agent_id), (SELECT min(a) FROM unnest('{$agent_ids}'::int8[]) AS a)), updated_at = now() WHERE rule = 'round_robin' RETURNING last_agent_id), l AS (INSERT INTO leads (name, status, assigned_to, email, email_key, phone, source, external_id, notes, assigned_at, routing_rule, routed_to, routing_reason, routing_candidates, routed_at) SELECT \$1, 'NEW', c.last_agent_id, \$2, lower(\$2), '', 'zillow', \$3, \$4, now(), 'round_robin', c.last_agent_id, 'next of ' || cardinality('{$agent_ids}'::int8[]) || ' active agents in rotation', '{$agent_ids}'::int8[], now() FROM c ON CONFLICT DO NOTHING RETURNING $COLS), o AS ($OUTBOX_INSERT SELECT gen_random_uuid(), 'leads', $admin_id, a.action, 'lead', l.id, jsonb_build_object('name', l.name, 'source', l.source, 'status', l.status, 'assigned_to', l.assigned_to, 'external_id', l.external_id, 'message', l.notes, 'routing', jsonb_build_object('rule', l.routing_rule, 'agent_id', l.routed_to, 'reason', l.routing_reason, 'candidates', string_to_array(l.routing_candidates, ',')::int8[])) FROM l CROSS JOIN (VALUES ('lead.captured'), ('lead.assigned')) AS a (action) RETURNING octet_length(details::text) AS details_bytes) SELECT l.*, (SELECT sum(details_bytes) FROM o) AS details_bytes FROM l"

# GetLead's requests: random live leads of the whole table (for the ADMIN),
# and of the agent's own (for the AGENT), at most 65 536 of each so that
# crm-load serialises them up front and spends little CPU per call (the two
# cores are shared); the raw side draws ids from the whole range.
get_ids() { # <condition> <file>
  bench_sql -Atqc "SELECT '{\"id\":\"' || id || '\"}' FROM leads WHERE $1 AND deleted_at IS NULL AND id <= $max_id ORDER BY random() LIMIT 65536" >"$2"
  [[ -s $2 ]] || die "bench leads: no leads where $1"
}
get_ids true "$work/ids.jsonl"
get_ids "assigned_to = $agent" "$work/agent_ids.jsonl"

# Unique values for the creating cases across every run of a pair (crm-load
# restarts a counter each run): a random {n} in 1..10^15.
UNIQUE=range:1:1000000000000000

run_case() { # <case> <in flight>; writes $work/<case>.json (crm-load --pair --json)
  local c=$1 args=(--pair --json --rounds="$rounds" --warmup="$warmup" --duration="$duration"
    --target=@leads --auth_address=@auth --dsn=@leads --concurrency="$2")
  local admin=(--login=admin)
  local as_agent=(--login_email="$agent_email" --login_password_file="$CRM_SECRETS/demo_agent_password")
  case $c in
    get_admin)
      args+=("${admin[@]}" --method=crm.leads.v1.LeadService/GetLead --data_file="$work/ids.jsonl"
        --n="range:1:$max_id" --sql="$LEADS_GET" --param='{n}')
      ;;
    get_agent)
      # The agent's own leads on the service side; on the raw side the same
      # statement over the whole id range (a primary-key lookup costs the same
      # for any lead).
      args+=("${as_agent[@]}" --method=crm.leads.v1.LeadService/GetLead
        --data_file="$work/agent_ids.jsonl" --n="range:1:$max_id" --sql="$LEADS_GET" --param='{n}')
      ;;
    list_newest)
      args+=("${admin[@]}" --method=crm.leads.v1.LeadService/ListLeads --data='{"pageSize":50}'
        --sql="SELECT $COLS FROM leads WHERE deleted_at IS NULL AND id < \$1::int8 ORDER BY id DESC LIMIT 51" \
        --param=9223372036854775807)
      ;;
    list_agent)
      args+=("${admin[@]}" --method=crm.leads.v1.LeadService/ListLeads
        --data="{\"pageSize\":50,\"assignedTo\":\"$agent\"}"
        --sql="$(one_filter assigned_to int8)" --param=9223372036854775807 --param="$agent")
      ;;
    create)
      args+=("${admin[@]}" --method=crm.leads.v1.LeadService/CreateLead --n="$UNIQUE"
        --data='{"lead":{"name":"Bench Lead {n}","email":"bench-{n}@bench.example.net"}}'
        --sql="$CREATE_TX" --param='Bench Lead {n}' --param= --param=NEW --param=0
        --param='bench-{n}@bench.example.net' --param='bench-{n}@bench.example.net' --param=
        --param= --param=manual --param= --param= --param=0 --param= --param=0 --param=
        --param='{}' --param=)
      ;;
    capture)
      args+=("${admin[@]}" --method=crm.leads.v1.LeadService/CaptureLead --n="$UNIQUE"
        --data='{"name":"Bench Capture {n}","email":"capture-{n}@bench.example.net","source":"zillow","externalId":"bench-{n}","message":"Saw 12 Maple St on Zillow"}'
        --sql="$CAPTURE_TX" --param='Bench Capture {n}' --param='capture-{n}@bench.example.net'
        --param='bench-{n}' --param='Saw 12 Maple St on Zillow')
      ;;
  esac
  CRM_NO_BUILD=1 "$CRM" bench load "${args[@]}" >"$work/$c.json" 2>"$work/$c.log"
}

failed=0 done_cases=()
for c in "${case_list[@]}"; do
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
    [[ -s $work/$c.json ]] && done_cases+=("$c")
  fi
done

for c in "${done_cases[@]}"; do
  if [[ $c == create || $c == capture ]]; then
    forget_bench_leads
    break
  fi
done

if ((json)); then
  bench_json_cases "$work" "{\"leads\": $rows}" "${done_cases[@]}"
elif ((${#done_cases[@]})); then
  printf '\nleads: %s rows; medians of %s rounds (%s warm-up + %s each), %s\n' \
    "$rows" "$rounds" "$warmup" "$duration" "$(date -u +%F)"
  bench_pair_table "$work" "${done_cases[@]}"
fi

if ((plans)); then
  # The service's statements as it runs them: GetLead, the newest page and
  # the pond's (their size in the text) and the de-duplication lookups with
  # their generic plan, which the plan cache settles on; ListLeads' other
  # pages with their values (planned per call: the one-filter pages are
  # prepared with a parameterised LIMIT, which keeps the plan cache from
  # their generic plan; the rest are built per call on the pool).
  note "plans at $rows rows"
  bench_sql -q <<SQL
\\pset pager off
SELECT id AS get_id FROM leads WHERE assigned_to = $agent AND id <= $max_id ORDER BY id DESC LIMIT 1 OFFSET 1000 \\gset
SELECT email_key, phone_e164, source AS x_source, external_id FROM leads
WHERE id <= $max_id AND external_id IS NOT NULL AND phone_e164 IS NOT NULL AND email_key IS NOT NULL
ORDER BY id DESC LIMIT 1 OFFSET 5000 \\gset
SELECT to_char((now() - interval '365 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t_from,
       to_char((now() - interval '358 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t_until,
       to_char((now() - interval '361 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t_mid \\gset
PREPARE leads_get AS $LEADS_GET;
PREPARE leads_by_external_id AS SELECT $COLS FROM leads WHERE source = \$1 AND external_id = \$2 AND deleted_at IS NULL;
PREPARE leads_by_email_key AS SELECT $COLS FROM leads WHERE email_key = \$1 AND deleted_at IS NULL ORDER BY id LIMIT 1;
PREPARE leads_by_phone AS SELECT $COLS FROM leads WHERE phone_e164 = \$1 AND deleted_at IS NULL ORDER BY id LIMIT 1;
PREPARE leads_page AS SELECT $COLS FROM leads WHERE deleted_at IS NULL AND id < \$1::int8 ORDER BY id DESC LIMIT 51;
PREPARE leads_pond AS SELECT $COLS FROM leads WHERE deleted_at IS NULL AND assigned_to IS NULL AND id < \$1::int8 ORDER BY id DESC LIMIT 51;
PREPARE leads_by_agent AS $(one_filter assigned_to int8);
PREPARE leads_by_status AS $(one_filter status text);
PREPARE leads_by_source AS $(one_filter source text);
SET plan_cache_mode = force_generic_plan;
\\echo '== GetLead (leads_get, generic plan), id' :get_id
EXPLAIN (ANALYZE, BUFFERS) EXECUTE leads_get(:get_id);
\\echo '== ListLeads, newest 50 (generic plan)'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE leads_page(9223372036854775807);
\\echo '== ListLeads, assigned_to $agent (generic plan)'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE leads_by_agent(9223372036854775807, $agent);
\\echo '== ListLeads, assigned_to a user with no leads (generic plan)'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE leads_by_agent(9223372036854775807, $admin_id);
\\echo '== ListLeads, status QUALIFIED (generic plan)'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE leads_by_status(9223372036854775807, 'QUALIFIED');
\\echo '== ListLeads, source open_house (generic plan)'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE leads_by_source(9223372036854775807, 'open_house');
\\echo '== ListLeads, unassigned_only, the pond (generic plan)'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE leads_pond(9223372036854775807);
\\echo '== ListLeads, query "maple" (free text)'
EXPLAIN (ANALYZE, BUFFERS) $LIST AND search_text LIKE '%maple%'::text$LIST_END;
\\echo '== ListLeads, created in one week a year ago:' :t_from :t_until
EXPLAIN (ANALYZE, BUFFERS) $LIST AND created_at >= :'t_from'::timestamptz AND created_at < :'t_until'::timestamptz$LIST_BY_CREATED_END;
\\echo '== ListLeads, created in one week a year ago, a later page (keyset on created_at, id)'
EXPLAIN (ANALYZE, BUFFERS) $LIST AND (created_at, id) < (:'t_mid'::timestamptz, 9223372036854775807::int8) AND created_at >= :'t_from'::timestamptz AND created_at < :'t_until'::timestamptz$LIST_BY_CREATED_END;
\\echo '== de-duplication by email_key (leads_by_email_key, generic plan)' :email_key
EXPLAIN (ANALYZE, BUFFERS) EXECUTE leads_by_email_key(:'email_key');
\\echo '== de-duplication by phone_e164 (leads_by_phone, generic plan)' :phone_e164
EXPLAIN (ANALYZE, BUFFERS) EXECUTE leads_by_phone(:'phone_e164');
\\echo '== de-duplication by (source, external_id) (leads_by_external_id, generic plan)' :x_source :external_id
EXPLAIN (ANALYZE, BUFFERS) EXECUTE leads_by_external_id(:'x_source', :'external_id');
SQL
fi
exit "$failed"

# shellcheck shell=bash
# Demo data through the public API (so it exercises what a client would):
# after the first `up`, the bootstrap admin signs in, creates a few demo
# agents, then captures demo leads (tools/demo/leads.json) through
# LeadService.CaptureLead, which routes them round-robin to those agents.
# Idempotent: request ids make a repeated CreateUser or CaptureLead a no-op,
# and one marker file per step skips it afterwards (a step that fails leaves
# no marker, so the next `up` tries it again).
#
# No secret ever appears in a process's argv or environment: node reads the
# passwords from their files under .crm/secrets/ and writes JSON bodies to
# stdout; the access token lives only in a shell variable and reaches buf curl
# on its stdin, written by bash's builtin printf (no exec) as "headers, blank
# line, body" (-H @- -d @-).

CRM_DEMO_AGENTS=("Ana Agent:ana.agent@crm.local" "Ben Broker:ben.broker@crm.local"
  "Cleo Closer:cleo.closer@crm.local")
CRM_DEMO_LEADS="$CRM_ROOT/tools/demo/leads.json"

# Prints the buf curl command (one word per line) for a method of a service.
demo_curl() { # <svc> <method path>
  local buf="$CRM_ROOT/tools/node_modules/.bin/buf" addr
  addr=$(svc_addr "$1")
  printf '%s\n' "$buf" curl --protocol grpc
  if tls_enabled; then
    printf '%s\n' --cacert "$CRM_TLS/ca.crt" --cert "$CRM_TLS/client.crt" --key "$CRM_TLS/client.key" \
      "https://$addr/$2"
  else
    printf '%s\n' --http2-prior-knowledge "http://$addr/$2"
  fi
}

# Calls a method as the signed-in admin and prints the answer (or buf's
# error). The token is demo_seed's local `demo_token`; token and body go
# through the pipe only.
demo_call() { # <svc> <method path> <JSON body>
  local call=()
  mapfile -t call < <(demo_curl "$1" "$2")
  printf 'authorization: Bearer %s\n\n%s\n' "$demo_token" "$3" | "${call[@]}" -H @- -d @- 2>&1
}

# An answer from demo_call as one line for a warning: "code: message" for a
# gRPC error, else the text with its line breaks folded.
demo_error() { # <buf output>
  local re='"code": *"([a-z_]+)".*"message": *"(([^"\\]|\\.)*)"'
  if [[ $1 =~ $re ]]; then
    printf '%s: %s' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
  else
    printf '%s' "${1//$'\n'/ }"
  fi
}

demo_seed() {
  local agents_marker="$CRM_STATE/demo_seeded" leads_marker="$CRM_STATE/demo_leads_seeded"
  local listings_marker="$CRM_STATE/demo_listings_seeded"
  [[ -f $agents_marker && -f $leads_marker && -f $listings_marker ]] && return 0
  if [[ ! -x $CRM_ROOT/tools/node_modules/.bin/buf ]] || ! command -v node >/dev/null 2>&1; then
    warn "no buf or node: skipping the demo data (npm ci --prefix tools)"
    return 0
  fi
  # In a subshell without CRM_ADMIN_PASSWORD (if you exported it), so that
  # no child here has it in its environment either.
  (
    unset CRM_ADMIN_PASSWORD
    demo_seed_as_admin "$agents_marker" "$leads_marker" "$listings_marker"
  ) || true
}

# Signs in as the bootstrap admin, then runs the steps whose marker is
# missing.
demo_seed_as_admin() { # <agents marker> <leads marker> <listings marker>
  local agents_marker=$1 leads_marker=$2 listings_marker=$3 login=() out demo_token
  mapfile -t login < <(demo_curl auth crm.auth.v1.AuthService/Login)
  out=$(node -e 'process.stdout.write(JSON.stringify({email: process.argv[1], password: require("fs").readFileSync(process.argv[2], "utf8")}))' \
    "$CRM_ADMIN_EMAIL" "$CRM_SECRETS/admin_password" | "${login[@]}" -d @- 2>&1) || {
    warn "demo data skipped: the bootstrap admin could not sign in: $(demo_error "$out")"
    return 0
  }
  # The answer (access and refresh token) goes to node on stdin, not argv.
  demo_token=$(printf '%s' "$out" | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).accessToken || "")' 2>/dev/null) || true
  out=""
  if [[ -z $demo_token ]]; then
    warn "demo data skipped: the admin's sign-in answer had no access token"
    return 0
  fi
  if [[ ! -f $agents_marker ]]; then
    demo_seed_agents || return 0
    : >"$agents_marker"
  fi
  if [[ ! -f $leads_marker ]]; then
    demo_seed_leads && : >"$leads_marker"
  fi
  if [[ ! -f $listings_marker ]]; then
    demo_seed_listings && : >"$listings_marker"
  fi
  return 0
}

# The demo listings: a generated RESO feed of CRM_DEMO_LISTINGS listings
# (always the same ones: a fixed seed), listed by the demo agents in turn
# (ListAgentEmail), imported through ImportProperties with crm-import-listings
# as the admin, which reads the password from its file. Importing it again
# changes nothing, so a failed step is simply tried again by the next up.
demo_seed_listings() {
  local feed="$CRM_STATE/demo_listings.json" emails out
  if [[ ! -x $CRM_BIN/crm-reso-feed || ! -x $CRM_BIN/crm-import-listings ]]; then
    warn "demo listings skipped: crm-reso-feed or crm-import-listings is not built"
    return 1
  fi
  if ! out=$(svc_health "$(svc_addr properties)" 2000); then
    warn "demo listings skipped: properties is not SERVING on $(svc_addr properties) ($out); the next tools/crm up tries again"
    return 1
  fi
  emails=$(printf '%s\n' "${CRM_DEMO_AGENTS[@]#*:}" | paste -sd, -)
  # Their own ListingIds (DEMO…), so a feed made with generate-listings'
  # defaults (DM…) imports beside them rather than into them.
  "$CRM_BIN/crm-reso-feed" --count="${CRM_DEMO_LISTINGS:-300}" --seed=2026 \
    --listing_id_prefix=DEMO --agent_emails="$emails" --out="$feed" || {
    warn "demo listings skipped: crm-reso-feed failed"
    return 1
  }
  local args=()
  mapfile -t args < <(import_listings_args)
  if ! out=$("$CRM_BIN/crm-import-listings" "${args[@]}" --progress=none --json "$feed" 2>&1); then
    warn "demo listings: the import failed (the next tools/crm up tries again): ${out//$'\n'/ }"
    return 1
  fi
  local re='"created":([0-9]+).*"unchanged":([0-9]+).*"updated":([0-9]+)'
  [[ $out =~ $re ]] || re=''
  say "demo listings: ${BASH_REMATCH[1]:-?} created, ${BASH_REMATCH[3]:-?} updated, ${BASH_REMATCH[2]:-?} unchanged, from a generated RESO feed listed by ${emails//,/, }"
}

# The demo agents, all with the password in .crm/secrets/demo_agent_password.
demo_seed_agents() {
  local entry name email body out i=0
  secret_ensure demo_agent_password 9
  for entry in "${CRM_DEMO_AGENTS[@]}"; do
    name=${entry%%:*} email=${entry#*:} i=$((i + 1))
    body=$(node -e 'process.stdout.write(JSON.stringify({user: {name: process.argv[1], email: process.argv[2], role: "ROLE_AGENT"}, password: require("fs").readFileSync(process.argv[3], "utf8"), requestId: "demo-agent-" + process.argv[4]}))' \
      "$name" "$email" "$CRM_SECRETS/demo_agent_password" "$i") || {
      warn "demo agents skipped: node could not build the request"
      return 1
    }
    out=$(demo_call auth crm.auth.v1.UserService/CreateUser "$body") ||
      [[ $out == *already_exists* || $out == *"already exists"* ]] || {
      warn "demo agent $email not created: $(demo_error "$out")"
      return 1
    }
  done
  say "demo agents: ${CRM_DEMO_AGENTS[*]#*:} (password in $(show_path "$CRM_SECRETS/demo_agent_password"))"
}

# The demo leads: one CaptureLead per entry of tools/demo/leads.json (each
# with its request id), as the admin. Most create a lead that routing hands to
# the next agent; the last few repeat an earlier inquiry (same external id,
# email or phone) and merge into it. Fails (no marker) at the first error,
# with a warning: `up` goes on.
demo_seed_leads() {
  local bodies=() body out created=0 merged=0 agent routed="" unassigned=0
  local -A per_agent=()
  # Asked first: buf's own answer for a closed port is a confusing "failed
  # to find service ... in schema".
  if ! out=$(svc_health "$(svc_addr leads)" 2000); then
    warn "demo leads skipped: leads is not SERVING on $(svc_addr leads) ($out); the next tools/crm up tries again"
    return 1
  fi
  mapfile -t bodies < <(node -e 'for (const r of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))) console.log(JSON.stringify(r))' \
    "$CRM_DEMO_LEADS" 2>/dev/null)
  if ((${#bodies[@]} == 0)); then
    warn "demo leads skipped: no requests in $(show_path "$CRM_DEMO_LEADS")"
    return 1
  fi
  for body in "${bodies[@]}"; do
    if ! out=$(demo_call leads crm.leads.v1.LeadService/CaptureLead "$body"); then
      warn "demo leads: CaptureLead failed after $((created + merged)) of ${#bodies[@]} (the next tools/crm up tries again): $(demo_error "$out")"
      return 1
    fi
    if [[ $out == *CAPTURE_OUTCOME_MERGED* ]]; then
      merged=$((merged + 1))
      continue
    fi
    created=$((created + 1))
    if [[ $out =~ \"assignedTo\":\ *\"([0-9]+)\" ]]; then
      agent=${BASH_REMATCH[1]}
      per_agent[$agent]=$((${per_agent[$agent]:-0} + 1))
    else
      unassigned=$((unassigned + 1))
    fi
  done
  # Agents by email rather than id, if auth says (one ListUsers call).
  local -A email_of=()
  local id email
  if out=$(demo_call auth crm.auth.v1.UserService/ListUsers '{"role": "ROLE_AGENT", "pageSize": 1000}'); then
    while read -r id email; do
      if [[ -n $email ]]; then email_of[$id]=$email; fi
    done < <(printf '%s' "$out" | node -e 'for (const u of JSON.parse(require("fs").readFileSync(0, "utf8")).users || []) console.log(u.id, u.email)' 2>/dev/null)
  fi
  for agent in $(printf '%s\n' "${!per_agent[@]}" | sort -n); do
    routed+="${routed:+, }${email_of[$agent]:-agent $agent} ${per_agent[$agent]}"
  done
  ((unassigned == 0)) || routed+="${routed:+, }unassigned $unassigned"
  say "demo leads: $created captured, $merged merged into existing leads; routed to ${routed:-nobody}"
}

# shellcheck shell=bash
# Demo data through the public API (so it exercises what a client would):
# after the first `up`, the bootstrap admin signs in and creates a few demo
# agents. Idempotent: request ids make a repeated CreateUser a no-op, and a
# marker file skips the whole step afterwards.

CRM_DEMO_AGENTS=("Ana Agent:ana.agent@crm.local" "Ben Broker:ben.broker@crm.local"
  "Cleo Closer:cleo.closer@crm.local")

# Prints the buf curl command (one word per line) for a method of auth.
demo_curl() { # <method path>
  local buf="$CRM_ROOT/tools/node_modules/.bin/buf" addr
  addr=$(svc_addr auth)
  printf '%s\n' "$buf" curl --protocol grpc
  if tls_enabled; then
    printf '%s\n' --cacert "$CRM_TLS/ca.crt" --cert "$CRM_TLS/client.crt" --key "$CRM_TLS/client.key" \
      "https://$addr/$1"
  else
    printf '%s\n' --http2-prior-knowledge "http://$addr/$1"
  fi
}

demo_seed() {
  local marker="$CRM_STATE/demo_seeded" buf="$CRM_ROOT/tools/node_modules/.bin/buf"
  [[ -f $marker ]] && return 0
  if [[ ! -x $buf ]] || ! command -v node >/dev/null 2>&1; then
    warn "no buf or node: skipping the demo agents (npm ci --prefix tools)"
    return 0
  fi
  local login=() create=() out token password entry name email i=0
  mapfile -t login < <(demo_curl crm.auth.v1.AuthService/Login)
  mapfile -t create < <(demo_curl crm.auth.v1.UserService/CreateUser)
  # JSON bodies go through stdin (-d @-), so no password shows in argv.
  out=$(node -e 'process.stdout.write(JSON.stringify({email: process.argv[1], password: require("fs").readFileSync(process.argv[2], "utf8")}))' \
    "$CRM_ADMIN_EMAIL" "$CRM_SECRETS/admin_password" | "${login[@]}" -d @- 2>&1) || {
    warn "demo agents skipped: the bootstrap admin could not sign in: $out"
    return 0
  }
  token=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).accessToken || "")' "$out")
  secret_ensure demo_agent_password 9
  password=$(<"$CRM_SECRETS/demo_agent_password")
  for entry in "${CRM_DEMO_AGENTS[@]}"; do
    name=${entry%%:*} email=${entry#*:} i=$((i + 1))
    out=$(node -e 'process.stdout.write(JSON.stringify({user: {name: process.argv[1], email: process.argv[2], role: "ROLE_AGENT"}, password: process.argv[3], requestId: "demo-agent-" + process.argv[4]}))' \
      "$name" "$email" "$password" "$i" |
      "${create[@]}" -H "authorization: Bearer $token" -d @- 2>&1) ||
      [[ $out == *already_exists* || $out == *"already exists"* ]] || {
      warn "demo agent $email not created: $out"
      return 0
    }
  done
  : >"$marker"
  say "demo agents: ${CRM_DEMO_AGENTS[*]#*:} (password in $(show_path "$CRM_SECRETS/demo_agent_password"))"
}

# shellcheck shell=bash
# `tools/crm up --tls`: a private CA and one certificate per service in
# .crm/tls (mode 700), made once with the openssl CLI and re-issued only when
# missing, expiring within 30 days or no longer signed by the CA. Each
# service's certificate (SAN localhost, 127.0.0.1 and its own name; server
# and client use) serves its port and identifies it when it calls the others;
# `client` is the operators' (buf curl, crm-health). The marker file
# .crm/tls/enabled remembers the mode for start, status and later `up`s.

CRM_TLS="$CRM_STATE/tls"
CRM_TLS_MARKER="$CRM_TLS/enabled"
CRM_TLS_CA_DAYS=3650
CRM_TLS_CERT_DAYS=825
CRM_TLS_RENEW_SECONDS=$((30 * 86400))

tls_enabled() { [[ -f $CRM_TLS_MARKER ]]; }

# Whether <name>.crt exists, is not about to expire, matches <name>.key and
# (for leaves) chains to ca.crt.
tls_cert_ok() { # <name>
  local crt="$CRM_TLS/$1.crt" key="$CRM_TLS/$1.key"
  [[ -s $crt && -s $key ]] || return 1
  openssl x509 -in "$crt" -noout -checkend "$CRM_TLS_RENEW_SECONDS" >/dev/null 2>&1 || return 1
  [[ "$(openssl x509 -in "$crt" -noout -pubkey 2>/dev/null)" == "$(openssl pkey -in "$key" -pubout 2>/dev/null)" ]] ||
    return 1
  [[ $1 == ca ]] || openssl verify -CAfile "$CRM_TLS/ca.crt" "$crt" >/dev/null 2>&1
}

# A new EC P-256 key, mode 600 from the start.
tls_new_key() { # <file>
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null)
}

# Writes <name>.key and <name>.crt (via .tmp files, so an interrupted run
# leaves no half pair); `ca` makes the CA, anything else a leaf it signs.
tls_issue() { # <name>
  local name=$1 key="$CRM_TLS/$1.key.tmp" crt="$CRM_TLS/$1.crt.tmp" log="$CRM_LOGS/openssl.log"
  local args=(-x509 -new -key "$key" -sha256 -config /dev/null -out "$crt"
    -addext "subjectKeyIdentifier=hash")
  case $name in
    ca)
      args+=(-days "$CRM_TLS_CA_DAYS" -subj "/CN=crm local CA"
        -addext "basicConstraints=critical,CA:true"
        -addext "keyUsage=critical,keyCertSign,cRLSign")
      ;;
    client)
      args+=(-days "$CRM_TLS_CERT_DAYS" -subj "/CN=crm operator" -CA "$CRM_TLS/ca.crt"
        -CAkey "$CRM_TLS/ca.key" -addext "authorityKeyIdentifier=keyid:always"
        -addext "basicConstraints=critical,CA:false" -addext "keyUsage=critical,digitalSignature"
        -addext "extendedKeyUsage=clientAuth" -addext "subjectAltName=DNS:client")
      ;;
    *)
      args+=(-days "$CRM_TLS_CERT_DAYS" -subj "/CN=$name" -CA "$CRM_TLS/ca.crt"
        -CAkey "$CRM_TLS/ca.key" -addext "authorityKeyIdentifier=keyid:always"
        -addext "basicConstraints=critical,CA:false" -addext "keyUsage=critical,digitalSignature"
        -addext "extendedKeyUsage=serverAuth,clientAuth"
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:$name")
      ;;
  esac
  if ! { tls_new_key "$key" && openssl req "${args[@]}" >"$log" 2>&1; }; then
    rm -f "$key" "$crt"
    tail -n 5 "$log" >&2
    die "openssl could not make the $name certificate (log: $(show_path "$log"))"
  fi
  mv -f "$key" "$CRM_TLS/$name.key"
  mv -f "$crt" "$CRM_TLS/$name.crt"
}

# The CA and every certificate, idempotently. A new CA re-issues them all.
tls_ensure() {
  command -v openssl >/dev/null 2>&1 || die "openssl not found (tools/crm deps installs it)"
  state_dirs
  (umask 077 && mkdir -p "$CRM_TLS")
  chmod 700 "$CRM_TLS"
  local name issued=()
  if ! tls_cert_ok ca; then
    tls_issue ca
    issued+=(ca)
  fi
  for name in "${CRM_SERVICES[@]}" client; do
    tls_cert_ok "$name" && continue
    tls_issue "$name"
    issued+=("$name")
  done
  ((${#issued[@]} == 0)) || say "issued TLS certificates in $(show_path "$CRM_TLS"): ${issued[*]}"
}

# Applies `up`'s --tls / --no-tls (on, off, or keep the remembered mode).
# The mode changes only while no service runs: the running ones would keep
# the old one, and the health probe would no longer reach them.
tls_set_mode() { # on|off|keep
  local want=$1 have=off svc running=()
  tls_enabled && have=on
  [[ $want == keep ]] && want=$have
  if [[ $want != "$have" ]]; then
    for svc in "${CRM_SERVICES[@]}"; do svc_pid "$svc" >/dev/null && running+=("$svc"); done
    ((${#running[@]} == 0)) ||
      die "running with TLS $have: ${running[*]}; run tools/crm down first to switch TLS $want"
  fi
  if [[ $want == on ]]; then
    tls_ensure
    [[ $have == on ]] || : >"$CRM_TLS_MARKER"
    say "mutual TLS on (certificates in $(show_path "$CRM_TLS"); tools/crm up --no-tls switches back)"
  elif [[ $have == on ]]; then
    rm -f "$CRM_TLS_MARKER"
    say "TLS off: plaintext on $CRM_HOST (the certificates stay in $(show_path "$CRM_TLS"))"
  fi
}

# The environment that puts a service on mutual TLS; nothing when TLS is off.
# Its one certificate serves its port and identifies it to the services it
# calls.
tls_export_service_env() { # <svc>
  tls_enabled || return 0
  local up=${1^^}
  export "CRM_${up}_TLS_CERT_FILE=$CRM_TLS/$1.crt"
  export "CRM_${up}_TLS_KEY_FILE=$CRM_TLS/$1.key"
  export "CRM_${up}_TLS_CLIENT_CA_FILE=$CRM_TLS/ca.crt"
  export "CRM_${up}_TLS_CA_FILE=$CRM_TLS/ca.crt"
  export "CRM_${up}_TLS_CLIENT_CERT_FILE=$CRM_TLS/$1.crt"
  export "CRM_${up}_TLS_CLIENT_KEY_FILE=$CRM_TLS/$1.key"
}

# crm-health's flags for the current mode (one per line, for mapfile).
tls_probe_args() {
  tls_enabled || return 0
  printf '%s\n' "--ca_file=$CRM_TLS/ca.crt" "--cert_file=$CRM_TLS/client.crt" \
    "--key_file=$CRM_TLS/client.key"
}

# The --tls_* flags our client tools (crm-load, crm-import-listings) take for
# the operator's certificate in the current mode (one per line, for mapfile).
tls_client_args() {
  tls_enabled || return 0
  printf '%s\n' "--tls_ca_file=$CRM_TLS/ca.crt" "--tls_client_cert_file=$CRM_TLS/client.crt" \
    "--tls_client_key_file=$CRM_TLS/client.key"
}

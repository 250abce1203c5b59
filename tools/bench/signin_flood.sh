#!/usr/bin/env bash
# Sign-in flood: auth's GetUser latency with and without clients sending
# wrong-password sign-ins non-stop, in interleaved rounds of one run (quiet,
# flooded, quiet, flooded, ...), medians printed with the ratio of the p99s.
# Needs the suite of `tools/crm up`; run it as `tools/crm bench flood [flags]`.
#
#   --rounds=N (3)  --duration=S (10, seconds per measurement)
#   --flood=N (16 sign-in clients)  --concurrency=N (32 GetUser calls in flight)
#   --json          one JSON line on stdout instead of the table
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/../.." && pwd -P)
CRM="$ROOT/tools/crm"
rounds=3 duration=10 flooders=16 concurrency=32 json=0
for arg; do
  case $arg in
    --rounds=*) rounds=${arg#*=} ;;
    --duration=*) duration=${arg#*=} ;;
    --flood=*) flooders=${arg#*=} ;;
    --concurrency=*) concurrency=${arg#*=} ;;
    --json) json=1 ;;
    *)
      echo "bench flood: unknown argument '$arg' (see tools/bench/signin_flood.sh)" >&2
      exit 2
      ;;
  esac
done
for n in "$rounds" "$duration" "$flooders" "$concurrency"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || {
    echo "bench flood: '$n' is not a positive number" >&2
    exit 2
  }
done

load() { CRM_NO_BUILD=1 "$CRM" bench load "$@" 2>/dev/null; }
field() { node -e 'const d = JSON.parse(require("fs").readFileSync(0)); console.log(d[process.argv[1]] ?? 0)' "$1"; }

# auth locks a client address after 100 failures, which would end a flood from
# one address within a second; a flood from many addresses is what this
# measures, so auth runs without that lock here and is restarted as it was.
# The failures it counts are forgotten afterwards, so that the next wrong
# password typed on this machine does not lock it out.
forget_flood() {
  "$CRM" psql auth -XAtqc "DELETE FROM login_throttle WHERE key = 'peer:127.0.0.1' OR key LIKE 'account:flood-%'" >/dev/null
}
work=$(mktemp -d)
flooding=""
finish() {
  if [[ -n $flooding ]]; then
    kill "$flooding" 2>/dev/null || true
    wait "$flooding" 2>/dev/null || true
  fi
  rm -rf "$work"
  forget_flood || true
  CRM_NO_BUILD=1 "$CRM" restart auth >&2
}
forget_flood
CRM_NO_BUILD=1 CRM_AUTH_PEER_MAX_FAILURES=1000000000 "$CRM" restart auth >&2
trap finish EXIT
# The admin signs in once, before any flood: during one, a sign-in may find
# the hashing pool full, which is the point. (Plaintext suites only.)
sign_in() {
  node -e 'process.stdout.write(JSON.stringify({email: process.env.CRM_ADMIN_EMAIL || "admin@crm.local", password: require("fs").readFileSync(process.argv[1], "utf8")}))' \
    "$ROOT/.crm/secrets/admin_password" |
    "$ROOT/tools/node_modules/.bin/buf" curl --protocol grpc --http2-prior-knowledge -d @- \
      "http://$(cat "$ROOT/.crm/run/auth.addr")/crm.auth.v1.AuthService/Login" |
    node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0)).accessToken)'
}
token=$(sign_in)
getuser() {
  load --target=@auth --metadata="authorization: Bearer $token" \
    --method=crm.auth.v1.UserService/GetUser \
    --data='{"id":"{n}"}' --n=range:1:4 --concurrency="$concurrency" --warmup=1s \
    --duration="${duration}s" --json
}
flood() {
  # Unknown emails, one per attempt: each costs a (dummy) password hash, and
  # no account lock stops it. Every call fails, so any error ratio is fine.
  load --target=@auth --method=crm.auth.v1.AuthService/Login \
    --data='{"email":"flood-{n}@crm.local","password":"wrong-password-1"}' --n=counter \
    --concurrency="$flooders" --warmup=0s --duration="$((duration + 3))s" \
    --max_error_ratio=1 --json
}

for ((r = 1; r <= rounds; r++)); do
  getuser >"$work/quiet.$r"
  flood >"$work/flood.$r" &
  flooding=$!
  sleep 1
  getuser >"$work/loud.$r"
  wait "$flooding" || true
  flooding=""
  printf 'bench flood: round %d/%d: GetUser p99 %s µs quiet, %s µs during the flood (%s sign-ins/s)\n' \
    "$r" "$rounds" "$(field p99_us <"$work/quiet.$r")" "$(field p99_us <"$work/loud.$r")" \
    "$(field rps <"$work/flood.$r")" >&2
done

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
stat() { for ((r = 1; r <= rounds; r++)); do field "$2" <"$work/$1.$r"; done | median; }
quiet_p99=$(stat quiet p99_us) loud_p99=$(stat loud p99_us)
quiet_p50=$(stat quiet p50_us) loud_p50=$(stat loud p50_us)
quiet_rps=$(stat quiet rps) loud_rps=$(stat loud rps) flood_rps=$(stat flood rps)
ratio=$(awk -v a="$loud_p99" -v b="$quiet_p99" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
if ((json)); then
  printf '{"rounds":%d,"flood_clients":%d,"concurrency":%d,"quiet":{"rps":%s,"p50_us":%s,"p99_us":%s},"flooded":{"rps":%s,"p50_us":%s,"p99_us":%s},"sign_ins_per_second":%s,"p99_ratio":%s}\n' \
    "$rounds" "$flooders" "$concurrency" "$quiet_rps" "$quiet_p50" "$quiet_p99" \
    "$loud_rps" "$loud_p50" "$loud_p99" "$flood_rps" "$ratio"
else
  printf '\nGetUser at %d in flight, medians of %d rounds; flood: %d clients of wrong-password sign-ins\n' \
    "$concurrency" "$rounds" "$flooders"
  printf '  %-18s %10s %10s %10s\n' "" "calls/s" "p50 µs" "p99 µs"
  printf '  %-18s %10s %10s %10s\n' "quiet" "$quiet_rps" "$quiet_p50" "$quiet_p99"
  printf '  %-18s %10s %10s %10s\n' "during the flood" "$loud_rps" "$loud_p50" "$loud_p99"
  printf '  sign-in attempts answered: %s/s\n  p99 during / quiet: %s\n' "$flood_rps" "$ratio"
fi

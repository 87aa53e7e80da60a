#!/usr/bin/env bash
# A first referral between two hospitals through `kakehashi serve`, on this machine only
# (127.0.0.1): installs missing Debian packages, builds the tool (build/release), makes the
# certificates (a CA, the service's, one per hospital system, the partner's notification
# endpoint's) and the host's Ed25519 signing key with openssl, writes the service's
# configuration, starts
#   - `kakehashi serve`, hosted by Bach Mai Hospital, and
#   - `kakehashi witness listen`, Shonan Kamakura's notification endpoint, which keeps the
#     host's signed checkpoints,
# then runs a referral from Bach Mai to Shonan Kamakura with curl (each hospital with its own
# client certificate), shows Shonan Kamakura's notifications arriving, and verifies the host's
# audit log against the checkpoints Shonan Kamakura kept. Every command is printed before it runs,
# so that it can be copied.
#
# Usage: scripts/serve-quickstart.sh [--keep-running]
#   Everything is written to build/quickstart/ (replaced on each run). With --keep-running the
#   service and the endpoint stay up (Ctrl-C stops them) for more curl commands of docs/api.md.
#   KAKEHASHI_TOOL=PATH        use this kakehashi binary, without installing or building (tests)
#   KAKEHASHI_QUICKSTART_DIR=DIR  the folder instead of build/quickstart
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build/release"
dir=${KAKEHASHI_QUICKSTART_DIR:-"$root/build/quickstart"}
jobs=${KAKEHASHI_JOBS:-$(nproc 2>/dev/null || echo 2)}
kakehashi=${KAKEHASHI_TOOL:-"$build_dir/tools/kakehashi/kakehashi"}
keep_running=0
for a in "$@"; do
  case "$a" in
    --keep-running) keep_running=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "[kakehashi.invalid_argument] $a: unknown option; expected --keep-running" >&2; exit 2 ;;
  esac
done

if [[ -z "${KAKEHASHI_TOOL:-}" ]]; then
  "$root/scripts/install-deps.sh" >&2
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    -DKAKEHASHI_BUILD_EXAMPLES=ON -DKAKEHASHI_BUILD_TOOLS=ON -DKAKEHASHI_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build_dir" --parallel "$jobs" --target kakehashi_cli >&2
fi
kakehashi=$(realpath "$kakehashi")

step() { printf '\n==> %s\n' "$*"; }
show() {  # COMMAND...: prints it (the tool as 'kakehashi'), then runs it
  local shown=(kakehashi) a
  for a in "${@:2}"; do
    if [[ "$a" =~ [^A-Za-z0-9@%+=:,./_-] ]]; then shown+=("'$a'"); else shown+=("$a"); fi
  done
  printf '$ %s\n' "${shown[*]}"
  "$@"
}
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"

step "Certificates: a CA, the service's, one per hospital system, Shonan Kamakura's endpoint's"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 30 -subj "/CN=kakehashi quick-start CA" 2>/dev/null
certificate() {  # NAME: a P-256 key and a certificate the CA signs, valid for 127.0.0.1
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" \
    -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" \
    -days 30 -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
for name in service bach-mai shonan-kamakura shonan-endpoint; do certificate "$name"; done
fingerprint() { openssl x509 -in "$1.pem" -outform DER | sha256sum | cut -d' ' -f1; }
echo "made ca.pem, service.pem, bach-mai.pem, shonan-kamakura.pem, shonan-endpoint.pem (and keys)"

step "The host's Ed25519 key: it signs the checkpoints of its audit log that the partner keeps"
openssl genpkey -algorithm ed25519 -out signing.key 2>/dev/null
openssl pkey -in signing.key -pubout -out signing.pub
echo "made signing.key (the host keeps it) and signing.pub (the partner gets it)"

pids=()
stop_all() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap stop_all EXIT
started() {  # LOG: waits for its "listening on" line, prints the port
  local i
  for i in $(seq 1 100); do
    if grep -qs "listening on" "$1"; then
      grep -o '127.0.0.1:[0-9]*' "$1" | head -1 | cut -d: -f2
      return 0
    fi
    sleep 0.1
  done
  cat "$1" >&2
  echo "[kakehashi.internal] $1: did not start" >&2
  return 1
}

step "Shonan Kamakura's notification endpoint (it would run at Shonan Kamakura)"
echo "\$ kakehashi witness listen --certificate shonan-endpoint.pem --key shonan-endpoint.key \\"
echo "    --client-ca ca.pem --host-sha256 <SHA-256 of bach-mai.pem> --public-key signing.pub \\"
echo "    --file shonan-kamakura.witness"
"$kakehashi" witness listen --certificate shonan-endpoint.pem --key shonan-endpoint.key \
  --client-ca ca.pem --host-sha256 "$(fingerprint bach-mai)" --public-key signing.pub \
  --file shonan-kamakura.witness --events shonan-kamakura.events \
  >shonan-endpoint.out 2>shonan-endpoint.log &
pids+=($!)
endpoint_port=$(started shonan-endpoint.log)
echo "listening on https://127.0.0.1:$endpoint_port/notify"

step "The service's configuration (docs/api.md): serve.json"
cat >serve.json <<EOF
{
  "format": "kakehashi.serve/1",
  "host": "bach-mai",
  "database": "referrals.db",
  "agreements": "$root/data/agreements.json",
  "policy": "$root/data/policy.example.json",
  "signing_key": "signing.key",
  "listen": {"address": "127.0.0.1", "port": 0},
  "tls": {"certificate": "service.pem", "key": "service.key", "client_ca": "ca.pem"},
  "clients": [
    {"hospital": "bach-mai", "certificate_sha256": "$(fingerprint bach-mai)"},
    {"hospital": "shonan-kamakura", "certificate_sha256": "$(fingerprint shonan-kamakura)"}
  ],
  "notifications": {
    "state": "notifications.json", "poll_ms": 200,
    "endpoints": [{"hospital": "shonan-kamakura",
                   "url": "https://127.0.0.1:$endpoint_port/notify",
                   "certificate": "bach-mai.pem", "key": "bach-mai.key", "ca": "ca.pem"}]
  }
}
EOF
cat serve.json

step "The service, hosted by Bach Mai Hospital"
echo "\$ kakehashi serve --config serve.json"
"$kakehashi" serve --config serve.json 2>serve.log &
pids+=($!)
port=$(started serve.log)
base="https://127.0.0.1:$port"
echo "listening on $base (one JSON line per request in serve.log)"

call() {  # HOSPITAL METHOD PATH [curl options]: prints the command, the status and the Task's
  local who=$1 method=$2 path=$3
  shift 3
  local shown=() a
  for a in -H "Content-Type: application/fhir+json" "$@" "$base$path"; do
    if [[ "$a" =~ [^A-Za-z0-9@%+=:,./_-] ]]; then shown+=("'$a'"); else shown+=("$a"); fi
  done
  printf '$ curl --cacert ca.pem --cert %s.pem --key %s.key -X %s %s\n' "$who" "$who" \
    "$method" "${shown[*]}"
  status=$(curl -sS -o response.json -D headers.txt -w '%{http_code}' --cacert ca.pem \
    --cert "$who.pem" --key "$who.key" -X "$method" -H 'Content-Type: application/fhir+json' \
    "$@" "$base$path")
  printf '%s %s' "$status" "$(jq -r '.resourceType + (if .status then " " + .status else "" end)' response.json)"
  if [[ "$status" -ge 300 ]]; then
    printf ': %s\n' "$(jq -r '.issue[0].diagnostics' response.json)"
    echo "[kakehashi.internal] $method $path: expected success" >&2
    exit 1
  fi
  printf '\n'
}

step "Bach Mai proposes referral R-1 (cardiology) to Shonan Kamakura: POST /Task"
cp "$root/data/fhir/task-proposal.json" task.json  # the referral's id (R-1), the hospitals, the patient's pseudonym, the specialty
cat task.json
call bach-mai POST /Task -H 'X-Request-ID: r-1-propose' -H 'X-Actor-Role: coordinator' \
  --data @task.json
task=$(grep -i '^Location:' headers.txt | tr -d '\r' | sed 's|.*Task/||')
echo "the Task is /Task/$task"

step "Bach Mai records the patient's consent (the kakehashi consent JSON of data/consents/)"
jq -n --rawfile c "$root/data/consents/bach-mai-2026-complete.json" \
  '{resourceType: "Parameters", parameter: [{name: "consent-record", valueString: $c}]}' \
  >consent.json
call bach-mai POST "/Task/$task/\$record-consent" -H 'X-Request-ID: r-1-consent' \
  -H 'X-Actor-Role: coordinator' --data @consent.json

step "Shonan Kamakura accepts, receives the patient, completes the care"
call shonan-kamakura POST "/Task/$task/\$accept" -H 'X-Request-ID: r-1-accept' \
  -H 'X-Actor-Role: clinician' -H 'X-Actor-User: dr-sato'
call shonan-kamakura POST "/Task/$task/\$transfer" -H 'X-Request-ID: r-1-transfer' \
  -H 'X-Actor-Role: coordinator' --data @consent.json
call shonan-kamakura POST "/Task/$task/\$complete" -H 'X-Request-ID: r-1-complete' \
  -H 'X-Actor-Role: clinician' -H 'X-Actor-User: dr-sato'
checkpoint=$(grep -i '^X-Kakehashi-Checkpoint:' headers.txt | cut -d' ' -f2- | tr -d '\r')
echo "Shonan Kamakura keeps the signed checkpoint the last answer carried:"
show "$kakehashi" witness add --file shonan-kamakura.witness --public-key signing.pub \
  --checkpoint "$checkpoint"

step "Shonan Kamakura's notifications (Bach Mai's changes to its referral), as its endpoint printed them"
for _ in $(seq 1 100); do
  [[ $(wc -l <shonan-kamakura.events 2>/dev/null || echo 0) -ge 2 ]] && break
  sleep 0.1
done
cat shonan-endpoint.out
[[ $(wc -l <shonan-kamakura.events 2>/dev/null || echo 0) -ge 2 ]] || {
  echo "[kakehashi.internal] the two notifications did not arrive; see serve.log" >&2
  exit 1
}

step "The host's log, verified against the checkpoints Shonan Kamakura kept"
show "$kakehashi" audit verify --db referrals.db --witness shonan-kamakura.witness \
  --public-key signing.pub

if [[ $keep_running -eq 1 ]]; then
  step "Running: $base (Ctrl-C stops both). Try, as Shonan Kamakura:"
  echo "  cd $dir && curl --cacert ca.pem --cert shonan-kamakura.pem --key shonan-kamakura.key $base/Task"
  wait
fi
stop_all
step "Done. Everything is in $dir; start the service again with:"
echo "  cd $dir && $kakehashi serve --config serve.json"

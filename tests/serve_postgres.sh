#!/usr/bin/env bash
# Two `kakehashi serve` processes on one PostgreSQL database, as a referral hub runs them for
# availability (issue 17's "done when"): one referral moved through both processes; the same
# accept sent to both at once (one wins, the other is refused, nothing lost, nothing doubled); a
# request answered by one process and retried on the other (answered from the log); the partner
# keeping the signed checkpoints of both (one chain); a load of 24 referrals spread over both while
# one is killed with SIGKILL and restarted (every request answered once, every referral completed
# once); then `audit verify` of the server's log with its exact row count, and the password of the
# database's URI in no log line.
#
# Usage: tests/serve_postgres.sh KAKEHASHI SOURCE_DIR WORK_DIR  (ctest postgres.serve)
# Run under pg_virtualenv, which sets PGHOST, PGPORT, PGUSER and PGPASSWORD for a throwaway server.
# Needs curl, openssl, jq and node (scripts/install-deps.sh installs them).
set -euo pipefail
# What the tools print is read in English, whatever the machine's locale.
export LC_ALL=C.UTF-8

kakehashi=$(realpath "$1")
source_dir=$(realpath "$2")
work=$3
rm -rf "$work"
mkdir -p "$work"
cd "$work"

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# ---- certificates: a CA, the server, two hospitals; the host's checkpoint signing key ------------
source "$source_dir/tests/support/test_pki.sh"
test_ca
certificate server "DNS:localhost,IP:127.0.0.1"
for h in bach-mai shonan-kamakura; do certificate "$h" "DNS:$h.example"; done
signing_key

# ---- one database on the server, two services' configurations -----------------------------------
psql -qAt -c "CREATE SCHEMA hub" >/dev/null
# The services' URI carries the password (it must never be printed); the tool's takes it from
# PGPASSWORD.
hub="postgresql://$PGUSER:$PGPASSWORD@$PGHOST:${PGPORT:-5432}/$PGDATABASE?options=-csearch_path%3Dhub"
server="postgresql://?options=-csearch_path%3Dhub"
configure() {  # FILE
  cat >"$1" <<EOF
{
  "format": "kakehashi.serve/1",
  "host": "bach-mai",
  "database": "$hub",
  "agreements": "$source_dir/data/agreements.json",
  "policy": "$source_dir/data/policy.example.json",
  "signing_key": "signing.key",
  "listen": {"address": "127.0.0.1", "port": 0},
  "tls": {"certificate": "server.pem", "key": "server.key", "client_ca": "ca.pem"},
  "clients": [
    {"hospital": "bach-mai", "certificate_sha256": "$(fingerprint bach-mai)"},
    {"hospital": "shonan-kamakura", "certificate_sha256": "$(fingerprint shonan-kamakura)"}
  ],
  "limits": {"request_seconds": 5}
}
EOF
}
configure serve.json

declare -A pids ports
logs=()
start_service() {  # NAME (a, b): its pid in pids[NAME], its port in ports[NAME]
  local log="serve-$1-$((${#logs[@]} + 1)).log"
  logs+=("$log")
  "$kakehashi" serve --config serve.json 2>"$log" &
  pids[$1]=$!
  for _ in $(seq 1 150); do
    grep -qs "listening on" "$log" && break
    sleep 0.1
  done
  ports[$1]=$(grep -o '127.0.0.1:[0-9]*' "$log" | head -1 | cut -d: -f2)
  [[ -n "${ports[$1]}" ]] || { cat "$log" >&2; echo "FAIL: service $1 did not start" >&2; exit 1; }
}
stop_all() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap stop_all EXIT
start_service a
start_service b

# call SERVICE HOSPITAL METHOD PATH [curl args...]: the body in body.json, the status in $status;
# the partner (Shonan Kamakura) keeps every checkpoint it is answered, from either process.
call() {
  local service=$1 who=$2 method=$3 path=$4 curl_exit=0
  shift 4
  status=$(curl -s -o body.json -D headers.txt -w '%{http_code}' --cacert ca.pem \
    --cert "$who.pem" --key "$who.key" -X "$method" -H 'Content-Type: application/fhir+json' \
    "$@" "https://127.0.0.1:${ports[$service]}$path") || curl_exit=$?
  [[ $curl_exit -eq 0 ]] || fail "$method $path on $service as $who: curl exited $curl_exit (status $status)"
  local checkpoint
  checkpoint=$(grep -i '^X-Kakehashi-Checkpoint:' headers.txt | cut -d' ' -f2- | tr -d '\r' || true)
  if [[ -n "$checkpoint" ]]; then
    "$kakehashi" witness add --file partner.witness --public-key signing.pub \
      --checkpoint "$checkpoint" >/dev/null || fail "the partner could not keep $checkpoint"
  fi
}
expect() {  # STATUS WHAT
  [[ "$status" == "$1" ]] || fail "$2: status $status, expected $1: $(head -c 400 body.json)"
}

cp "$source_dir/data/consents/bach-mai-2026-complete.json" consent.json
jq -n --rawfile c consent.json \
  '{resourceType: "Parameters", parameter: [{name: "consent-record", valueString: $c}]}' \
  >consent-params.json
task_of() { grep -i '^Location:' headers.txt | tr -d '\r' | sed 's|.*Task/||'; }

# ---- one referral, both processes: proposed on a, consented on b, the same accept sent to both at
# once (five referrals), retried across processes -------------------------------------------------
rows=0
for i in 1 2 3 4 5; do
  # Each referral is its own patient's (P-pg-i), with that patient's copy of the consent: a
  # patient has one open referral per specialty and destination.
  sed -e "s/\"R-1\"/\"R-$i\"/" -e "s/P-3f9c1a/P-pg-$i/" "$source_dir/data/fhir/task-proposal.json" \
    >task.json
  jq --arg p "P-pg-$i" --arg id "C-pg-$i" '.id = $id | .patient.ref = $p |
    .grantors |= map(if .role == "patient" then .person = $p else . end)' consent.json |
    jq -Rs '{resourceType: "Parameters", parameter: [{name: "consent-record", valueString: .}]}' \
      >consent-params-$i.json
  call a bach-mai POST /Task -H "X-Request-ID: propose-$i" -H 'X-Actor-Role: coordinator' \
    --data @task.json
  expect 201 "R-$i proposed on a"
  task=$(task_of)
  call b bach-mai POST "/Task/$task/\$record-consent" -H "X-Request-ID: consent-$i" \
    -H 'X-Actor-Role: coordinator' --data @consent-params-$i.json
  expect 200 "R-$i's consent on b"
  # The consent's request again, on the other process: answered from the log, no second row.
  call a bach-mai POST "/Task/$task/\$record-consent" -H "X-Request-ID: consent-$i" \
    -H 'X-Actor-Role: coordinator' --data @consent-params-$i.json
  expect 200 "R-$i's consent retried on a"
  grep -qi '^ETag: W/"2"' headers.txt || fail "the retry moved R-$i: $(cat headers.txt)"
  rows=$((rows + 2))
  # The same accept (If-Match W/"2"), two request ids, one to each process, at once.
  racers=()
  for s in a b; do
    curl -s -o "race-$s.json" -w '%{http_code}' --cacert ca.pem --cert shonan-kamakura.pem \
      --key shonan-kamakura.key -X POST -H 'Content-Type: application/fhir+json' \
      -H "X-Request-ID: accept-$i-$s" -H 'X-Actor-Role: clinician' -H 'If-Match: W/"2"' \
      "https://127.0.0.1:${ports[$s]}/Task/$task/\$accept" >"race-$s.status" &
    racers+=($!)
  done
  wait "${racers[@]}" || true
  outcome="$(cat race-a.status) $(cat race-b.status)"
  [[ "$outcome" == "200 412" || "$outcome" == "412 200" ]] ||
    fail "R-$i accepted on both at once: $outcome, expected one 200 and one 412"
  rows=$((rows + 1))
  # A 412 from the engine's own check, inside its transaction, is a refusal and audited; one from
  # the service's check before it writes nothing.
  if grep -q "not the expected" race-a.json race-b.json; then rows=$((rows + 1)); fi
  call b shonan-kamakura GET "/Task/$task"
  jq -e '.status == "accepted"' body.json >/dev/null && grep -qi '^ETag: W/"3"' headers.txt ||
    fail "R-$i after the race: $(grep -i etag headers.txt) $(head -c 300 body.json)"
  rm -f race-*.status race-*.json
done

# ---- load: 4 clients, 24 referrals, every attempt to the next process; a is killed with SIGKILL
# and restarted under the load (a request without an answer is sent again with its request id,
# to the other process) ---------------------------------------------------------------------------
echo "${ports[a]} ${ports[b]}" >ports.txt
node "$source_dir/tests/serve_load.mjs" ports.txt "$work" consent-params.json L 24 4 \
  >load.txt 2>load.err &
load_pid=$!
for _ in $(seq 1 200); do
  [[ $(cat serve-*.log | grep -c '"status":20' || true) -ge 40 ]] && break
  sleep 0.05
done
{ kill -9 "${pids[a]}" && wait "${pids[a]}"; } 2>/dev/null || true
echo "${ports[b]}" >ports.part && mv ports.part ports.txt
start_service a
echo "${ports[a]} ${ports[b]}" >ports.part && mv ports.part ports.txt
wait "$load_pid" || fail "the load failed: $(cat load.txt load.err)"
jq -e '.errors == 0' load.txt >/dev/null || fail "load: $(cat load.txt)"
rows=$((rows + 24 * 5))
loaded() { cat "$@" | grep -c '"request_id":"L-' || true; }
[[ $(loaded "${logs[0]}" "${logs[2]}") -gt 0 && $(loaded "${logs[1]}") -gt 0 ]] ||
  fail "the load did not reach both processes"

for s in a b; do kill -TERM "${pids[$s]}"; wait "${pids[$s]}" || fail "service $s did not stop cleanly"; done
pids=()

# ---- the server's log: intact, exactly the rows the requests made, every loaded referral completed
# once, the partner's checkpoints (from both processes) all in it --------------------------------
"$kakehashi" audit verify --db "$server" --json >verify.json || fail "audit verify: $(cat verify.json)"
jq -e ".intact == true and .rows == $rows and .referrals == 29" verify.json >/dev/null ||
  fail "audit verify: $(cat verify.json), expected $rows rows and 29 referrals"
"$kakehashi" referral list --db "$server" --state closed:completed >completed.txt
[[ $(grep -c '^L-' completed.txt) -eq 24 ]] || fail "not every loaded referral completed: $(cat completed.txt)"
"$kakehashi" audit verify --db "$server" --witness partner.witness --public-key signing.pub \
  >witness.txt || fail "audit verify --witness: $(cat witness.txt)"
grep -q "witness: the log holds every head the host signed" witness.txt ||
  fail "audit verify --witness: $(cat witness.txt)"

# ---- the logs: the database named without its password --------------------------------------------
grep -q "database postgresql://" "${logs[0]}" || fail "the listening line does not name the database: $(head -3 "${logs[0]}")"
if grep -qF "$PGPASSWORD" "${logs[@]}"; then fail "the database's password is in a log"; fi

if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed; the services' logs:" >&2
  for log in "${logs[@]}"; do tail -n 5 "$log" >&2; done
  exit 1
fi
echo "serve_postgres: two services on one database, $rows rows intact ($(jq -c . load.txt))"

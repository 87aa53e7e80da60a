#!/usr/bin/env bash
# The newcomer's way in: scripts/serve-quickstart.sh with the tool under test (a referral between
# two hospitals with curl, Shonan Kamakura's notifications arriving at `kakehashi witness listen`,
# the log verified against the checkpoints it kept); the service's scheduled deadline sweep, which
# runs at start; then `witness listen` given what a partner's
# endpoint must refuse: a checkpoint the host's key did not sign (422, nothing kept), a body that
# is not a notification (400, never quoted), a client that is not the host (403), and a gap in
# the event numbers (named, with how to ask for the missing ones).
#
# Usage: tests/serve_quickstart.sh KAKEHASHI SOURCE_DIR WORK_DIR  (ctest, label service)
set -euo pipefail
export LC_ALL=C.UTF-8  # the words the tool shows are English here

kakehashi=$(realpath "$1")
source_dir=$(realpath "$2")
work=$3
rm -rf "$work"
mkdir -p "$work"

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# ---- the quick start, as the README gives it ------------------------------------------------------
if ! KAKEHASHI_TOOL="$kakehashi" KAKEHASHI_QUICKSTART_DIR="$work/quickstart" \
  "$source_dir/scripts/serve-quickstart.sh" >"$work/quickstart.out" 2>&1; then
  cat "$work/quickstart.out" >&2
  echo "FAIL: scripts/serve-quickstart.sh failed" >&2
  exit 1
fi
for says in "201 Task requested" "200 Task accepted" "200 Task in-progress" "200 Task completed" \
  "event 1: https://127.0.0.1:" "event 2: https://127.0.0.1:" "kept the checkpoint of row 1 " \
  "audit log: intact (5 rows" "witness: the log holds every head the host signed (3 checkpoints)"; do
  grep -qF -- "$says" "$work/quickstart.out" || fail "the quick start did not say '$says'"
done
# Both processes stopped: nothing listens on their ports any more.
cd "$work/quickstart"
for log in serve.log shonan-endpoint.log; do
  grep -q "stopped" "$log" || fail "$log: the process was not stopped cleanly: $(tail -3 "$log")"
done
[[ $(wc -l <shonan-kamakura.witness) -eq 3 ]] || fail "the witness file holds $(wc -l <shonan-kamakura.witness) lines, expected 3"

# ---- the scheduled sweep runs at start: a referral that fell due while the service was down ------
# The shipped agreements set no response deadline; these give each agreement 14 days. R-OLD,
# proposed 60 days ago with the tool, is past it; the service, started with a sweep every 60
# minutes, expires it at once.
jq '.agreements |= map(.referral.response_deadline_days = 14)' "$source_dir/data/agreements.json" \
  >agreements-14.json
"$kakehashi" referral propose --db referrals.db --agreements agreements-14.json \
  --policy "$source_dir/data/policy.example.json" --by bach-mai --role coordinator --id R-OLD \
  --to shonan-kamakura --specialty cardiology --patient P-0a1b2c --idempotency-key old-propose \
  --at "$(date -u -d '-60 days' +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
jq '.sweep_every_minutes = 60 | .agreements = "agreements-14.json" | del(.notifications)' \
  serve.json >sweep.json
"$kakehashi" serve --config sweep.json 2>sweep.log &
sweep_pid=$!
for _ in $(seq 1 100); do grep -qs '"sweep"' sweep.log && break; sleep 0.1; done
kill -TERM "$sweep_pid"
wait "$sweep_pid" || fail "the service with a sweep did not stop cleanly"
grep -q '"sweep":"expire_overdue"' sweep.log || fail "no sweep at start: $(cat sweep.log)"
grep -q '"expired":1' sweep.log || fail "the sweep did not expire R-OLD: $(grep sweep sweep.log)"
"$kakehashi" referral show --db referrals.db --id R-OLD >old.txt
grep -q "Closed (Expired)" old.txt || fail "R-OLD is not closed:expired: $(cat old.txt)"

# ---- docs/api.md's examples, run as they are written (only base and root set to this test's) -----
"$kakehashi" serve --config serve.json 2>examples-serve.log &
examples_pid=$!
for _ in $(seq 1 100); do grep -qs "listening on" examples-serve.log && break; sleep 0.1; done
examples_port=$(grep -o '127.0.0.1:[0-9]*' examples-serve.log | head -1 | cut -d: -f2)
awk '/^### Examples/ {on = 1} on && /^```sh$/ {inside = 1; next} inside && /^```$/ {exit}
     inside {print}' "$source_dir/docs/api.md" |
  sed -e "s|^base=.*|base=https://127.0.0.1:$examples_port|" -e "s|^root=.*|root='$source_dir'|" \
    >examples.sh
[[ $(grep -c '^as ' examples.sh) -ge 15 ]] || fail "docs/api.md's examples were not found: $(head -3 examples.sh)"
if ! bash -euo pipefail examples.sh >examples.out 2>&1; then
  fail "docs/api.md's examples failed: $(tail -5 examples.out)"
fi
kill -TERM "$examples_pid"
wait "$examples_pid" || fail "the examples' service did not stop cleanly"
for says in '"resourceType":"CapabilityStatement"' '{"status":"ok"}' '"name":"eligible"' \
  '"status":"completed"' '"code":"patient_request"' '"code":"consent_withdrawn"' \
  '"code":"capacity_full"' '"type":"collection"' '"resourceType":"AuditEvent"' \
  '"resourceType":"Subscription"' '"name":"notification-event"'; do
  grep -qF -- "$says" examples.out || fail "docs/api.md's examples did not answer $says"
done
"$kakehashi" audit verify --db referrals.db >/dev/null || fail "the log after the examples does not verify"

# ---- witness listen: what a partner's endpoint refuses --------------------------------------------
fingerprint() { openssl x509 -in "$1.pem" -outform DER | sha256sum | cut -d' ' -f1; }
"$kakehashi" witness listen --certificate shonan-endpoint.pem --key shonan-endpoint.key \
  --client-ca ca.pem --host-sha256 "$(fingerprint bach-mai)" --public-key signing.pub \
  --file listen.witness --events listen.events >listen.out 2>listen.log &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -qs "listening on" listen.log && break; sleep 0.1; done
port=$(grep -o '127.0.0.1:[0-9]*' listen.log | head -1 | cut -d: -f2)
[[ -n "$port" ]] || { cat listen.log >&2; echo "FAIL: witness listen did not start" >&2; exit 1; }

post() {  # WHO BODY-FILE: the status in $status, the answer in answer.json
  local curl_exit=0
  status=$(curl -s -o answer.json -w '%{http_code}' --cacert ca.pem --cert "$1.pem" --key "$1.key" \
    -H 'Content-Type: application/fhir+json' --data-binary @"$2" "https://127.0.0.1:$port/notify") ||
    curl_exit=$?
  [[ $curl_exit -eq 0 ]] || fail "POST /notify as $1: curl exited $curl_exit (status $status)"
}
notification() {  # FIRST LAST CHECKPOINT: a notification of events FIRST..LAST
  local events="" n
  for n in $(seq "$1" "$2"); do
    events+=",{\"name\":\"notification-event\",\"part\":[{\"name\":\"event-number\",\"valueString\":\"$n\"},{\"name\":\"focus\",\"valueReference\":{\"reference\":\"Task/t-$n\"}}]}"
  done
  printf '{"resourceType":"Bundle","type":"history","entry":[{"resource":{"resourceType":"Parameters","parameter":[{"name":"type","valueCode":"event-notification"},{"name":"events-since-subscription-start","valueString":"%s"},{"name":"checkpoint","valueString":%s}%s]}}]}' \
    "$2" "$(jq -Rs . <<<"$3")" "$events"
}
good=$(head -1 shonan-kamakura.witness)
forged=$(jq -c '.seq = 99' <<<"$good")

notification 1 1 "$good" >n1.json
post bach-mai n1.json
[[ "$status" == 200 ]] || fail "a notification: status $status: $(cat answer.json)"
notification 4 4 "$good" >n4.json
post bach-mai n4.json
[[ "$status" == 200 ]] || fail "a notification after a gap: status $status"
grep -qF 'events 2 to 3 did not arrive here; ask the host for them: GET Subscription/<id>/$events?eventsSinceNumber=2' listen.out ||
  fail "the gap was not named: $(cat listen.out)"
[[ "$(cat listen.events)" == $'1 Task/t-1\n4 Task/t-4' ]] || fail "the events kept: $(cat listen.events)"
[[ $(wc -l <listen.witness) -eq 2 ]] || fail "two signed checkpoints should be kept"

notification 5 5 "$forged" >forged.json
post bach-mai forged.json
[[ "$status" == 422 ]] || fail "a checkpoint the host did not sign: status $status, expected 422"
grep -qF "not signed by the host's key" answer.json || fail "the forged checkpoint's answer: $(cat answer.json)"
[[ $(wc -l <listen.witness) -eq 2 ]] || fail "a forged checkpoint was kept"
grep -q '^5 ' listen.events && fail "the event of a refused notification was kept"

printf '{"resourceType":"Bundle","type":"history","entry":[{"resource":{"note":"Nguyen Van Canary 1961-02-03"' >bad.json
post bach-mai bad.json
[[ "$status" == 400 ]] || fail "a truncated body: status $status, expected 400"
grep -q "Canary" answer.json listen.log listen.out && fail "the body's text was quoted"
printf '{"resourceType":"Bundle","type":"history","entry":[{"resource":{"resourceType":"Parameters","parameter":[{"name":"type","valueCode":"event-notification"}]}}]}' >short.json
post bach-mai short.json
[[ "$status" == 400 ]] || fail "a status without its event count: status $status"
grep -qF "events-since-subscription-start" answer.json || fail "the missing element was not named: $(cat answer.json)"

post shonan-kamakura n1.json
[[ "$status" == 403 ]] || fail "a client that is not the host: status $status, expected 403"

kill -TERM "$pid"
wait "$pid" || fail "witness listen did not exit 0 on SIGTERM"
trap - EXIT
grep -q "stopped" listen.log || fail "witness listen did not say it stopped"

if [[ $failures -gt 0 ]]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "serve quick start: all checks passed"

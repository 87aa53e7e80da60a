#!/usr/bin/env bash
# kakehashi serve on 127.0.0.1, driven by curl as two hospitals' systems would drive it, each with
# its own client certificate (made here with openssl): mutual TLS (no certificate: no handshake;
# an unregistered one: 403), a referral's whole lifecycle through the FHIR API, request ids as
# idempotency keys, If-Match, another hospital's referral (404), hostile requests (each a clean
# OperationOutcome, nothing written), the configuration's problems all at once, the log (one JSON
# line per request, no patient data), SIGTERM, and `audit verify` of the database afterwards.
# With a validators directory (tests/fhir, as scripts/test.sh installs it), every FHIR response
# is also checked by both validators the tests use (@medplum/core's, and the R4 JSON schema), and
# @medplum/core's own FHIR client runs a referral (tests/fhir/serve_client.mjs).
#
# Usage: tests/serve_test.sh KAKEHASHI SOURCE_DIR WORK_DIR [VALIDATORS_DIR]  (ctest, label service)
# Needs curl, openssl and jq (scripts/install-deps.sh installs them).
set -euo pipefail
export LC_ALL=C.UTF-8  # the words the tool shows are English here

kakehashi=$(realpath "$1")
source_dir=$(realpath "$2")
work=$3
validators=${4:+$(realpath "$4")}
rm -rf "$work"
mkdir -p "$work"
cd "$work"

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# ---- certificates: a CA, the server, three hospitals, and a stranger the CA signed ----------------
source "$source_dir/tests/support/test_pki.sh"
test_ca
certificate server "DNS:localhost,IP:127.0.0.1"
certificate receiver "DNS:localhost,IP:127.0.0.1"
for h in bach-mai shonan-kamakura k-hospital stranger; do certificate "$h" "DNS:$h.example"; done
# The host's signing key for the checkpoints the partners keep, and its public half.
signing_key

# Shonan Kamakura's notification endpoint: down for its first two notifications.
receiver_pid=
start_receiver() {  # FAILS: the first time on a port the system chooses, then on the same one
  local again=0
  [[ -s receiver.port ]] && again=$(cat receiver.port)
  rm -f receiver.port
  node "$source_dir/tests/notification_receiver.mjs" receiver.pem receiver.key ca.pem \
    receiver.port received.txt "$1" "$again" &
  receiver_pid=$!
  for _ in $(seq 1 100); do [[ -s receiver.port ]] && break; sleep 0.1; done
  [[ -s receiver.port ]] || { echo "FAIL: the notification receiver did not start" >&2; exit 1; }
}
stop_receiver() { kill "$receiver_pid" 2>/dev/null || true; wait "$receiver_pid" 2>/dev/null || true; }
start_receiver 2
trap 'stop_receiver; [[ -n "${pid:-}" ]] && kill -9 "$pid" 2>/dev/null || true' EXIT

cp "$source_dir/data/consents/bach-mai-2026-complete.json" consent.json
cat >serve.json <<EOF
{
  "format": "kakehashi.serve/1",
  "host": "bach-mai",
  "database": "referrals.db",
  "agreements": "$source_dir/data/agreements.json",
  "policy": "$source_dir/data/policy.example.json",
  "signing_key": "signing.key",
  "listen": {"address": "127.0.0.1", "port": 0},
  "tls": {"certificate": "server.pem", "key": "server.key", "client_ca": "ca.pem"},
  "clients": [
    {"hospital": "bach-mai", "certificate_sha256": "$(fingerprint bach-mai)"},
    {"hospital": "shonan-kamakura", "certificate_sha256": "$(fingerprint shonan-kamakura)"},
    {"hospital": "k-hospital", "certificate_sha256": "$(fingerprint k-hospital)"}
  ],
  "limits": {"body_bytes": 65536, "header_bytes": 8192, "request_seconds": 2},
  "notifications": {
    "state": "notifications.json", "retry_min_ms": 100, "retry_max_ms": 400, "poll_ms": 100,
    "endpoints": [{"hospital": "shonan-kamakura", "url": "https://127.0.0.1:RECEIVER_PORT/notify",
                   "certificate": "bach-mai.pem", "key": "bach-mai.key", "ca": "ca.pem"}]
  }
}
EOF
sed -i "s/RECEIVER_PORT/$(cat receiver.port)/" serve.json

# ---- the configuration's problems, all at once --------------------------------------------------
cat >bad.json <<'EOF'
{"format": "kakehashi.serve/1", "host": "bach mai", "database": "x.db",
 "agreements": "missing.json", "listen": {"address": "127.0.0.1", "port": 70000},
 "tls": {"certificate": "server.pem", "key": "server.key"},
 "clients": [{"hospital": "bach-mai", "certificate_sha256": "XYZ"}], "colour": "red"}
EOF
set +e
"$kakehashi" serve --config bad.json 2>bad.err
code=$?
set -e
[[ $code -eq 2 ]] || fail "a bad configuration exited $code, expected 2"
for says in "colour: unknown key" "host: hospital id 'bach mai'" "agreements: cannot read" \
  "listen.port: 70000 is out of range" "tls.client_ca: is required but missing" \
  "clients[0].certificate_sha256: is not a SHA-256 fingerprint"; do
  grep -qF -- "$says" bad.err || fail "the configuration's refusal lacks '$says': $(cat bad.err)"
done

# ---- the service ----------------------------------------------------------------------------------
start_service() {  # LOG
  "$kakehashi" serve --config serve.json 2>"$1" &
  pid=$!
  for _ in $(seq 1 100); do
    grep -qs "listening on" "$1" && break
    sleep 0.1
  done
  port=$(grep -o '127.0.0.1:[0-9]*' "$1" | head -1 | cut -d: -f2)
  [[ -n "$port" ]] || { cat "$1" >&2; echo "FAIL: the service did not start" >&2; exit 1; }
  base="https://127.0.0.1:$port"
  echo "$port" >service.port.part && mv service.port.part service.port
}
start_service serve.log

# call HOSPITAL METHOD PATH [curl args...]: the response body in body.json, the status in $status,
# the headers in headers.txt; a request curl could not complete fails the check (it never ends the
# script unexplained).
# Each hospital keeps the signed checkpoint of every change it is answered, as a partner does.
call() {
  local who=$1 method=$2 path=$3 curl_exit=0
  shift 3
  status=$(curl -s -o body.json -D headers.txt -w '%{http_code}' --cacert ca.pem \
    --cert "$who.pem" --key "$who.key" -X "$method" -H 'Content-Type: application/fhir+json' \
    "$@" "$base$path") || curl_exit=$?
  [[ $curl_exit -eq 0 ]] || fail "$method $path as $who: curl exited $curl_exit (status $status)"
  local checkpoint
  checkpoint=$(grep -i '^X-Kakehashi-Checkpoint:' headers.txt | cut -d' ' -f2- | tr -d '\r' || true)
  if [[ -n "$checkpoint" ]]; then
    "$kakehashi" witness add --file "$who.witness" --public-key signing.pub \
      --checkpoint "$checkpoint" >/dev/null || fail "$who could not keep the checkpoint $checkpoint"
  fi
  # Every FHIR answer goes to the validators at the end (refusals' OperationOutcomes included).
  if [[ -s body.json ]] && grep -qi '^Content-Type: application/fhir+json' headers.txt; then
    answered=$((answered + 1))
    cp body.json "fhir-answer-$answered.json"
    validated+=("$work/fhir-answer-$answered.json")
  fi
}
answered=0
expect() {  # STATUS WHAT
  if [[ "$status" != "$1" ]]; then fail "$2: status $status, expected $1: $(head -c 400 body.json)"; fi
}
has() {  # TEXT WHAT
  grep -qF -- "$1" body.json || fail "$2: the body lacks '$1': $(head -c 400 body.json)"
}
validated=()
keep() {  # NAME: keeps the FHIR body for the validators
  cp body.json "fhir-$1.json"
  validated+=("$work/fhir-$1.json")
}

# Mutual TLS: no certificate, no handshake; a certificate the CA signed but no hospital owns: 403.
if curl -s -o /dev/null --cacert ca.pem "$base/metadata"; then
  fail "a request without a client certificate was answered"
fi
call stranger GET /metadata
expect 403 "an unregistered certificate"
has "not registered to any hospital" "an unregistered certificate"

call bach-mai GET /metadata
expect 200 "GET /metadata"
has '"resourceType":"CapabilityStatement"' "GET /metadata"
keep metadata

# Propose: R-1 from Bach Mai to Shonan Kamakura.
cp "$source_dir/data/fhir/task-proposal.json" task.json  # a proposal as a hospital system sends it
call bach-mai POST /Task -H 'X-Request-ID: req-propose' -H 'X-Actor-Role: coordinator' \
  -H 'X-Correlation-ID: corr-1' --data @task.json
expect 201 "POST /Task"
grep -qi '^ETag: W/"1"' headers.txt || fail "POST /Task: no ETag W/\"1\": $(cat headers.txt)"
grep -qi '^X-Correlation-ID: corr-1' headers.txt || fail "POST /Task: the correlation id is not echoed"
task=$(grep -i '^Location:' headers.txt | tr -d '\r' | sed 's|.*Task/||')
[[ -n "$task" ]] || fail "POST /Task: no Location"
keep created
# The same request again: the first answer, no second effect.
call bach-mai POST /Task -H 'X-Request-ID: req-propose' -H 'X-Actor-Role: coordinator' --data @task.json
expect 201 "POST /Task retried"

# Search, as each party sees it; K Hospital sees nothing and cannot read it.
call shonan-kamakura GET '/Task?identifier=urn:kakehashi:referral|R-1&_count=10'
expect 200 "search by identifier"
has '"total":1' "search by identifier"
keep search
call k-hospital GET '/Task?identifier=R-1'
has '"total":0' "another hospital's search"
call k-hospital GET "/Task/$task"
expect 404 "another hospital's referral"

# The lifecycle, with a refusal of each kind on the way.
call shonan-kamakura POST "/Task/$task/\$accept" -H 'X-Request-ID: req-accept-early' \
  -H 'X-Actor-Role: clinician'
expect 409 "accept before consent"
has "[kakehashi.failed_precondition]" "accept before consent"
keep refused
jq -n --rawfile c consent.json \
  '{resourceType: "Parameters", parameter: [{name: "consent-record", valueString: $c}]}' \
  >consent-params.json
call bach-mai POST "/Task/$task/\$record-consent" -H 'X-Request-ID: req-consent' \
  -H 'X-Actor-Role: coordinator' --data @consent-params.json
expect 200 "\$record-consent"
call shonan-kamakura POST "/Task/$task/\$accept" -H 'X-Request-ID: req-accept-coord' \
  -H 'X-Actor-Role: coordinator'
expect 403 "accept by a coordinator"
call shonan-kamakura POST "/Task/$task/\$accept" -H 'X-Request-ID: req-accept' \
  -H 'X-Actor-Role: clinician' -H 'X-Actor-User: dr-sato' -H 'If-Match: W/"2"'
expect 200 "\$accept"
has '"status":"accepted"' "\$accept"
call shonan-kamakura POST "/Task/$task/\$transfer" -H 'X-Request-ID: req-transfer' \
  -H 'X-Actor-Role: coordinator' -H 'If-Match: W/"2"' --data @consent-params.json
expect 412 "\$transfer with a stale If-Match"
call shonan-kamakura POST "/Task/$task/\$transfer" -H 'X-Request-ID: req-transfer' \
  -H 'X-Actor-Role: coordinator' -H 'If-Match: W/"3"' --data @consent-params.json
expect 200 "\$transfer"
# The results go home before completion: the recorded consent again, and the discharge summary by
# reference (one row, the Task's output); without a document it is bad input (400, no row).
jq --arg sha "$(printf 'summary' | sha256sum | cut -d' ' -f1)" '.parameter += [{name: "document",
  resource: {resourceType: "DocumentReference", status: "current",
    masterIdentifier: {system: "urn:kakehashi:document", value: "D-R1-SUMMARY"},
    type: {coding: [{system: "urn:kakehashi:document-kind", code: "discharge_summary"}]},
    content: [{attachment: {contentType: "application/pdf", language: "ja", size: 7,
      extension: [{url: "urn:kakehashi:fhir:StructureDefinition:document-content",
                   extension: [{url: "sha256", valueString: $sha}]}]}}]}}]' \
  consent-params.json >results.json
call shonan-kamakura POST "/Task/$task/\$return-results" -H 'X-Request-ID: req-results-none' \
  -H 'X-Actor-Role: clinician' --data @consent-params.json
expect 400 "\$return-results without a document"
has "give each document returned as parameter 'document'" "\$return-results without a document"
call shonan-kamakura POST "/Task/$task/\$return-results" -H 'X-Request-ID: req-results' \
  -H 'X-Actor-Role: clinician' --data @results.json
expect 200 "\$return-results"
has '"code":"results"' "\$return-results"
call shonan-kamakura POST "/Task/$task/\$complete" -H 'X-Request-ID: req-complete' \
  -H 'X-Actor-Role: clinician'
expect 200 "\$complete"
has '"status":"completed"' "\$complete"
keep completed
call bach-mai GET "/Task/$task/\$everything"
expect 200 "\$everything"
has '"type":"collection"' "\$everything"
keep everything

# A second referral, declined with a coded reason.
sed 's/"R-1"/"R-2"/' task.json >task2.json
# Prefer: return=minimal answers without a body (the Location and ETag say enough);
# return=OperationOutcome with one that says what the referral became.
call bach-mai POST /Task -H 'X-Request-ID: req-propose-2' -H 'X-Actor-Role: coordinator' \
  -H 'Prefer: return=minimal' --data @task2.json
expect 201 "POST /Task R-2"
[[ ! -s body.json ]] || fail "Prefer: return=minimal: a body came: $(head -c 200 body.json)"
grep -qi '^Preference-Applied: return=minimal' headers.txt || fail "Prefer: return=minimal was not applied"
grep -qi '^ETag: W/"1"' headers.txt || fail "Prefer: return=minimal: no ETag"
task2=$(grep -i '^Location:' headers.txt | tr -d '\r' | sed 's|.*Task/||')
call bach-mai POST "/Task/$task2/\$record-consent" -H 'X-Request-ID: req-consent-2' \
  -H 'X-Actor-Role: coordinator' -H 'Prefer: return=OperationOutcome' --data @consent-params.json
expect 200 "\$record-consent, return=OperationOutcome"
has '"severity":"information"' "\$record-consent, return=OperationOutcome"
has "referral R-2: consent_recorded (version 2)" "\$record-consent, return=OperationOutcome"
keep outcome-information
printf '{"resourceType":"Parameters","parameter":[{"name":"reason","valueCode":"capacity_full"}]}' >decline.json
call shonan-kamakura POST "/Task/$task2/\$decline" -H 'X-Request-ID: req-decline-2' \
  -H 'X-Actor-Role: coordinator' --data @decline.json
expect 200 "\$decline"
has '"code":"capacity_full"' "\$decline"
# Sending R-2 on: an input of type replaces; the destination that declined it is refused (the
# shipped agreements give Bach Mai no other partner), and a replaces input without its identifier.
jq '.identifier[0].value = "R-2b" | .input += [{type: {coding: [{system:
    "urn:kakehashi:task-input", code: "replaces"}]}, valueIdentifier: {system:
    "urn:kakehashi:referral", value: "R-2"}}]' task.json >onward.json
call bach-mai POST /Task -H 'X-Request-ID: req-onward' -H 'X-Actor-Role: coordinator' --data @onward.json
expect 400 "an onward referral to the destination that declined"
has "the destination that declined referral R-2" "an onward referral to the destination that declined"
jq 'del(.input[1].valueIdentifier)' onward.json >onward-bad.json
call bach-mai POST /Task -H 'X-Request-ID: req-onward-bad' -H 'X-Actor-Role: coordinator' \
  --data @onward-bad.json
expect 400 "a replaces input without its identifier"
has "Task.input: an input of type urn:kakehashi:task-input#replaces" "a replaces input without its identifier"
call bach-mai GET '/Task?status=rejected'
has '"total":1' "search by status"
call bach-mai GET '/Task?status=completed,http://hl7.org/fhir/task-status|rejected'
has '"total":2' "search by two statuses, one with its system"
call bach-mai GET '/Task?status=refused'
expect 400 "search by a status FHIR does not have"
has "'refused' is not a FHIR Task status" "search by a status FHIR does not have"
# The same request id again: the same request is answered from the log; another one is refused.
call shonan-kamakura POST "/Task/$task2/\$decline" -H 'X-Request-ID: req-decline-2' \
  -H 'X-Actor-Role: coordinator' --data @decline.json
expect 200 "\$decline repeated exactly"
printf '{"resourceType":"Parameters","parameter":[{"name":"reason","valueCode":"other"}]}' >decline-other.json
call shonan-kamakura POST "/Task/$task2/\$decline" -H 'X-Request-ID: req-decline-2' \
  -H 'X-Actor-Role: coordinator' --data @decline-other.json
expect 409 "a request id reused for another body"
has "was used for another request" "a request id reused for another body"
call shonan-kamakura POST "/Task/$task2/\$complete" -H 'X-Request-ID: req-h5' \
  -H 'X-Actor-Role: clinician' -H 'If-Match: 3'
expect 400 "a malformed If-Match"

# Eligibility, as each hospital asks it, with every reason for every "no".
call bach-mai GET '/$eligibility?specialty=cardiology&at=2026-03-01T00:00:00Z'
expect 200 "\$eligibility"
[[ "$(jq -r '[.parameter[] | select(.name == "eligible") | .part[] | select(.name == "hospital")
  | .valueIdentifier.value] | join(" ")' body.json)" == "shonan-kamakura" ]] ||
  fail "\$eligibility for Bach Mai: $(head -c 400 body.json)"
keep eligibility
printf '{"resourceType":"Parameters","parameter":[{"name":"specialty","valueCode":"cardiology"}]}' >eligibility.json
call k-hospital POST '/$eligibility' --data @eligibility.json
expect 200 "POST \$eligibility"
has '"code":"specialty_not_covered"' "\$eligibility for K Hospital"
has '"name":"explanation"' "\$eligibility for K Hospital"
call k-hospital GET '/$eligibility'
expect 400 "\$eligibility without a specialty"

# A referral's AuditEvents, for its parties only.
call shonan-kamakura GET "/AuditEvent?entity=Task/$task"
expect 200 "AuditEvent search"
has '"total":8' "AuditEvent search (R-1's eight rows)"
keep audit-events
call k-hospital GET "/AuditEvent?entity=Task/$task"
has '"total":0' "another hospital's AuditEvent search"

# Hostile requests: a clean OperationOutcome each, nothing written.
call bach-mai POST /Task -H 'X-Request-ID: req-h1' -H 'X-Actor-Role: coordinator' \
  --data '{"resourceType": "Task", "note": "CANARYNAME born 1931-07-17'
expect 400 "a truncated body"
has "line 1, column" "a truncated body"
grep -q "CANARY\|1931" body.json && fail "a syntax error quoted the body"
call bach-mai POST /Task -H 'X-Actor-Role: coordinator' --data @task.json
expect 400 "no X-Request-ID"
has "X-Request-ID: is missing" "no X-Request-ID"
head -c 70000 /dev/zero | tr '\0' 'x' >big.json
call bach-mai POST /Task -H 'X-Request-ID: req-h2' -H 'X-Actor-Role: coordinator' --data @big.json
expect 413 "a body over the limit"
# A client still sending when the 413 comes: what it sends is read and dropped until it closes
# (no reset, no close_notify before then), so the refusal reaches it however loaded the machine.
node "$source_dir/tests/serve_oversized.mjs" "$port" "$work" >oversized.txt 2>&1 ||
  fail "a client still sending its oversized body: $(cat oversized.txt)"
call bach-mai GET "/Task/../metadata"
[[ "$status" == 404 || "$status" == 200 ]] || fail "a dot-dot path: status $status"
call bach-mai GET "/Task/%2e%2e%2fmetadata"
expect 404 "an encoded dot-dot path"
call bach-mai GET "/Task?colour=red"
expect 400 "an unknown search parameter"
call bach-mai POST "/Task/$task/\$frobnicate" -H 'X-Request-ID: req-h3' -H 'X-Actor-Role: clinician'
expect 404 "an unknown operation"
call bach-mai GET /metadata -H "X-Long: $(head -c 9000 /dev/zero | tr '\0' 'y')"
expect 431 "headers over the limit"
# A slow client (half a request line, then nothing) is disconnected after request_seconds (2 s),
# long before it would finish.
started=$(date +%s)
timeout 10 openssl s_client -quiet -connect "127.0.0.1:$port" -cert bach-mai.pem -key bach-mai.key \
  -CAfile ca.pem < <(printf 'GET /metadata HTTP/1.1\r\nHost: x\r\n'; sleep 8) >/dev/null 2>&1 || true
[[ $(($(date +%s) - started)) -lt 7 ]] || fail "a slow client was kept for $(($(date +%s) - started)) s"
# TLS older than 1.2 is refused by the server (alert 70, protocol version), even from a client
# that allows it; TLS 1.2 is served.
tls_as() {  # VERSION
  timeout 10 openssl s_client "-$1" -cipher 'DEFAULT:@SECLEVEL=0' -connect "127.0.0.1:$port" \
    -cert bach-mai.pem -key bach-mai.key -CAfile ca.pem </dev/null 2>&1 || true
}
tls_as tls1_1 | grep -q "alert protocol version" || fail "TLS 1.1 was not refused: $(tls_as tls1_1 | head -5)"
tls_as tls1_2 | grep -q "Protocol  *: TLSv1.2" || fail "TLS 1.2 was not served: $(tls_as tls1_2 | head -5)"
# A connection over limits.connections is closed before its handshake; once one closes, the next
# is served. A second service on the same database with a limit of 2.
jq '.limits.connections = 2 | .listen.port = 0 | del(.notifications)' serve.json >cap.json
"$kakehashi" serve --config cap.json 2>cap.log &
cap_pid=$!
for _ in $(seq 1 100); do grep -qs "listening on" cap.log && break; sleep 0.1; done
cap_port=$(grep -o '127.0.0.1:[0-9]*' cap.log | head -1 | cut -d: -f2)
health() {
  curl -s -o /dev/null -w '%{http_code}' --cacert ca.pem --cert bach-mai.pem --key bach-mai.key \
    "https://127.0.0.1:$cap_port/health" || true
}
held=()
for n in 1 2; do
  openssl s_client -ign_eof -connect "127.0.0.1:$cap_port" -cert bach-mai.pem \
    -key bach-mai.key -CAfile ca.pem </dev/null >"held-$n.out" 2>&1 &
  held+=($!)
done
# Both handshakes done (however loaded the machine is) before the third connection is tried.
for _ in $(seq 1 100); do
  grep -qs "SSL handshake has read" held-1.out && grep -qs "SSL handshake has read" held-2.out && break
  sleep 0.1
done
grep -qs "SSL handshake has read" held-2.out || fail "the two held connections were not served"
[[ "$(health)" == "000" ]] || fail "a third connection was served beyond limits.connections 2"
kill "${held[@]}" 2>/dev/null || true
served=
for _ in $(seq 1 50); do
  [[ "$(health)" == "200" ]] && { served=1; break; }
  sleep 0.1
done
[[ -n "$served" ]] || fail "once the held connections closed, a new one was not served"
kill -TERM "$cap_pid"
wait "$cap_pid" || fail "the capped service did not stop cleanly"
wait "${held[@]}" 2>/dev/null || true
sed 's/"bach-mai"}}/"k-hospital"}}/' task.json | sed 's/"R-1"/"R-9"/' >forged.json
call bach-mai POST /Task -H 'X-Request-ID: req-h4' -H 'X-Actor-Role: coordinator' --data @forged.json
expect 403 "a requester other than the certificate's hospital"

# Notifications: Shonan Kamakura is told of Bach Mai's four changes to their referrals (R-1 and
# R-2 proposed and consented), after its endpoint's two failures, each event under one number.
wait_for_events() {  # N: the receiver has acknowledged events 1..N
  for _ in $(seq 1 300); do
    [[ -f received.txt ]] && [[ $(cut -d' ' -f1 received.txt | sort -un | wc -l) -ge $1 ]] && return 0
    sleep 0.1
  done
  return 1
}
wait_for_events 4 || fail "the partner did not receive its 4 notifications: $(cat received.txt 2>/dev/null)"
[[ "$(cut -d' ' -f1 received.txt | sort -n | tr '\n' ' ')" == "1 2 3 4 " ]] ||
  fail "events received: $(cut -d' ' -f1 received.txt | tr '\n' ' '), expected 1 2 3 4 once each"
grep -q "^1 $base/Task/$task " received.txt || fail "event 1 is not R-1's Task: $(head -1 received.txt)"
# The sender keeps its connection to the endpoint: its attempts so far (two refused, then the
# deliveries) came on fewer connections than requests.
[[ $(sort -u received.txt.connections | wc -l) -lt $(wc -l <received.txt.connections) ]] ||
  fail "every notification came on a new connection: $(tr '\n' ' ' <received.txt.connections)"
grep -q '"notify":"shonan-kamakura".*"status":500' serve.log || fail "the endpoint's failures are not logged"
# What it missed, again, by number.
call shonan-kamakura GET /Subscription
has '"total":1' "GET /Subscription"
subscription=$(jq -r '.entry[0].resource.id' body.json)
call shonan-kamakura GET "/Subscription/$subscription/\$events?eventsSinceNumber=2"
expect 200 "\$events"
[[ "$(jq -r '[.entry[0].resource.parameter[] | select(.name == "notification-event") |
  .part[] | select(.name == "event-number") | .valueString] | join(" ")' body.json)" == "2 3 4" ]] ||
  fail "\$events since 2: $(head -c 400 body.json)"
keep events
call bach-mai GET "/Subscription/$subscription"
expect 404 "another hospital's Subscription"

# Stop: SIGTERM drains and ends the process with status 0.
kill -TERM "$pid"
set +e
wait "$pid"
code=$?
set -e
[[ $code -eq 0 ]] || fail "the service exited $code after SIGTERM"
grep -q "kakehashi serve: stopped" serve.log || fail "no 'stopped' line"

# A crash while the partner is down loses no notification: R-3 is proposed and consented (events
# 5 and 6) while the endpoint fails, the service is killed with SIGKILL, the endpoint comes back,
# the service restarts, and events 5 and 6 arrive, once each, after 1 to 4.
stop_receiver
start_receiver 1000000
start_service serve-2.log
sed 's/"R-1"/"R-3"/' task.json >task3.json
call bach-mai POST /Task -H 'X-Request-ID: req-propose-3' -H 'X-Actor-Role: coordinator' --data @task3.json
expect 201 "POST /Task R-3"
task3=$(grep -i '^Location:' headers.txt | tr -d '\r' | sed 's|.*Task/||')
call bach-mai POST "/Task/$task3/\$record-consent" -H 'X-Request-ID: req-consent-3' \
  -H 'X-Actor-Role: coordinator' --data @consent-params.json
expect 200 "\$record-consent R-3"
for _ in $(seq 1 50); do grep -q '"events":\[5,6\].*"status":500' serve-2.log && break; sleep 0.1; done
grep -q '"events":\[5,6\].*"status":500' serve-2.log || fail "events 5 and 6 were not attempted"
{ kill -9 "$pid" && wait "$pid"; } 2>/dev/null || true
stop_receiver
start_receiver 0
start_service serve-3.log
wait_for_events 6 || fail "events 5 and 6 did not arrive after the restart: $(cat received.txt)"
[[ "$(cut -d' ' -f1 received.txt | sort -n | tr '\n' ' ')" == "1 2 3 4 5 6 " ]] ||
  fail "events received: $(cut -d' ' -f1 received.txt | tr '\n' ' '), expected 1 to 6 once each"
jq -e '."shonan-kamakura".event == 6' notifications.json >/dev/null ||
  fail "the cursor is not at event 6: $(cat notifications.json)"

# Load: 4 clients run 24 referrals through their whole lifecycle (120 requests) while the service
# is killed with SIGKILL and restarted under them; a request that got no answer is sent again
# with the same request id. No request fails, every referral is completed once, and the partner
# gets every event (Bach Mai's proposal and consent of each: events 7 to 54), each number naming
# one change (a batch acknowledged just before the kill may come again, under its numbers).
kill -TERM "$pid" && wait "$pid"
start_service serve-4.log
node "$source_dir/tests/serve_load.mjs" service.port "$work" consent-params.json L 24 4 \
  >load.txt 2>load.err &
load_pid=$!
for _ in $(seq 1 100); do
  [[ $(grep -c '"status":20' serve-4.log || true) -ge 20 ]] && break
  sleep 0.05
done
{ kill -9 "$pid" && wait "$pid"; } 2>/dev/null || true
start_service serve-5.log
wait "$load_pid" || fail "the load failed: $(cat load.txt load.err)"
jq -e '.errors == 0' load.txt >/dev/null || fail "load: $(cat load.txt)"
"$kakehashi" referral list --db referrals.db --state closed:completed >completed.txt
[[ $(grep -c '^L-' completed.txt) -eq 24 ]] || fail "not every loaded referral completed: $(cat completed.txt)"
wait_for_events 54 || fail "the partner lacks events of the load: $(cut -d' ' -f1 received.txt | sort -un | tail -3)"
[[ "$(cut -d' ' -f1 received.txt | sort -un | tr '\n' ' ')" == "$(seq 1 54 | tr '\n' ' ')" ]] ||
  fail "events received under load: $(cut -d' ' -f1 received.txt | sort -un | tr '\n' ' ')"
# (The Task's URL without the service's address, which changed with the restart.)
named() { cut -d' ' -f1,2 received.txt | sed 's| https://[^/]*/| |' | sort -u | cut -d' ' -f1 | uniq -d; }
[[ -z "$(named)" ]] || fail "an event number named two changes: $(named)"
# A FHIR client no one here wrote (@medplum/core's MedplumClient, from the validators' pinned
# packages) runs one more referral through its lifecycle as the two hospitals (6 rows, 2 events).
events=54
rows=134
referrals=27
if [[ -n "$validators" ]]; then
  (cd "$validators" && node serve_client.mjs "$port" "$work" "$work/consent-params.json") \
    >client.txt 2>&1 || fail "the independent FHIR client: $(cat client.txt)"
  events=56
  rows=140
  referrals=28
fi
# Bach Mai attaches R-3's referral letter by reference ($attach-document, a DocumentReference as
# the export writes one): one row and one event for Shonan Kamakura; a retry writes nothing; a
# DocumentReference carrying the content, or none, is refused before the engine (no row).
jq -n --arg sha "$(printf 'letter' | sha256sum | cut -d' ' -f1)" '{resourceType: "Parameters",
  parameter: [{name: "document", resource: {resourceType: "DocumentReference",
    masterIdentifier: {system: "urn:kakehashi:document", value: "D-R3-LETTER"}, status: "current",
    type: {coding: [{system: "urn:kakehashi:document-kind", code: "referral_letter"}]},
    content: [{attachment: {contentType: "application/pdf", language: "vi", size: 6,
      extension: [{url: "urn:kakehashi:fhir:StructureDefinition:document-content",
                   extension: [{url: "sha256", valueString: $sha}]}]}}]}}]}' >document.json
call bach-mai POST "/Task/$task3/\$attach-document" -H 'X-Request-ID: req-document' \
  -H 'X-Actor-Role: coordinator' --data @document.json
expect 200 "\$attach-document"
has '"status":"requested"' "\$attach-document"
call bach-mai POST "/Task/$task3/\$attach-document" -H 'X-Request-ID: req-document' \
  -H 'X-Actor-Role: coordinator' --data @document.json
expect 200 "\$attach-document, repeated"
jq '.parameter[0].resource.content[0].attachment.data = "bGV0dGVy"' document.json >document-data.json
call bach-mai POST "/Task/$task3/\$attach-document" -H 'X-Request-ID: req-document-data' \
  -H 'X-Actor-Role: coordinator' --data @document-data.json
expect 400 "\$attach-document with the content"
has "attachment.data: is present" "\$attach-document with the content"
call bach-mai POST "/Task/$task3/\$attach-document" -H 'X-Request-ID: req-document-none' \
  -H 'X-Actor-Role: coordinator' --data '{"resourceType":"Parameters"}'
expect 400 "\$attach-document without a document"
call shonan-kamakura GET "/Task/$task3/\$everything"
expect 200 "\$everything R-3"
has '"masterIdentifier":{"system":"urn:kakehashi:document","value":"D-R3-LETTER"}' "\$everything R-3"
keep everything-documents
# A milestone before the journey: R-3 is not accepted, so it is refused (409, audited: one row,
# no event); an unknown milestone is bad input (400, no row).
printf '{"resourceType":"Parameters","parameter":[{"name":"milestone","valueCode":"travel_arranged"}]}' \
  >milestone.json
call bach-mai POST "/Task/$task3/\$record-milestone" -H 'X-Request-ID: req-milestone' \
  -H 'X-Actor-Role: coordinator' --data @milestone.json
expect 409 "\$record-milestone before acceptance"
has "is not allowed in state 'consent_recorded'" "\$record-milestone before acceptance"
sed 's/travel_arranged/visa/' milestone.json >milestone-bad.json
call bach-mai POST "/Task/$task3/\$record-milestone" -H 'X-Request-ID: req-milestone-bad' \
  -H 'X-Actor-Role: coordinator' --data @milestone-bad.json
expect 400 "\$record-milestone with an unknown milestone"
has "'visa' is not allowed; expected one of: treatment_plan_accepted" "\$record-milestone with an unknown milestone"
events=$((events + 1))
rows=$((rows + 2))
wait_for_events $events || fail "the partner lacks events: $(cut -d' ' -f1 received.txt | sort -un | tail -3)"
jq -e ".\"shonan-kamakura\".event == $events" notifications.json >/dev/null ||
  fail "the cursor is not at event $events: $(cat notifications.json)"
kill -TERM "$pid"
wait "$pid" || fail "the restarted service did not stop cleanly"
cat serve-2.log serve-3.log serve-4.log serve-5.log >>serve.log

# The log: one JSON object per request, no patient data.
requests=$(grep -c '"method"' serve.log || true)
[[ $requests -ge 25 ]] || fail "only $requests request lines in the log"
if grep -q 'P-3f9c1a\|P-L-\|1961-04-02' serve.log; then fail "patient data in the log"; fi
grep '"method"' serve.log | jq -se 'all(.[]; has("time") and has("hospital") and has("method")
  and has("path") and has("status") and has("ms") and has("request_id"))' >/dev/null ||
  fail "a log line is not the documented JSON"
grep '^{' serve.log | jq -se 'any(.[]; .status == 413 and .method == "POST" and .path == "/Task")
  and any(.[]; .status == 431 and .method == "GET" and .path == "/metadata")' >/dev/null ||
  fail "the refusals the server makes itself (413, 431) are not logged with their method and path"

# The database the service wrote: R-1's 8 rows (2 refusals among them), R-2's 3, the refused
# onward R-2b's 1, R-3's 4, the load's 24 x 5 (and the FHIR client's 6), intact; the
# retried request, the stale If-Match, the hostile requests and the forged requester wrote none.
"$kakehashi" audit verify --db referrals.db >verify.txt || fail "audit verify: $(cat verify.txt)"
grep -q "intact ($rows rows, $referrals referrals" verify.txt || fail "audit verify: $(cat verify.txt)"
"$kakehashi" referral show --db referrals.db --id R-1 >show.txt
grep -q "Closed (Completed)" show.txt || fail "R-1 is not completed: $(cat show.txt)"
grep -q "dr-sato" show.txt || fail "the acting person of \$accept is not in the history"

# The checkpoints the partners kept: the log holds every head the host signed, in both hospitals'
# files and in the notifications' (kept by the partner as they arrived); the two agree.
[[ -s shonan-kamakura.witness && -s bach-mai.witness && -s received.txt.checkpoints ]] ||
  fail "no checkpoints were kept"
while read -r checkpoint; do
  "$kakehashi" witness add --file notified.witness --public-key signing.pub \
    --checkpoint "$checkpoint" >/dev/null || fail "a notification's checkpoint does not verify"
done <received.txt.checkpoints
for w in shonan-kamakura bach-mai notified; do
  "$kakehashi" audit verify --db referrals.db --witness "$w.witness" --public-key signing.pub \
    >witness.txt || fail "audit verify --witness $w: $(cat witness.txt)"
  grep -q "witness: the log holds every head the host signed" witness.txt ||
    fail "audit verify --witness $w: $(cat witness.txt)"
done
"$kakehashi" witness compare shonan-kamakura.witness bach-mai.witness --public-key signing.pub \
  >compare.txt || fail "the two hospitals' checkpoints disagree: $(cat compare.txt)"
set +e
"$kakehashi" witness add --file forged.witness --public-key signing.pub \
  --checkpoint "$(head -1 bach-mai.witness | sed 's/"seq":[0-9]*/"seq":999/')" 2>forged.err
code=$?
set -e
[[ $code -eq 2 ]] && grep -q "is not signed by the key" forged.err ||
  fail "an edited checkpoint was kept: exit $code, $(cat forged.err)"

# Every FHIR response, by both independent validators (@medplum/core, and the R4 JSON schema).
[[ ${#validated[@]} -ge 45 ]] || fail "only ${#validated[@]} FHIR answers were kept for the validators"
if [[ -n "$validators" ]]; then
  (cd "$validators" && node validate.mjs --schema "${validated[@]}") >validators.txt 2>&1 ||
    fail "the FHIR validator refused a response: $(cat validators.txt)"
fi

if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed; the service's log:" >&2
  tail -20 serve.log >&2
  exit 1
fi
echo "kakehashi serve: every check passed ($requests requests)"

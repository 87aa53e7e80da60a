#!/usr/bin/env bash
# Referrals run from the command line alone, as an operator's script would: every step of the
# lifecycle and its side exits with `kakehashi referral ...`, each exit code checked (0 done,
# 1 refused by a rule or state, 2 bad input), retries answered from the log, the deadline sweep,
# a keyed log and its checkpoint, and at the end `audit verify` on the database and on a
# read-only copy in a read-only directory, read by a user who cannot write there, after which
# the directory is byte for byte as it was.
#
# Usage: tests/cli_lifecycle.sh KAKEHASHI SOURCE_DIR WORK_DIR   (ctest runs it, label cli)
set -euo pipefail
# The words the tool shows are English here, whatever the machine's locale (--lang is tested
# below).
export LC_ALL=C.UTF-8

kakehashi=$(realpath "$1")
source_dir=$(realpath "$2")
work=$3
rm -rf "$work"
mkdir -p "$work"
cd "$work"

failures=0
with_env=()  # VAR=VALUE...: the environment expect runs the tool with (its locale)
# expect CODE ARGS...: runs kakehashi ARGS, checks its exit code; its output is in out/err.
expect() {
  local want=$1
  shift
  set +e
  env "${with_env[@]}" "$kakehashi" "$@" >out 2>err
  local got=$?
  set -e
  if [[ $got -ne $want ]]; then
    echo "FAIL: kakehashi $* exited $got, expected $want" >&2
    sed 's/^/  out: /' out >&2
    sed 's/^/  err: /' err >&2
    failures=$((failures + 1))
  fi
}
# contains FILE TEXT: the last command's out or err contains TEXT.
contains() {
  if ! grep -qF -- "$2" "$1"; then
    echo "FAIL: $1 of the last command lacks '$2':" >&2
    sed 's/^/  /' "$1" >&2
    failures=$((failures + 1))
  fi
}

# The shipped agreements with a 14-day response deadline (the shipped MoUs state none) and a
# second Japanese partner of Bach Mai (jp-second, as Shonan Kamakura's MoU: an onward referral
# needs another destination), the example policy (both hospitals' transfer paperwork on file),
# the example consent, an audit key.
sed 's/"referral": {/"referral": { "response_deadline_days": 14,/' \
  "$source_dir/data/agreements.json" |
  jq '.hospitals += [.hospitals[] | select(.id == "shonan-kamakura")
                     | .id = "jp-second" | .names = {"en": "Second Partner Hospital"}]
      | .agreements += [.agreements[] | select(.id == "mou-bach-mai-shonan-kamakura-2025")
                        | .id = "mou-bach-mai-jp-second" | .parties = ["bach-mai", "jp-second"]
                        | .referral.directions = [{"from": "bach-mai", "to": "jp-second"}]
                        | .referral.required_documents = ["referral_letter", "imaging"]]' \
    >agreements.json
cp "$source_dir/data/policy.example.json" policy.json
cp "$source_dir/data/consents/bach-mai-2026-complete.json" consent.json
printf 'a-key-the-hospital-keeps-outside-the-database\n' >audit.key
db=(--db referrals.db --agreements agreements.json --policy policy.json --key-file audit.key)
bm=(--by bach-mai --role coordinator)
sk=(--by shonan-kamakura --role clinician)
skc=(--by shonan-kamakura --role coordinator)

# The whole lifecycle of R-1, with a refusal of each kind on the way.
expect 0 referral propose "${db[@]}" "${bm[@]}" --id R-1 --to shonan-kamakura \
  --specialty cardiology --patient P-3f9c1a --at 2026-03-02T09:00:00+07:00 --idempotency-key k-1
contains out "R-1: Proposed (version 1), Bach Mai Hospital → Shonan Kamakura General Hospital (Tokushukai Medical Corporation), Cardiology"
expect 0 referral propose "${db[@]}" "${bm[@]}" --id R-1 --to shonan-kamakura \
  --specialty cardiology --patient P-3f9c1a --at 2026-03-02T09:00:00+07:00 --idempotency-key k-1
contains out "R-1: Proposed (version 1), Bach Mai Hospital → Shonan Kamakura General Hospital (Tokushukai Medical Corporation), Cardiology"  # the retry is answered from the log
expect 1 referral accept "${db[@]}" "${sk[@]}" --id R-1 --at 2026-03-02T12:00:00+09:00 \
  --idempotency-key k-2
contains err "[kakehashi.failed_precondition] referral R-1"
contains err "audited as row #2"
expect 0 referral consent "${db[@]}" "${bm[@]}" --id R-1 --consent consent.json \
  --at 2026-03-02T10:00:00+07:00 --idempotency-key k-3
contains out "R-1: Consent recorded (version 2)"
expect 1 referral accept "${db[@]}" "${skc[@]}" --id R-1 --at 2026-03-03T10:00:00+09:00 \
  --idempotency-key k-4
contains err "[kakehashi.permission_denied]"
expect 0 referral accept "${db[@]}" "${sk[@]}" --id R-1 --at 2026-03-03T10:00:00+09:00 \
  --idempotency-key k-5 --user dr-sato
expect 0 referral milestone "${db[@]}" "${bm[@]}" --id R-1 --milestone travel_arranged \
  --at 2026-03-10T10:00:00+07:00 --idempotency-key k-m1
contains out "R-1: Accepted (version 4)"
# The retry, read in Vietnamese: the same answer from the log, in the reader's words.
expect 0 referral milestone "${db[@]}" "${bm[@]}" --id R-1 --milestone travel_arranged \
  --at 2026-03-10T10:00:00+07:00 --idempotency-key k-m1 --lang vi
contains out "R-1: Bệnh viện tiếp nhận đã chấp nhận (phiên bản 4), Bệnh viện Bạch Mai → Bệnh viện Đa khoa Shonan Kamakura, Tim mạch"
expect 2 referral milestone "${db[@]}" "${bm[@]}" --id R-1 --milestone visa \
  --at 2026-03-10T10:00:00+07:00 --idempotency-key k-m2
contains err "--milestone: 'visa' is not allowed here"
expect 0 referral transfer "${db[@]}" "${skc[@]}" --id R-1 --consent consent.json \
  --at 2026-03-20T10:00:00+09:00 --idempotency-key k-6
# The discharge summary goes home before completion, under the recorded consent.
expect 0 referral return-results "${db[@]}" "${sk[@]}" --id R-1 --consent consent.json \
  --document-id D-R1-SUMMARY --kind discharge_summary --media-type application/pdf \
  --language ja --sha256 "$(printf 'summary' | sha256sum | cut -d' ' -f1)" --size 7 \
  --at 2026-04-19T10:00:00+09:00 --idempotency-key k-r1
contains out "R-1: Transferred (version 6)"
expect 2 referral return-results "${db[@]}" "${sk[@]}" --id R-1 --consent consent.json \
  --document-id D-R1-PLAN --kind follow_up --media-type application/pdf --language ja \
  --sha256 "$(printf 'plan' | sha256sum | cut -d' ' -f1)" --size 4 \
  --at 2026-04-19T11:00:00+09:00 --idempotency-key k-r2
contains err "--kind"
expect 0 referral complete "${db[@]}" "${sk[@]}" --id R-1 --at 2026-04-20T10:00:00+09:00 \
  --idempotency-key k-7 --json
contains out '"close_reason": "completed"'
expect 0 referral show --db referrals.db --id R-1
contains out "  Travel arranged: by bach-mai, "
contains out "results returned to the referring hospital (1):"
contains out "  D-R1-SUMMARY: Discharge summary, application/pdf, 7 bytes, in Japanese, SHA-256 "
contains out "state: Closed (Completed) (version 7)"
# In the reader's language: --lang, or the locale's; states, reasons, kinds, hospitals' names and
# local times with their zones' names, UTC beside.
expect 0 referral show --db referrals.db --id R-1 --agreements agreements.json --lang ja
contains out "R-1: バックマイ病院 → 湘南鎌倉総合病院、循環器科、患者 P-3f9c1a"
contains out "状態: 終了（治療完了）（版 7）"
contains out "  渡航手配の完了: バックマイ病院、"
contains out "  D-R1-SUMMARY: 退院時要約、application/pdf、7 バイト、言語: 日本語、SHA-256 "
contains out "    返送: 2026年4月19日 10:00 日本標準時（2026年4月19日 1:00 UTC）、湘南鎌倉総合病院"
contains out "インドシナ時間"
with_env=(LC_ALL= LC_MESSAGES= LANG=vi_VN.UTF-8)
expect 0 referral show --db referrals.db --id R-1 --agreements agreements.json
contains out "trạng thái: Đã kết thúc (Đã hoàn thành điều trị) (phiên bản 7)"
contains out "Bệnh viện Bạch Mai → Bệnh viện Đa khoa Shonan Kamakura, chuyên khoa Tim mạch"
contains out "gửi trả lúc 10:00 Giờ Chuẩn Nhật Bản 19 thg 4, 2026 (01:00 UTC 19 thg 4, 2026)"
with_env=(LC_ALL=ja_JP.UTF-8)
expect 0 referral show --db referrals.db --id R-1 --lang en
contains out "state: Closed (Completed) (version 7)"
with_env=()
expect 2 referral show --db referrals.db --id R-1 --lang fr
contains err "[kakehashi.invalid_argument] --lang: 'fr' is not a language kakehashi speaks; expected one of: en, vi, ja"

# The side exits: declined, cancelled, consent withdrawn, expired by the sweep. are
# the same patient's (consent.json's): R-4 is proposed once R-2 is closed, as a second open
# referral for the same patient, specialty and destination is refused.
expect 0 referral propose "${db[@]}" "${bm[@]}" --id R-2 --to shonan-kamakura \
  --specialty oncology --patient P-3f9c1a --at 2026-03-10T09:00:00+07:00 --idempotency-key p-R-2
expect 0 referral propose "${db[@]}" "${bm[@]}" --id R-3 --to shonan-kamakura \
  --specialty oncology --patient P-5e21b0 --at 2026-03-10T09:00:00+07:00 --idempotency-key p-R-3
expect 0 referral propose "${db[@]}" "${bm[@]}" --id R-5 --to shonan-kamakura \
  --specialty oncology --patient P-77c0d2 --at 2026-03-10T09:00:00+07:00 --idempotency-key p-R-5
expect 0 referral consent "${db[@]}" "${bm[@]}" --id R-2 --consent consent.json \
  --at 2026-03-10T10:00:00+07:00 --idempotency-key c-R-2
expect 1 referral propose "${db[@]}" "${bm[@]}" --id R-4 --to shonan-kamakura \
  --specialty oncology --patient P-3f9c1a --at 2026-03-10T11:00:00+07:00 --idempotency-key p-R-4
contains err "[kakehashi.already_exists]"
contains err "duplicates open referral R-2"
expect 0 referral decline "${db[@]}" "${sk[@]}" --id R-2 --reason capacity_full \
  --at 2026-03-11T10:00:00+09:00 --idempotency-key k-8
contains out "R-2: Closed (Declined)"
expect 0 referral propose "${db[@]}" "${bm[@]}" --id R-4 --to shonan-kamakura \
  --specialty oncology --patient P-3f9c1a --at 2026-03-11T09:00:00+07:00 --idempotency-key p-R-4b
expect 0 referral consent "${db[@]}" "${bm[@]}" --id R-4 --consent consent.json \
  --at 2026-03-11T09:30:00+07:00 --idempotency-key c-R-4
expect 0 referral cancel "${db[@]}" "${bm[@]}" --id R-3 --reason treated_locally \
  --at 2026-03-11T10:00:00+07:00 --idempotency-key k-9
expect 0 referral withdraw "${db[@]}" "${bm[@]}" --id R-4 --channel written \
  --at 2026-03-11T10:00:00+07:00 --idempotency-key k-10
contains out "R-4: Closed (Consent withdrawn)"
expect 0 referral overdue --db referrals.db --agreements agreements.json \
  --at 2026-03-25T00:00:00Z
contains out "R-5"
contains out "1 overdue referral at Mar 25, 2026, 00:00 UTC; kakehashi sweep expires them"
expect 0 sweep "${db[@]}" --by bach-mai --at 2026-03-25T00:00:00Z
contains out "R-5: Closed (Expired)"
contains out "1 referral expired at Mar 25, 2026, 00:00 UTC"
# R-4's withdrawal (Wednesday 11 March) made Bach Mai's duty to acknowledge it within 2 working
# days (by the end of Friday 13 March in Hanoi) and complete it within 20 days (31 March), with
# the stop notice to Shonan Kamakura (VN-15): the sweep reports it overdue, and closes nothing.
contains out "(VN-15), R-4, patient P-3f9c1a: Bach Mai Hospital; stop notice to Shonan Kamakura General Hospital"
contains out "acknowledge by Mar 14, 2026, 00:00 Indochina Time (Mar 13, 2026, 17:00 UTC)"
contains out "open, overdue"
contains out "1 duty overdue"
expect 0 referral duties --db referrals.db --hospital shonan-kamakura --at 2026-03-25T00:00:00Z --json
duty=$(python3 -c 'import json,sys; d=json.load(open("out")); print(d[0]["id"]) if len(d) == 1 and d[0]["referral"] == "R-4" and d[0]["overdue"] else sys.exit("not one overdue duty of R-4")')
contains out '"complete_by": "2026-03-31T17:00:00Z"'
# Only Bach Mai records its steps; each once; then the duty is done.
expect 1 referral duty "${db[@]}" "${sk[@]}" --id R-4 --duty "$duty" --step acknowledged \
  --at 2026-03-25T10:00:00+09:00 --idempotency-key duty-1
contains err "[kakehashi.permission_denied]"
expect 2 referral duty "${db[@]}" "${bm[@]}" --id R-4 --duty "$duty" --step done \
  --at 2026-03-25T10:00:00+07:00 --idempotency-key duty-2
contains err "--step: 'done' is not allowed here"
expect 0 referral duty "${db[@]}" "${bm[@]}" --id R-4 --duty "$duty" --step acknowledged \
  --at 2026-03-25T10:00:00+07:00 --idempotency-key duty-3
contains out "duty $duty of R-4: acknowledged at"
expect 0 referral duty "${db[@]}" "${bm[@]}" --id R-4 --duty "$duty" --step completed \
  --at 2026-03-26T10:00:00+07:00 --idempotency-key duty-4
expect 0 referral duties --db referrals.db --agreements agreements.json --at 2026-04-01T00:00:00Z
contains out "no duty, none overdue"
expect 0 referral duties --db referrals.db --agreements agreements.json --all --lang vi \
  --at 2026-04-01T00:00:00Z
contains out "đã hoàn thành"
# The patient asks Bach Mai in writing for a summary of the record (VN-24): due in 10 days
# (Sunday 5 April, so Monday 6 April), acknowledged within 2 working days.
expect 0 referral request-summary "${db[@]}" "${bm[@]}" --id R-1 --at 2026-03-26T10:00:00+07:00 \
  --idempotency-key sum-1
contains out "(VN-24), R-1, patient P-3f9c1a: Bach Mai Hospital; the record summary the patient asked for in writing"
contains out "acknowledge by Mar 31, 2026, 00:00 Indochina Time (Mar 30, 2026, 17:00 UTC), complete by Apr 7, 2026, 00:00 Indochina Time (Apr 6, 2026, 17:00 UTC); open"

# Onward referral: the expired R-5 is sent on to the second partner, once; not to the hospital
# that let it expire, and not while a referral is open.
expect 2 referral propose "${db[@]}" "${bm[@]}" --id R-5b --to shonan-kamakura \
  --specialty oncology --patient P-77c0d2 --replaces R-5 --at 2026-03-25T09:00:00+07:00 \
  --idempotency-key p-R-5b
contains err "the destination that let expire referral R-5"
expect 1 referral propose "${db[@]}" "${bm[@]}" --id R-5b --to jp-second \
  --specialty oncology --patient P-3f9c1a --replaces R-1 --at 2026-03-25T09:00:00+07:00 \
  --idempotency-key p-R-5c
contains err "cannot replace referral R-1, which is closed:completed"
expect 0 referral propose "${db[@]}" "${bm[@]}" --id R-5b --to jp-second \
  --specialty oncology --patient P-77c0d2 --replaces R-5 --at 2026-03-25T09:00:00+07:00 \
  --idempotency-key p-R-5d
contains out "R-5b: Proposed (version 1)"
expect 1 referral propose "${db[@]}" "${bm[@]}" --id R-5c --to jp-second \
  --specialty oncology --patient P-77c0d2 --replaces R-5 --at 2026-03-25T10:00:00+07:00 \
  --idempotency-key p-R-5e
contains err "[kakehashi.already_exists]"
contains err "it was sent on as referral R-5b"
expect 0 referral show --db referrals.db --id R-5
contains out "sent on as R-5b"
expect 0 referral show --db referrals.db --id R-5b --json
contains out '"replaces": "R-5"'

# Documents by reference: R-5b's agreement (jp-second's) requires a referral letter and imaging.
# The letter's SHA-256 and size are computed from the file here; its content is stored nowhere.
printf 'the referring physician writes: ...' >letter.pdf
letter_sha=$(sha256sum letter.pdf | cut -d' ' -f1)
attach=(referral attach "${db[@]}" "${bm[@]}" --id R-5b --at 2026-03-25T11:00:00+07:00
  --media-type application/pdf --language vi)
expect 0 "${attach[@]}" --document-id D-1 --kind referral_letter --file letter.pdf \
  --idempotency-key d-1
contains out "R-5b: Proposed (version 2)"
expect 0 "${attach[@]}" --document-id D-1 --kind referral_letter --file letter.pdf \
  --idempotency-key d-1
contains out "R-5b: Proposed (version 2)"  # the retry is answered from the log
expect 1 "${attach[@]}" --document-id D-1 --kind imaging --sha256 "$letter_sha" --size 35 \
  --idempotency-key d-2
contains err "document D-1: is attached already (referral_letter"
expect 2 "${attach[@]}" --document-id D-2 --kind x-ray --file letter.pdf --idempotency-key d-3
contains err "--kind: 'x-ray' is not allowed here"
expect 2 "${attach[@]}" --document-id D-2 --kind imaging --file letter.pdf --sha256 "$letter_sha" \
  --idempotency-key d-4
contains err "give the file (its digest and size are computed) or both --sha256 and --size"
expect 2 "${attach[@]}" --document-id D-2 --kind imaging --file missing.pdf --idempotency-key d-5
contains err "missing.pdf: cannot be opened"
expect 0 referral show --db referrals.db --id R-5b --agreements agreements.json
contains out "  D-1: Referral letter, application/pdf, 35 bytes, in Vietnamese, SHA-256 $letter_sha"
contains out "required documents missing: Imaging (acceptance is refused until they are attached)"
contains out "    attached Mar 25, 2026, 11:00 Indochina Time (Mar 25, 2026, 04:00 UTC) by Bach Mai Hospital"
expect 0 referral show --db referrals.db --id R-5b --agreements agreements.json --json
contains out '"missing_documents": [
    "imaging"
  ]'
contains out "\"sha256\": \"$letter_sha\""

# A refused proposal is in the log and can be looked up.
expect 1 referral propose "${db[@]}" --by cho-ray --role coordinator --id R-6 \
  --to shonan-kamakura --specialty oncology --patient P-6 --at 2026-03-10T09:00:00+07:00 \
  --idempotency-key p-R-6
contains err "[kakehashi.not_eligible]"
contains err "  eligibility: No agreement"
# The same refusal for a reader of Japanese: the first line stays English (logs keep it), the
# explanation follows in Japanese.
expect 1 referral propose "${db[@]}" --by cho-ray --role coordinator --id R-6 \
  --to shonan-kamakura --specialty oncology --patient P-6 --at 2026-03-10T09:00:00+07:00 \
  --idempotency-key p-R-6-ja --lang ja
contains err "[kakehashi.not_eligible] referral R-6"
contains err "（拒否: 協定の対象外）"
contains err "  適格性: 両病院間の協定なし"
contains err "  監査ログの #"
# A consent refusal names its rule and finding in the reader's language: the written request
# Law 91 asks for (VN-09) is missing.
jq '.patient.ref = "P-77c0d2" | .grantors[0].person = "P-77c0d2" |
  .recipients[0].organisation = "jp-second" | del(.written_request)' consent.json \
  >consent-no-request.json
expect 1 referral consent "${db[@]}" "${bm[@]}" --id R-5b --consent consent-no-request.json \
  --at 2026-03-25T12:00:00+07:00 --idempotency-key c-R-5b-vi --lang vi
contains err "[kakehashi.consent_blocked]"
contains err "(bị từ chối: "
contains err "VN-09 (Thiếu yêu cầu bằng văn bản của người bệnh)"
expect 1 referral consent "${db[@]}" "${bm[@]}" --id R-5b --consent consent-no-request.json \
  --at 2026-03-25T12:00:00+07:00 --idempotency-key c-R-5b-en --lang en
contains err "  rules: VN-09: Patient's written request missing"
expect 0 referral show --db referrals.db --id R-6
contains out "never opened: its proposal was refused"

# Bad input: exit 2, and nothing is written.
expect 2 referral propose "${db[@]}" "${bm[@]}" --id R-7 --to shonan-kamakur \
  --specialty oncology --patient P-7 --at 2026-03-10T09:00:00+07:00 --idempotency-key p-R-7
contains err "(did you mean 'shonan-kamakura'?)"
expect 2 referral propose "${db[@]}" "${bm[@]}" --id R-7 --to shonan-kamakura \
  --specialty Oncology --patient P-7 --at 2026-03-10T09:00:00+07:00 --idempotency-key p-R-7
contains err "codes are lower case: 'oncology'"
expect 2 referral decline "${db[@]}" "${sk[@]}" --id R-5 --reason full \
  --at 2026-03-26T10:00:00+09:00 --idempotency-key k-11
expect 2 referral accept "${db[@]}" "${sk[@]}" --id R-5 --at 2026-03-26T10:00:00+09:00 \
  --idempotency-key 'not a key'
expect 2 referral accept --db referrals.db --agreements agreements.json "${sk[@]}" --id R-5 \
  --at 2026-03-26T10:00:00+09:00 --idempotency-key k-12
contains err "is keyed"
expect 2 referral acept "${db[@]}"
contains err "(did you mean 'accept'?)"

# Listing.
expect 0 referral list --db referrals.db --state closed:expired
contains out "R-5  bach-mai → shonan-kamakura  Oncology  Closed (Expired)  Mar 10, 2026, 02:00 UTC"
contains out "1 referral"
expect 0 referral list --db referrals.db --state closed:expired --agreements agreements.json --lang ja
contains out "R-5  バックマイ病院 → 湘南鎌倉総合病院  腫瘍科（がん診療）  終了（回答期限切れ）  2026年3月10日 9:00 インドシナ時間（2026年3月10日 2:00 UTC）"
contains out "紹介 1 件"
expect 0 referral list --db referrals.db --hospital bach-mai --limit 2 --offset 1
contains out "more with --offset 3"
expect 2 referral list --db referrals.db --state expired
contains err "'expired' is a close reason, not a state; use closed:expired"

# An unconscious patient (R-E): Bach Mai records the emergency basis instead of a consent, which
# opens its review (VN-17): within 3 working days (Friday 27, Monday 30, Tuesday 31 March), by a
# second clinician, neither the user who recorded it nor the clinician who decided the basis.
jq '.id = "C-E" | .patient.ref = "P-9e01" | .grantors = []
    | .emergency = {"justification": "unconscious after cardiac arrest", "clinician": "dr-em-1",
                    "at": "2026-03-26T08:30:00+07:00", "consent_impracticable": true}' \
  consent.json >emergency.json
expect 0 referral propose "${db[@]}" "${bm[@]}" --id R-E --to shonan-kamakura \
  --specialty cardiology --patient P-9e01 --at 2026-03-26T08:00:00+07:00 --idempotency-key p-R-E
expect 0 referral consent "${db[@]}" "${bm[@]}" --user io-bm-1 --id R-E --consent emergency.json \
  --at 2026-03-26T09:00:00+07:00 --idempotency-key c-R-E
expect 0 referral duties --db referrals.db --agreements agreements.json --id R-E \
  --at 2026-03-26T12:00:00Z
contains out "(VN-17), R-E, patient P-9e01: Bach Mai Hospital; a second clinician reviews the Record consent taken on an emergency basis; review by Apr 1, 2026, 00:00 Indochina Time (Mar 31, 2026, 17:00 UTC); open"
expect 0 referral duties --db referrals.db --id R-E --json --at 2026-03-26T12:00:00Z
review=$(jq -e -r '.[0] | select(.kind == "emergency_review" and .decided_by == ["io-bm-1", "dr-em-1"]) | .id' out) ||
  { echo "FAIL: no emergency review of R-E: $(cat out)" >&2; failures=$((failures + 1)); }
expect 1 referral review "${db[@]}" --by bach-mai --role clinician --user dr-em-1 --id R-E \
  --duty "$review" --finding justified --at 2026-03-27T10:00:00+07:00 --idempotency-key rev-1
contains err "is reviewed by a second clinician"
expect 2 referral review "${db[@]}" --by bach-mai --role clinician --user dr-bm-2 --id R-E \
  --duty "$review" --finding maybe --at 2026-03-27T10:00:00+07:00 --idempotency-key rev-2
contains err "--finding: 'maybe' is not allowed here"
expect 0 referral review "${db[@]}" --by bach-mai --role clinician --user dr-bm-2 --id R-E \
  --duty "$review" --finding not_justified --at 2026-03-27T10:00:00+07:00 --idempotency-key rev-3
contains out "review $review of R-E recorded at"
contains out ": not justified"
expect 0 referral duties --db referrals.db --agreements agreements.json --id R-E --all --lang ja \
  --at 2026-04-01T00:00:00Z
contains out "dr-bm-2 が審査：緊急時の根拠は正当と認められない"

# The log: 38 rows (10 for R-1, 28 for the others, the refused proposals, the refused consents,
# the refused duty step and review and the refused document; the bad input above wrote none),
# intact, anchored, and a wrong key said
# apart from tampering.
expect 0 audit verify --db referrals.db --key-file audit.key
contains out "audit log: intact (38 rows, 7 referrals"
expect 0 audit verify --db referrals.db --key-file audit.key --json
[[ "$(jq -c '[.intact, .provisions, .provisions_without_record]' out)" == '[true,2,0]' ]] ||
  { echo "FAIL: audit verify --json: the provision records checked: $(cat out)" >&2; failures=$((failures + 1)); }
expect 0 audit verify --db referrals.db --key-file audit.key --lang ja
contains out "監査ログ: 改ざんなし（38 行、紹介 7 件、MAC 検証済み、末尾ハッシュ "
# The provisions each side keeps (JP-07, VN-22): R-1's transfer from Bach Mai and its results
# coming back, each with the consent behind it; a period; JSON; a period ending before it begins.
expect 0 audit provisions --db referrals.db --hospital bach-mai
contains out "row 7, 2026-03-20T01:00:00Z: Transfer of R-1, bach-mai (VN) → shonan-kamakura (JP), on consent C-2026-0001 (artifact 2c26b46b68ff…); diagnosis, imaging, and pathology; no document"
contains out "row 8, 2026-04-19T01:00:00Z: Return results of R-1, shonan-kamakura (JP) → bach-mai (VN)"
contains out "bach-mai: 2 provisions (1 made, 1 received)"
expect 0 audit provisions --db referrals.db --hospital shonan-kamakura --until 2026-04-01T00:00:00Z --lang ja
contains out "shonan-kamakura: 提供記録 1 件（提供 0 件、受領 1 件）"
expect 0 audit provisions --db referrals.db --hospital shonan-kamakura --agreements agreements.json --lang ja
contains out "R-1 の来院（転院）、バックマイ病院（VN）→ 湘南鎌倉総合病院（JP）"
contains out "湘南鎌倉総合病院: 提供記録 2 件（提供 1 件、受領 1 件）"
expect 2 audit provisions --db referrals.db --hospital shonan-kamakra --agreements agreements.json
contains err "did you mean 'shonan-kamakura'"
expect 0 audit provisions --db referrals.db --hospital bach-mai --json
[[ "$(jq -c '[.provisions[] | [.row, .command, .provider.hospital, .consent.id, .consent.controller]]' out)" == \
  '[[7,"transfer","bach-mai","C-2026-0001","bach-mai"],[8,"return_results","shonan-kamakura","C-2026-0001","bach-mai"]]' ]] ||
  { echo "FAIL: audit provisions --json: $(cat out)" >&2; failures=$((failures + 1)); }
expect 2 audit provisions --db referrals.db --hospital bach-mai --from 2026-04-01T00:00:00Z --until 2026-03-01T00:00:00Z
contains err "--until: 2026-03-01T00:00:00Z is not after --from 2026-04-01T00:00:00Z"
expect 0 audit checkpoint --db referrals.db --key-file audit.key --at 2026-04-30T00:00:00Z
cp out checkpoint.json
expect 0 audit verify --db referrals.db --key-file audit.key --checkpoint checkpoint.json
printf 'another-key-of-sixteen-bytes-or-more\n' >wrong.key
expect 2 audit verify --db referrals.db --key-file wrong.key --checkpoint checkpoint.json
contains err "the key does not match the checkpoint's MAC"

# The auditor's evidence copy: read-only files in a read-only directory, read by someone who
# cannot write there (nobody, when this runs as root). Nothing in it may change.
mkdir evidence
cp referrals.db checkpoint.json audit.key agreements.json evidence/
chmod 0444 evidence/*
chmod 0555 evidence
before=$(cd evidence && ls -la --time-style=+%s . && sha256sum ./*)
as_auditor=()
if [[ $(id -u) -eq 0 ]]; then
  as_auditor=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
if "${as_auditor[@]}" touch evidence/probe 2>/dev/null; then
  echo "FAIL: the evidence directory is writable by the auditor: the test would prove nothing" >&2
  failures=$((failures + 1))
fi
auditor() { set +e; "${as_auditor[@]}" "$kakehashi" "$@" >out 2>err; local got=$?; set -e; echo $got; }
[[ $(auditor audit verify --db evidence/referrals.db --key-file evidence/audit.key \
      --checkpoint evidence/checkpoint.json) -eq 0 ]] || { echo "FAIL: read-only verify" >&2; cat err >&2; failures=$((failures + 1)); }
contains out "audit log: intact (38 rows, 7 referrals, matches the checkpoint, MACs checked"
[[ $(auditor referral list --db evidence/referrals.db) -eq 0 ]] || failures=$((failures + 1))
[[ $(auditor referral show --db evidence/referrals.db --id R-1 --json) -eq 0 ]] || failures=$((failures + 1))
[[ $(auditor fhir export --db evidence/referrals.db --id R-1 --agreements evidence/agreements.json) -eq 0 ]] ||
  { echo "FAIL: read-only fhir export" >&2; cat err >&2; failures=$((failures + 1)); }
after=$(cd evidence && ls -la --time-style=+%s . && sha256sum ./*)
if [[ "$before" != "$after" ]]; then
  echo "FAIL: the evidence directory changed:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  failures=$((failures + 1))
fi
chmod 0755 evidence

if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "the lifecycle from the command line: every check passed"

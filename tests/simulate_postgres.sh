#!/usr/bin/env bash
# Issue 17's "done when": the simulator runs a year of referrals on PostgreSQL with the same
# summary (to the audit head's hash) and the same verify result as on SQLite for the same seed;
# the command-line tool reads and verifies the server's log; a second simulation on the same
# database is refused, and so is --overwrite of a server.
# Usage: tests/simulate_postgres.sh SIMULATOR KAKEHASHI_CLI SOURCE_DIR WORK_DIR
# Run under pg_virtualenv (ctest postgres.simulator), which sets PGHOST, PGPORT, PGUSER and
# PGPASSWORD for a throwaway server.
set -euo pipefail
# What the tools print is read in English, whatever the machine's locale.
export LC_ALL=C.UTF-8
simulator=$(realpath "$1")
cli=$(realpath "$2")
source_dir=$(realpath "$3")
work=$4
rm -rf "$work"
mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
run() {
  "$simulator" --agreements "$source_dir/data/agreements.json" \
    --scenario "$source_dir/examples/simulator/scenario.json" --no-report --json --quiet "$@"
}

psql -qAt -c "CREATE SCHEMA sim" >/dev/null
server="postgresql://?options=-csearch_path%3Dsim"
run --db "$work/sim.db" >"$work/sqlite.json" || fail "the simulation on SQLite exited $?"
run --db "$server" >"$work/postgres.json" || fail "the simulation on PostgreSQL exited $?"
[[ $(jq -r .audit.rows "$work/postgres.json") -gt 1000 ]] || fail "too few audit rows"
[[ $(jq -r .audit.intact "$work/postgres.json") == true ]] || fail "not intact on PostgreSQL"
diff "$work/sqlite.json" "$work/postgres.json" >&2 || fail "the summaries differ"

# The tool verifies and reads the server's log as it reads a file.
"$cli" audit verify --db "$server" --json >"$work/verify.json" || fail "audit verify exited $?"
[[ $(jq -r .intact "$work/verify.json") == true ]] || fail "the tool's verify is not intact"
[[ $(jq -r .head "$work/verify.json") == $(jq -r .audit.head_hash "$work/postgres.json") ]] ||
  fail "the tool's head differs from the simulator's"
"$cli" referral list --db "$server" --json >"$work/list.json" || fail "referral list exited $?"
[[ $(jq length "$work/list.json") -eq $(jq -r .referrals "$work/verify.json") ]] ||
  fail "the tool lists another number of referrals"

# A second simulation on the same database, and --overwrite of a server, are refused: exit 2.
set +e
run --db "$server" >/dev/null 2>"$work/again.err"; again=$?
run --db "$server" --overwrite >/dev/null 2>"$work/overwrite.err"; overwrite=$?
set -e
[[ $again -eq 2 ]] || fail "a second simulation on the same database exited $again, not 2"
grep -q "already holds" "$work/again.err" || fail "the refusal does not say why"
[[ $overwrite -eq 2 ]] || fail "--overwrite of a server exited $overwrite, not 2"
echo "simulate_postgres: same summary on both backends ($(jq -r .audit.rows "$work/postgres.json") rows, head $(jq -r .audit.head_hash "$work/postgres.json" | cut -c1-16)...)"

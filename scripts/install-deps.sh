#!/usr/bin/env bash
# Installs the Debian 12 packages kakehashi needs to build, test and simulate.
# Skips what is already installed; runs apt-get as root, through sudo otherwise.
# Usage: scripts/install-deps.sh [--print] [--with PACKAGE...]
#   --print  lists the packages and exits
#   --with   also installs these (scripts/fuzz.sh: clang-14 libclang-rt-14-dev)
set -euo pipefail

packages=(
  build-essential cmake pkg-config  # toolchain: g++ 12, make, cmake 3.25
  libboost-dev                      # Boost.MSM (header-only), private to src/
  libfmt-dev                        # error messages and output formatting
  libhowardhinnant-date-dev         # date and date-tz (IANA time zones)
  tzdata                            # the IANA database date-tz reads
  libsqlite3-dev libsqlitecpp-dev   # the embedded store and its C++ wrapper
  libssl-dev                        # SHA-256 / HMAC for the audit chain
  nlohmann-json3-dev                # JSON formats (agreements, consents, FHIR)
  libcli11-dev                      # the kakehashi command-line tool
  libicu-dev                        # messages, dates and lists in Vietnamese and Japanese (ICU 72)
  libcurl4-openssl-dev              # kakehashi serve: notifications to the partners' endpoints
  catch2                            # unit tests (Catch2 2.13)
  libbenchmark-dev                  # bench/ (Google Benchmark)
  libvalijson-dev                   # tests: the FHIR R4 JSON schema validator (header-only)
  curl openssl jq                   # tests: kakehashi serve's client, certificates, JSON in shell
  libpq-dev                         # the engine on a PostgreSQL server (libpq)
  postgresql-15                     # tests: a throwaway server (pg_virtualenv, postgresql-common)
)

print=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --print) print=true; shift ;;
    --with) shift; packages+=("$@"); break ;;
    *) echo "install-deps: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if $print; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)  # sudo will ask for a password on the terminal
else
  echo "install-deps: cannot install packages: not root and no sudo." >&2
  echo "  Ask an administrator to run, as root:" >&2
  echo "    apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Installs loginguard's build, test and demo dependencies from Debian's archive.
# Idempotent: asks apt only for the packages that are missing, so a second run is a no-op.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libjansson-dev libinih-dev libsqlite3-dev sqlite3
  libmicrohttpd-dev libsodium-dev libjwt-dev
  librdkafka-dev kcat
  libpq-dev postgresql
  haproxy
  libcmocka-dev
  curl wrk python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian starts the packaged haproxy and postgresql services on install; loginguard's
# tests start their own instances on loopback ports, so the system ones are not needed.

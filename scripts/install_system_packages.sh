#!/usr/bin/env bash
# Debian packages the test suite uses, installed only when missing (needs root; CI runs as
# root):
#   chromium        the browser tests (driven by Playwright with executable_path)
#   openssl         `openssl verify`, `openssl ocsp`
#   pebble          ACME CA (+ pebble-challtestsrv) for the ACME provider tests
#   bind9           an RFC 2136 DNS server (dns-01 through TSIG-signed updates)
#   lego dehydrated ACME clients for the ACME server interop tests (certbot comes from PyPI)
#   nginx haproxy   TLS endpoints and deployment targets
#   wrk             HTTP load for the benchmarks
#   redis-server    a Redis for the fault tests (a private server they can stop)
#   pgbouncer       the transaction-pooling test of the scale-out notes
set -euo pipefail
declare -A command_of=(
  [chromium]=chromium [openssl]=openssl [pebble]=pebble [bind9]=named [lego]=lego
  [dehydrated]=dehydrated [nginx]=nginx [haproxy]=haproxy [wrk]=wrk
  [redis-server]=redis-server [pgbouncer]=pgbouncer [bind9-utils]=tsig-keygen
  [bind9-dnsutils]=dig
)
missing=()
for package in "${!command_of[@]}"; do
  command -v "${command_of[$package]}" >/dev/null 2>&1 \
    || [ -x "/usr/sbin/${command_of[$package]}" ] \
    || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]} — install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
apt-get update -qq
# Services installed here must not start on their own: fixtures start them on free ports.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

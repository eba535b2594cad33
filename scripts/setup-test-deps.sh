#!/usr/bin/env bash
# Installs the Debian packages the integration tests need, when they are missing:
# prosody (real XMPP server) and chromium (login page in a real browser).
# As root it installs them; otherwise it says what is missing and the tests that need them skip.
set -euo pipefail
missing=()
command -v prosody >/dev/null 2>&1 || missing+=(prosody)
{ command -v ngircd || [ -x /usr/sbin/ngircd ]; } >/dev/null 2>&1 || missing+=(ngircd)
{ command -v inspircd || [ -x /usr/sbin/inspircd ]; } >/dev/null 2>&1 || missing+=(inspircd)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "setup: missing ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]}); tests that need them will be skipped" >&2
  exit 0
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps the packages' own services from starting: the tests start their own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: installed ${missing[*]}"

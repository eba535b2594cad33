#!/usr/bin/env bash
# Installs the Debian packages the integration tests need, when they are missing:
# prosody (real XMPP server), chromium (login page in a real browser), openssl,
# redis-server and redis-sentinel (cluster mode), ngircd (IRC).
# As root it installs them; otherwise it says what is missing and the tests that need them skip.
# Another apt-get or dpkg holding the lock (unattended-upgrades, a parallel job) is waited
# for, up to 5 minutes, instead of failing at once.
set -euo pipefail
# A command is present when it is on PATH or in the sbin folders (ngircd lives in /usr/sbin,
# which a non-root PATH often lacks).
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
missing=()
# command → Debian package
for pair in prosody:prosody chromium:chromium openssl:openssl redis-server:redis-server redis-sentinel:redis-sentinel ngircd:ngircd inspircd:inspircd tmux:tmux; do
  have "${pair%%:*}" || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "setup: missing ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]}); tests that need them will be skipped" >&2
  exit 0
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
lock=(-o DPkg::Lock::Timeout=300)
apt-get "${lock[@]}" update -qq
# policy-rc.d keeps the packages' own services from starting: the tests start their own.
# (ST2BOT_POLICY_RC_D moves it, for the script's own test.)
policy="${ST2BOT_POLICY_RC_D:-/usr/sbin/policy-rc.d}"
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: installed ${missing[*]}"

#!/usr/bin/env bash
# Installs the Debian packages Fireside's sandboxes and runtimes use, when they are missing.
# Never fails the build: it says what it could not install and what that costs.
# gcc and libc6-dev build the Node.js fork addon (fireside/runtimes/node/fork_addon.py), without
# which Node.js snapshot starts keep an initialised spare instead of forking.
# `--dev` (make test) adds the tools that build aws-lambda-ric's native addon for the tests of
# the official runtime interface clients (tests/test_official_clients.py), and PostgreSQL, which
# the tables conformance suite runs against too (tests/tables; it starts the local cluster), and
# Chromium, which tests/test_browser.py drives headless against the HTTP front doors, and
# Node.js with npm, which installs and runs the AWS CDK for the deploy tests.
set -u
wanted=(bubblewrap slirp4netns runsc qemu-system-x86 busybox-static ruby gcc libc6-dev)
dev_tools=(g++ make cmake autoconf automake libtool postgresql chromium nodejs)
[ "${1:-}" = "--dev" ] && wanted+=("${dev_tools[@]}")
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "fireside: cannot install ${missing[*]} (not root, no sudo)." >&2
    echo "fireside: without bubblewrap, functions run in the 'process' sandbox (no isolation)." >&2
    exit 0
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "fireside: no apt-get here; please install: ${missing[*]}" >&2
  exit 0
fi
echo "fireside: installing ${missing[*]} from Debian..."
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq >/dev/null 2>&1 || true
if ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  echo "fireside: could not install ${missing[*]}; the namespace sandbox needs bubblewrap, gvisor needs runsc," >&2
  echo "fireside: slirp4netns gives functions network egress, ruby runs ruby3.x functions, gcc and libc6-dev" >&2
  echo "fireside: let Node.js snapshot starts fork. Fireside still runs." >&2
  [ "${1:-}" = "--dev" ] && echo "fireside: g++, make, cmake and the autotools build aws-lambda-ric for its tests; postgresql runs the tables suite on PostgreSQL; chromium runs the browser tests." >&2
fi
exit 0

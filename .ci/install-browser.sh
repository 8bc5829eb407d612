#!/usr/bin/env bash
# Installs Debian's Chromium for the Zendesk app sidebar tests (tests/app/test_sidebar.py).
# Idempotent: does nothing when /usr/bin/chromium is already there. Non-interactive and quiet;
# runs as root in CI (uses sudo -n when not root). Never downloads a browser build of its own:
# the tests drive this binary through Playwright's executable_path.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "install-browser: /usr/bin/chromium is missing and this user cannot run apt-get;" \
      "install Debian's chromium package, or the sidebar tests will be skipped" >&2
    exit 1
  fi
fi

echo "install-browser: installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Use-Pty=0 chromium fonts-liberation >/dev/null

if [ ! -x /usr/bin/chromium ]; then
  echo "install-browser: apt-get finished but /usr/bin/chromium is still missing" >&2
  exit 1
fi
